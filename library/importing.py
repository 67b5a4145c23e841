"""Turning tags into library rows: artists, albums, genres, tracks and their credits; denormalised counts; covers.

Shared by every source (local scan, downloads). Identity follows the database constraints: an artist is
(name_key, MusicBrainz id), an album (album artist, name_key, MusicBrainz release id), a track (source, source_id).
A tag without a MusicBrainz id joins the existing row of that name rather than creating a twin.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from django.db import IntegrityError, connection, transaction
from django.db.models import Case, F, Model, Value, When

from library import bulk, storage
from library.models import Album, Artist, ArtistRole, Genre, MetadataStatus, Track, TrackArtist
from library.tags import TrackTags
from library.text import fold, sort_name

# MusicBrainz's own id of the "Various Artists" special artist.
VARIOUS_ARTISTS_MBID = "89ad4ac3-39f7-470e-963a-56509c546377"
_COVER_SUFFIX = {"image/jpeg": "jpg", "image/png": "png", "image/gif": "gif", "image/webp": "webp"}


def _clip(text: str, limit: int) -> str:
    return text[:limit]


# ---------------------------------------------------------------------------------------------------------------
# Artists, albums, genres
# ---------------------------------------------------------------------------------------------------------------
class ResolveCache:
    """Artists, albums and genres already resolved during one import, so an album's tracks cost no lookups.

    Bounded (least recently used out first) so memory stays flat on any library. Rows created inside a
    transaction that is rolled back vanish, so whoever catches such a rollback must call `clear()`.
    """

    def __init__(self, maxsize: int = 20_000) -> None:
        self.maxsize = maxsize
        self._rows: OrderedDict[tuple[Any, ...], Any] = OrderedDict()

    def get(self, key: tuple[Any, ...]) -> Any:
        row = self._rows.get(key)
        if row is not None:
            self._rows.move_to_end(key)
        return row

    def put(self, key: tuple[Any, ...], row: Any) -> None:
        self._rows[key] = row
        self._rows.move_to_end(key)
        while len(self._rows) > self.maxsize:
            self._rows.popitem(last=False)

    def clear(self) -> None:
        self._rows.clear()

    def __contains__(self, key: tuple[Any, ...]) -> bool:
        return key in self._rows


def _artist_identity(name: str) -> tuple[str, str]:
    name = _clip(name.strip() or storage.UNKNOWN_ARTIST, 500)
    return name, fold(name) or fold(storage.UNKNOWN_ARTIST)


def _album_identity(tags: TrackTags) -> tuple[str, str]:
    name = _clip(tags.album.strip() or storage.UNKNOWN_ALBUM, 500)
    return name, fold(name)


def artist_resolve(*, name: str, musicbrainz_id: str = "", cache: ResolveCache | None = None) -> Artist:
    """The artist called `name` (with that MusicBrainz id when given), created on first sight."""
    name, key = _artist_identity(name)
    cache_key = ("artist", key, musicbrainz_id)
    if cache is not None and (cached := cache.get(cache_key)) is not None:
        return cast(Artist, cached)
    artist = _artist_lookup(name=name, key=key, musicbrainz_id=musicbrainz_id)
    if cache is not None:
        cache.put(cache_key, artist)
    return artist


def _artist_lookup(*, name: str, key: str, musicbrainz_id: str) -> Artist:
    if musicbrainz_id:
        found = Artist.objects.filter(name_key=key, musicbrainz_id=musicbrainz_id).first()
        if found is not None:
            return found
        # First tagged sighting of an artist known so far only by name: give that row the id.
        if Artist.objects.filter(name_key=key, musicbrainz_id="").update(musicbrainz_id=musicbrainz_id):
            return Artist.objects.get(name_key=key, musicbrainz_id=musicbrainz_id)
    else:
        found = Artist.objects.filter(name_key=key).order_by("musicbrainz_id", "pk").first()
        if found is not None:
            return found
    return _create_or_get(Artist, {"name_key": key, "musicbrainz_id": musicbrainz_id}, _artist_defaults(name))


def _artist_defaults(name: str) -> dict[str, Any]:
    return {"name": name, "sort_name": sort_name(name)}


_M = TypeVar("_M", Artist, Album)


def _create_or_get(model: type[_M], identity: dict[str, Any], defaults: dict[str, Any]) -> _M:
    """Insert the row the lookup just missed; if a concurrent import inserted it first, take theirs.
    (get_or_create would repeat the SELECT the caller has already run.)"""
    try:
        with transaction.atomic():
            return model.objects.create(**identity, **defaults)
    except IntegrityError:
        return model.objects.get(**identity)


def album_resolve(*, album_artist: Artist, tags: TrackTags, cache: ResolveCache | None = None) -> Album:
    name, key = _album_identity(tags)
    release_id = tags.musicbrainz_release_id
    cache_key = ("album", album_artist.pk, key, release_id)
    album = cast(Album | None, cache.get(cache_key) if cache is not None else None)
    if album is None:
        album = _album_lookup(album_artist=album_artist, name=name, key=key, tags=tags)
        if cache is not None:
            cache.put(cache_key, album)
    if tags.compilation and not album.is_compilation:
        Album.objects.filter(pk=album.pk).update(is_compilation=True)
        album.is_compilation = True
    return album


def _album_lookup(*, album_artist: Artist, name: str, key: str, tags: TrackTags) -> Album:
    release_id = tags.musicbrainz_release_id
    albums = Album.objects.filter(album_artist=album_artist, name_key=key)
    if release_id:
        found = albums.filter(musicbrainz_release_id=release_id).first()
        if found is None and albums.filter(musicbrainz_release_id="").update(musicbrainz_release_id=release_id):
            found = albums.get(musicbrainz_release_id=release_id)
    else:
        found = albums.order_by("musicbrainz_release_id", "pk").first()
    if found is not None:
        return found
    return _create_or_get(
        Album,
        {"album_artist": album_artist, "name_key": key, "musicbrainz_release_id": release_id},
        _album_defaults(name, tags),
    )


def _album_defaults(name: str, tags: TrackTags) -> dict[str, Any]:
    return {
        "name": name,
        "sort_name": sort_name(name),
        "is_compilation": tags.compilation,
        "year": tags.year,
        "original_year": tags.original_year,
        "release_date": tags.date,
        "musicbrainz_release_group_id": tags.musicbrainz_release_group_id,
    }


def genres_resolve(names: Iterable[str], *, cache: ResolveCache | None = None) -> list[Genre]:
    genres: list[Genre] = []
    for name in names:
        key = fold(name)[:255]
        if not key or any(g.name_key == key for g in genres):
            continue
        genre = cast(Genre | None, cache.get(("genre", key)) if cache is not None else None)
        if genre is None:
            genre, _created = Genre.objects.get_or_create(name_key=key, defaults={"name": name[:255]})
            if cache is not None:
                cache.put(("genre", key), genre)
        genres.append(genre)
    return genres


def _cache_warm(batch: Sequence[TrackTags], cache: ResolveCache) -> None:
    """Resolve the artists and albums of a batch that the cache lacks in a few set queries (bulk-creating the
    plainly new ones), so that `_relations` then finds them all cached instead of costing a lookup each.
    Sightings are gathered in the order `_relations` makes them, so the rows come out as they would one by
    one."""
    artists: dict[tuple[str], dict[str, dict[str, Any]]] = {}  # (name_key,) -> {mbid: defaults of 1st sighting}
    for tags in batch:
        album_artist_name, album_artist_mbid = _album_artist(tags)
        _name, album_artist_key = _artist_identity(album_artist_name)
        sightings = [(album_artist_name, album_artist_mbid)]
        for position, name in enumerate(tags.artists):
            if position == 0 and fold(name) == album_artist_key:
                continue  # `_relations` credits the album artist itself
            sightings.append((name, tags.musicbrainz_artist_id if position == 0 else ""))
        for name, mbid in sightings:
            name, key = _artist_identity(name)
            if ("artist", key, mbid) in cache:
                continue
            asked = artists.setdefault((key,), {})
            if mbid not in asked:  # the defaults of its first sighting, computed once
                asked[mbid] = _artist_defaults(name)
    if artists:
        _rows_warm(Artist, "artist", artists, group_fields=("name_key",), id_field="musicbrainz_id", cache=cache)
    albums: dict[tuple[int, str], dict[str, dict[str, Any]]] = {}
    for tags in batch:
        album_artist_name, album_artist_mbid = _album_artist(tags)
        _name, artist_key = _artist_identity(album_artist_name)
        album_artist = cache.get(("artist", artist_key, album_artist_mbid))
        if album_artist is None:
            continue  # changed by a concurrent import meanwhile: left to the one-by-one path
        name, key = _album_identity(tags)
        release_id = tags.musicbrainz_release_id
        if ("album", album_artist.pk, key, release_id) in cache:
            continue
        asked_ids = albums.setdefault((album_artist.pk, key), {})
        if release_id not in asked_ids:  # the defaults of its first sighting, computed once
            asked_ids[release_id] = _album_defaults(name, tags)
    if albums:
        _rows_warm(
            Album,
            "album",
            albums,
            group_fields=("album_artist_id", "name_key"),
            id_field="musicbrainz_release_id",
            cache=cache,
        )


_WARM_CHUNK = 400


def _rows_warm(
    model: type[_M],
    kind: str,
    wanted: dict[tuple[Any, ...], dict[str, dict[str, Any]]],
    *,
    group_fields: tuple[str, ...],
    id_field: str,
    cache: ResolveCache,
) -> None:
    """`wanted` maps each identity group (e.g. an artist's name_key) to the MusicBrainz ids asked for in it
    ("" = none), in the order of their first sighting, with the defaults of that sighting. The rules of
    `_artist_lookup`/`_album_lookup` are applied in memory: an id finds its own row, else gives it to the
    group's row without one, else gets a new row; no id finds the group's row with the smallest (id, pk), else
    gets a new row. The rows of groups that have none yet (nearly all, in a first import) are planned with these
    rules and inserted together; a group with rows writes one statement where a rule changes it."""

    def existing(groups: Collection[tuple[Any, ...]]) -> dict[tuple[Any, ...], list[_M]]:
        found: dict[tuple[Any, ...], list[_M]] = {}
        keys = list(groups)
        for start in range(0, len(keys), _WARM_CHUNK):  # bounded IN lists (SQLite caps bound parameters)
            chunk = set(keys[start : start + _WARM_CHUNK])
            filters = {f"{field}__in": {k[n] for k in chunk} for n, field in enumerate(group_fields)}
            for row in model.objects.filter(**filters).order_by(id_field, "pk"):
                row_group = tuple(getattr(row, field) for field in group_fields)
                if row_group in chunk:
                    found.setdefault(row_group, []).append(row)
        return found

    def identity(group: tuple[Any, ...]) -> dict[str, Any]:
        return dict(zip(group_fields, group, strict=True))

    rows = existing(wanted)
    plans = {group: _GroupPlan.of(asked) for group, asked in wanted.items() if group not in rows}
    if plans:
        new = [
            model(**identity(group), **{id_field: mbid}, **defaults)
            for group, plan in plans.items()
            for mbid, defaults in zip(plan.ids, plan.defaults, strict=True)
        ]
        try:
            with transaction.atomic():
                model.objects.bulk_create(new)  # the new rows come back with their ids: no need to read them
        except IntegrityError:  # a concurrent import inserted some of them first: take theirs
            model.objects.bulk_create(new, ignore_conflicts=True)
            rows.update(existing(plans))
        else:
            for row in new:
                rows.setdefault(tuple(getattr(row, field) for field in group_fields), []).append(row)
    group: tuple[Any, ...]
    for group, asked in wanted.items():
        candidates = rows.get(group, [])  # in the database's (id, pk) order
        if (plan := plans.get(group)) is not None:
            by_id = {getattr(row, id_field): row for row in candidates}
            for mbid in asked:
                if (match := by_id.get(plan.ids[plan.row_of[mbid]])) is not None:
                    cache.put((kind, *group, mbid), match)
            continue
        for mbid, defaults in asked.items():
            match = next((row for row in candidates if getattr(row, id_field) == mbid), None)
            if match is None and not mbid and candidates:
                match = candidates[0]
            if match is None:
                match = _group_row_take(model, identity(group), candidates, mbid, defaults, id_field=id_field)
                if match is None:
                    break  # changed by a concurrent import meanwhile: the rest of the group goes one by one
                if match not in candidates:
                    candidates.append(match)
                # Back in the database's order: ids are "" or lowercase UUIDs, which sort alike everywhere.
                candidates.sort(key=lambda row: (getattr(row, id_field), row.pk))
            cache.put((kind, *group, mbid), match)


@dataclass
class _GroupPlan:
    """The rows a group without any gets from its sightings, by the lookup rules (see `_rows_warm`)."""

    ids: list[str]  # the final id of each row to create, in creation (pk) order
    defaults: list[dict[str, Any]]  # from the sighting that created it
    row_of: dict[str, int]  # asked id -> index of the row it resolves to

    @classmethod
    def of(cls, asked: dict[str, dict[str, Any]]) -> _GroupPlan:
        plan = cls([], [], {})
        for mbid, defaults in asked.items():
            if mbid in plan.ids:
                index = plan.ids.index(mbid)
            elif not mbid and plan.ids:  # no "" row (it would have matched): the smallest id; ids are unique
                index = min(range(len(plan.ids)), key=plan.ids.__getitem__)
            elif mbid and "" in plan.ids:  # the first tagged sighting of a name-only row gives it the id
                index = plan.ids.index("")
                plan.ids[index] = mbid
            else:
                plan.ids.append(mbid)
                plan.defaults.append(defaults)
                index = len(plan.ids) - 1
            plan.row_of[mbid] = index
        return plan


def _group_row_take(
    model: type[_M],
    identity: dict[str, Any],
    candidates: list[_M],
    mbid: str,
    defaults: dict[str, Any],
    *,
    id_field: str,
) -> _M | None:
    """The group's row for `mbid`, made to exist: the first tagged sighting of a row known only by name gives
    it the id; otherwise a new row. None if a concurrent import changed the group under us."""
    blank = next((row for row in candidates if getattr(row, id_field) == ""), None)
    if mbid and blank is not None:
        if not model.objects.filter(**identity, **{id_field: ""}).update(**{id_field: mbid}):
            return None
        setattr(blank, id_field, mbid)
        return blank
    row = _create_or_get(model, {**identity, id_field: mbid}, defaults)
    return row if getattr(row, id_field) == mbid else None


# ---------------------------------------------------------------------------------------------------------------
# Tracks
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Relations:
    album: Album
    credits: list[tuple[Artist, str]]  # (artist, role) in credit order, primary first
    genres: list[Genre]
    display: str


def _album_artist(tags: TrackTags) -> tuple[str, str]:
    """(name, MusicBrainz id) of the album artist a track files under."""
    name = storage.album_artist_name(tags)
    mbid = tags.musicbrainz_album_artist_id
    if name == storage.VARIOUS_ARTISTS and not mbid:
        mbid = VARIOUS_ARTISTS_MBID
    return name, mbid


def _relations(tags: TrackTags, cache: ResolveCache | None) -> _Relations:
    album_artist_name, album_artist_mbid = _album_artist(tags)
    album_artist = artist_resolve(name=album_artist_name, musicbrainz_id=album_artist_mbid, cache=cache)
    album = album_resolve(album_artist=album_artist, tags=tags, cache=cache)
    names = list(tags.artists) or [album_artist.name]
    featured = {fold(n) for n in tags.featured_artists}
    credits: list[tuple[Artist, str]] = []
    seen: set[tuple[int, str]] = set()
    for position, name in enumerate(names):
        if position == 0 and fold(name) == album_artist.name_key:
            artist = album_artist
        else:
            mbid = tags.musicbrainz_artist_id if position == 0 else ""
            artist = artist_resolve(name=name, musicbrainz_id=mbid, cache=cache)
        role = ArtistRole.FEATURED if position > 0 and artist.name_key in featured else ArtistRole.PRIMARY
        if (artist.pk, role) not in seen:
            seen.add((artist.pk, role))
            credits.append((artist, role))
    return _Relations(
        album=album,
        credits=credits,
        genres=genres_resolve(tags.genres, cache=cache),
        display=_clip(tags.artist_display or ", ".join(names), 1000),
    )


def _file_fields(
    tags: TrackTags, rel: _Relations, *, stored_path: str, size_bytes: int, checksum: str, source_mtime_ns: int | None
) -> dict[str, Any]:
    fields = _track_fields(tags)
    fields.update(
        album=rel.album,
        artist=rel.credits[0][0],
        artist_display=rel.display,
        path=stored_path,
        size_bytes=size_bytes,
        checksum=checksum,
        source_mtime_ns=source_mtime_ns,
        source_size=size_bytes,
        is_missing=False,
    )
    return fields


@contextlib.contextmanager
def _atomic_for(cache: ResolveCache | None) -> Iterator[None]:
    """A transaction (or savepoint) after whose rollback the cache is cleared: rows it created are gone."""
    try:
        with transaction.atomic():
            yield
    except BaseException:
        if cache is not None:
            cache.clear()
        raise


def _credit_rows(track: Track, rel: _Relations) -> list[TrackArtist]:
    return [
        TrackArtist(track=track, artist=artist, role=role, position=position)
        for position, (artist, role) in enumerate(rel.credits)
    ]


def track_upsert(
    *,
    source: str,
    source_id: str,
    tags: TrackTags,
    stored_path: str,
    size_bytes: int,
    checksum: str,
    source_mtime_ns: int | None = None,
    source_metadata: dict[str, Any] | None = None,
    cache: ResolveCache | None = None,
) -> tuple[Track, bool]:
    """Create or update the track (source, source_id) from `tags`; returns (track, created).

    `stored_path` is the MEDIA_ROOT-relative path the file was already stored at. Album and artist counts are
    not refreshed here (batch callers refresh once per batch): call `albums_refresh` afterwards.
    """
    with _atomic_for(cache):
        rel = _relations(tags, cache)
        fields = _file_fields(
            tags,
            rel,
            stored_path=stored_path,
            size_bytes=size_bytes,
            checksum=checksum,
            source_mtime_ns=source_mtime_ns,
        )
        track = Track.objects.select_for_update().filter(source=source, source_id=source_id).first()
        created = track is None
        if track is None:
            track = Track(source=source, source_id=source_id, source_metadata=source_metadata or {}, **fields)
            track.save(force_insert=True)
        else:
            for attr, value in fields.items():
                setattr(track, attr, value)
            # New tags replaced what identification wrote: identify the file again.
            track.metadata_status, track.metadata_reason = MetadataStatus.PENDING, ""
            if source_metadata is not None:
                track.source_metadata = source_metadata
            track.save()
            track.artist_credits.all().delete()
        TrackArtist.objects.bulk_create(_credit_rows(track, rel))
        if created:
            if rel.genres:
                track.genres.add(*rel.genres)
        else:
            track.genres.set(rel.genres)
        return track, created


@dataclass(frozen=True)
class CreatedTrack:
    """What a bulk insert tells its caller of each new track (building model instances would cost more than
    the insert)."""

    pk: int
    album: Album


@dataclass(frozen=True)
class NewTrack:
    source_id: str
    tags: TrackTags
    stored_path: str
    size_bytes: int
    checksum: str
    source_mtime_ns: int | None = None


def tracks_create(*, source: str, items: Sequence[NewTrack], cache: ResolveCache | None = None) -> list[CreatedTrack]:
    """Insert many new tracks with a handful of queries (plain inserts for tracks, credits and genres).

    All or nothing: any conflict (e.g. a row for one of the source ids appeared meanwhile) raises and rolls
    the whole call back; callers then fall back to `track_upsert` one by one.
    """
    if not items:
        return []
    with _atomic_for(cache):
        if cache is not None:
            _cache_warm([item.tags for item in items], cache)
        relations = [_relations(item.tags, cache) for item in items]
        rows = []
        for item, rel in zip(items, relations, strict=True):
            fields = _file_fields(
                item.tags,
                rel,
                stored_path=item.stored_path,
                size_bytes=item.size_bytes,
                checksum=item.checksum,
                source_mtime_ns=item.source_mtime_ns,
            )
            del fields["album"], fields["artist"]  # as ids: no model instances on this path
            fields.update(source=source, source_id=item.source_id, album_id=rel.album.pk)
            rows.append({**fields, "artist_id": rel.credits[0][0].pk})
        bulk.insert_rows(Track, rows)
        ids = dict(
            Track.objects.filter(source=source, source_id__in=[item.source_id for item in items]).values_list(
                "source_id", "pk"
            )
        )
        created = [CreatedTrack(ids[item.source_id], rel.album) for item, rel in zip(items, relations, strict=True)]
        bulk.insert_rows(
            TrackArtist,
            [
                {"track_id": track.pk, "artist_id": artist.pk, "role": role, "position": position}
                for track, rel in zip(created, relations, strict=True)
                for position, (artist, role) in enumerate(rel.credits)
            ],
        )
        bulk.insert_rows(
            Track.genres.through,
            [
                {"track_id": track.pk, "genre_id": genre.pk}
                for track, rel in zip(created, relations, strict=True)
                for genre in rel.genres
            ],
        )
        return created


def _track_fields(tags: TrackTags) -> dict[str, Any]:
    return {
        "title": _clip(tags.title or "Untitled", 500),
        "title_key": _clip(fold(tags.title or "Untitled"), 500),
        "sort_title": _clip(sort_name(tags.title or "Untitled"), 500),
        "track_number": tags.track_number,
        "disc_number": tags.disc_number or 1,
        "disc_subtitle": _clip(tags.disc_subtitle, 500),
        "year": tags.year,
        "date": tags.date,
        "duration_ms": max(0, min(tags.duration_ms, 2**31 - 1)),
        "bitrate": tags.bitrate,
        "sample_rate": tags.sample_rate,
        "bit_depth": tags.bit_depth,
        "channels": tags.channels,
        "codec": _clip(tags.codec, 32),
        "suffix": _clip(tags.suffix, 16),
        "content_type": _clip(tags.content_type, 64),
        "has_embedded_cover": tags.has_cover,
        "musicbrainz_recording_id": tags.musicbrainz_recording_id,
        "musicbrainz_track_id": tags.musicbrainz_track_id,
        "musicbrainz_release_id": tags.musicbrainz_release_id,
        "musicbrainz_artist_id": tags.musicbrainz_artist_id,
        "musicbrainz_album_artist_id": tags.musicbrainz_album_artist_id,
        "isrc": tags.isrc,
        "replaygain_track_gain": tags.replaygain_track_gain,
        "replaygain_track_peak": tags.replaygain_track_peak,
        "replaygain_album_gain": tags.replaygain_album_gain,
        "replaygain_album_peak": tags.replaygain_album_peak,
        "bpm": tags.bpm,
        "comment": tags.comment,
        "lyrics": tags.lyrics,
        "synced_lyrics": tags.synced_lyrics,
        "explicit": tags.explicit,
    }


# ---------------------------------------------------------------------------------------------------------------
# Denormalised counts and covers
# ---------------------------------------------------------------------------------------------------------------
# Albums per statement: far below SQLite's limit of bound parameters, even with the ids bound twice.
_REFRESH_CHUNK = 2000


def albums_refresh(album_ids: Iterable[int]) -> None:
    """Recompute the counts, duration, size, discs, year and genres of these albums from their present tracks,
    then their artists' counts: four set-based statements for any number of albums, no rows through Python.

    Plain SQL (the standard subset PostgreSQL and SQLite share): built through the ORM, these correlated
    subqueries cost several times their own run time to compile, and an import refreshes after every batch."""
    ids = sorted(set(album_ids))
    for start in range(0, len(ids), _REFRESH_CHUNK):
        _albums_refresh(ids[start : start + _REFRESH_CHUNK])


def _albums_refresh(ids: list[int]) -> None:
    album, track = _table(Album), _table(Track)
    album_genres, track_genres = _table(Album.genres.through), _table(Track.genres.through)
    marks = ", ".join(["%s"] * len(ids))
    # Only quoted table names from the models' metadata and placeholders are formatted in; values are bound.
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {album} SET (track_count, duration_ms, size_bytes, disc_count, year) = ("  # noqa: S608
            " SELECT COUNT(*), COALESCE(SUM(t.duration_ms), 0), COALESCE(SUM(t.size_bytes), 0),"
            "  CASE WHEN MAX(t.disc_number) > 1 THEN MAX(t.disc_number) ELSE 1 END,"
            # A year of 0 or no year at all keeps the album's own.
            f"  COALESCE(NULLIF(MIN(t.year), 0), {album}.year)"
            f" FROM {track} t WHERE t.album_id = {album}.id AND NOT t.is_missing"
            f") WHERE id IN ({marks})",
            ids,
        )
        # Album genres = the union of its present tracks' genres.
        cursor.execute(f"DELETE FROM {album_genres} WHERE album_id IN ({marks})", ids)  # noqa: S608
        cursor.execute(
            f"INSERT INTO {album_genres} (album_id, genre_id)"  # noqa: S608
            f" SELECT DISTINCT t.album_id, tg.genre_id FROM {track_genres} tg JOIN {track} t ON t.id = tg.track_id"
            f" WHERE t.album_id IN ({marks}) AND NOT t.is_missing",
            ids,
        )
    artists = f"SELECT album_artist_id FROM {album} WHERE id IN ({marks})"  # noqa: S608
    artists += f" UNION SELECT artist_id FROM {track} WHERE album_id IN ({marks})"  # noqa: S608
    _artists_refresh(artists, [*ids, *ids])


def artists_refresh(artist_ids: Iterable[int]) -> None:
    """Recompute these artists' album and track counts."""
    ids = sorted(set(artist_ids))
    for start in range(0, len(ids), _REFRESH_CHUNK):
        chunk = ids[start : start + _REFRESH_CHUNK]
        _artists_refresh(", ".join(["%s"] * len(chunk)), chunk)


def _artists_refresh(which: str, params: list[int]) -> None:
    """`which`: the ids to refresh, as SQL (a list of placeholders or a subquery) over `params`."""
    album, track, artist = _table(Album), _table(Track), _table(Artist)
    # Two correlated counts rather than one join of both: that would multiply albums by tracks, and
    # "Various Artists" alone can have thousands of each.
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {artist} SET"  # noqa: S608
            f" album_count = (SELECT COUNT(*) FROM {album} a WHERE a.album_artist_id = {artist}.id"
            "  AND a.track_count > 0),"
            f" track_count = (SELECT COUNT(*) FROM {track} t WHERE t.artist_id = {artist}.id AND NOT t.is_missing)"
            f" WHERE id IN ({which})",
            params,
        )


def _table(model: type[Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def album_cover_store(*, album: Album, image: bytes, mime: str) -> None:
    """Store `image` as the album's cover unless it already has one (covers are extracted once per album)."""
    album_covers_store([(album, image, mime)])


def album_covers_store(covers: Sequence[tuple[Album, bytes, str]]) -> int:
    """`album_cover_store` for many (album, image, mime) at once, with one grouped sync for all the files;
    returns how many covers were written."""
    todo = [
        (album, image, f"covers/albums/{album.pk}.{_COVER_SUFFIX.get(mime.lower(), 'jpg')}")
        for album, image, mime in covers
        if not (album.cover_path and _stored(album.cover_path))
    ]
    if not todo:
        return 0
    storage.store_many_bytes([(image, relative) for _album, image, relative in todo])
    # One UPDATE for all: each album takes its new path only if its row still has the path it was read with,
    # so if a concurrent scan gave it a cover meanwhile, the first writer wins.
    claims = [
        When(pk=album.pk, cover_path__in={"", album.cover_path}, then=Value(relative)) for album, _, relative in todo
    ]
    albums = Album.objects.filter(pk__in=[album.pk for album, _image, _relative in todo])
    albums.update(cover_path=Case(*claims, default=F("cover_path")))
    now = dict(albums.values_list("pk", "cover_path"))
    for album, _image, relative in todo:
        if now.get(album.pk) == relative:
            album.cover_path = relative
    return len(todo)


def _stored(relative: str) -> bool:
    with contextlib.suppress(storage.UnsafePathError):
        return storage.media_path(relative).is_file()
    return False


def track_delete_file(*, stored_path: str) -> None:
    """Undo a store whose database write failed: no file may stay in MEDIA_ROOT without a Track."""
    with contextlib.suppress(storage.UnsafePathError, OSError):
        storage.delete_file(stored_path)
