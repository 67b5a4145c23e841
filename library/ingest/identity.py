"""Artists, albums and genres of a batch of tracks' tags: one rule set, and a single track is a batch of one.

The rules, applied to each identity group (an artist's name_key; an album's album artist and name_key) in the
order the tracks mention them:
- a MusicBrainz id finds the group's row with that id, else gives itself to the group's row without one (the
  first tagged sighting of a name known so far only by name), else gets a new row;
- no id finds the group's row with the smallest (id, pk), else gets a new row.
The groups' existing rows are read in a few set queries, the rules run in memory over them and over the rows
planned so far, then the planned changes are written: one UPDATE per row that takes an id, one bulk INSERT per
model. A concurrent import that wrote the same group meanwhile makes the write fail; the groups are then read
and resolved again.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from django.db import IntegrityError, transaction

from library import storage
from library.ingest.limits import clipped
from library.models import Album, Artist, ArtistRole, Genre
from library.tags import TrackTags
from library.text import fold, sort_name

# MusicBrainz's own id of the "Various Artists" special artist.
VARIOUS_ARTISTS_MBID = "89ad4ac3-39f7-470e-963a-56509c546377"
# Attempts at writing a batch's new identities before a concurrent import's conflict is left to the caller.
_ATTEMPTS = 3
# Groups per lookup query: bounded IN lists (SQLite caps bound parameters).
_LOOKUP_CHUNK = 400


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


@dataclass(frozen=True)
class Relations:
    """What one track's tags resolve to."""

    album: Album
    credits: list[tuple[Artist, str]]  # (artist, role) in credit order, primary first
    genres: list[Genre]
    display: str


_M = TypeVar("_M", Artist, Album)
Group = tuple[Any, ...]


@dataclass(frozen=True)
class _Kind(Generic[_M]):
    model: type[_M]
    group_fields: tuple[str, ...]
    id_field: str

    def group_of(self, row: _M) -> Group:
        return tuple(getattr(row, name) for name in self.group_fields)

    def cache_key(self, group: Group, mbid: str) -> tuple[Any, ...]:
        return (self.model.__name__, *group, mbid)


_ARTISTS = _Kind(Artist, ("name_key",), "musicbrainz_id")
_ALBUMS = _Kind(Album, ("album_artist_id", "name_key"), "musicbrainz_release_id")


@dataclass
class _Wanted:
    """The (group, id) pairs a batch asks for, in the order of their first sighting, each with the defaults its
    row gets if that sighting creates it."""

    asked: dict[Group, dict[str, dict[str, Any]]] = field(default_factory=dict)

    def has(self, group: Group, mbid: str) -> bool:
        return mbid in self.asked.get(group, ())

    def add(self, group: Group, mbid: str, defaults: dict[str, Any]) -> None:
        self.asked.setdefault(group, {})[mbid] = defaults


def relations_resolve(batch: Sequence[TrackTags], *, cache: ResolveCache) -> list[Relations]:
    """The album, credited artists and genres of each of `batch`'s tags, created on first sight."""
    artists_wanted = _Wanted()
    for tags in batch:
        for name, mbid in _artist_sightings(tags):
            shown, key = _artist_identity(name)
            if not artists_wanted.has((key,), mbid):  # the defaults of the first sighting, made once
                artists_wanted.add((key,), mbid, _artist_defaults(shown))
    artists = _resolve(_ARTISTS, artists_wanted, cache)

    def album_artist_of(tags: TrackTags) -> Artist:
        name, mbid = _album_artist(tags)
        return artists[((_artist_identity(name)[1],), mbid)]

    albums_wanted = _Wanted()
    for tags in batch:
        shown, key = _album_identity(tags.album)
        group = (album_artist_of(tags).pk, key)
        if not albums_wanted.has(group, tags.musicbrainz_release_id):
            albums_wanted.add(group, tags.musicbrainz_release_id, _album_defaults(shown, tags))
    albums = _resolve(_ALBUMS, albums_wanted, cache)
    genres = _genres_resolve((name for tags in batch for name in tags.genres), cache)

    relations = []
    compilations: dict[int, Album] = {}
    for tags in batch:
        album_artist = album_artist_of(tags)
        album = albums[((album_artist.pk, _album_identity(tags.album)[1]), tags.musicbrainz_release_id)]
        if tags.compilation and not album.is_compilation:
            compilations[album.pk] = album
        relations.append(_relations(tags, album_artist, album, artists, genres))
    if compilations:
        Album.objects.filter(pk__in=compilations).update(is_compilation=True)
        for album in compilations.values():
            album.is_compilation = True
    return relations


def _album_artist(tags: TrackTags) -> tuple[str, str]:
    """(name, MusicBrainz id) of the album artist a track files under."""
    name = storage.album_artist_name(tags)
    mbid = tags.musicbrainz_album_artist_id
    if name == storage.VARIOUS_ARTISTS and not mbid:
        mbid = VARIOUS_ARTISTS_MBID
    return name, mbid


def _credited(tags: TrackTags) -> list[tuple[int, str, str]]:
    """(position, name, MusicBrainz id) of the track's artists other than its album artist credited first."""
    album_artist_key = _artist_identity(_album_artist(tags)[0])[1]
    return [
        (position, name, tags.musicbrainz_artist_id if position == 0 else "")
        for position, name in enumerate(tags.artists)
        if not (position == 0 and _artist_identity(name)[1] == album_artist_key)
    ]


def _artist_sightings(tags: TrackTags) -> list[tuple[str, str]]:
    return [_album_artist(tags), *((name, mbid) for _position, name, mbid in _credited(tags))]


def _relations(
    tags: TrackTags,
    album_artist: Artist,
    album: Album,
    artists: dict[tuple[Group, str], Artist],
    genres: dict[str, Genre],
) -> Relations:
    featured = {fold(name) for name in tags.featured_artists}
    by_position = {position: artists[((_artist_identity(name)[1],), mbid)] for position, name, mbid in _credited(tags)}
    names = list(tags.artists) or [album_artist.name]
    credits: list[tuple[Artist, str]] = []
    seen: set[tuple[int, str]] = set()
    for position in range(len(names)):
        artist = by_position.get(position, album_artist)
        role = ArtistRole.FEATURED if position > 0 and artist.name_key in featured else ArtistRole.PRIMARY
        if (artist.pk, role) not in seen:
            seen.add((artist.pk, role))
            credits.append((artist, role))
    track_genres = list(dict.fromkeys(genres[key] for name in tags.genres if (key := _genre_key(name))))
    return Relations(
        album=album,
        credits=credits,
        genres=track_genres,
        display=tags.artist_display or ", ".join(names),
    )


def artist_resolve(*, name: str, musicbrainz_id: str = "") -> Artist:
    """One artist by the same rules (a batch of one sighting), for edits outside an import (enrichment)."""
    shown, key = _artist_identity(name)
    wanted = _Wanted()
    wanted.add((key,), musicbrainz_id, _artist_defaults(shown))
    return _resolve(_ARTISTS, wanted, ResolveCache())[((key,), musicbrainz_id)]


def album_resolve(*, album_artist: Artist, name: str, musicbrainz_release_id: str = "") -> Album:
    """One album of `album_artist` by the same rules (a batch of one sighting)."""
    shown, key = _album_identity(name)
    wanted = _Wanted()
    tags = TrackTags(album=name, musicbrainz_release_id=musicbrainz_release_id)
    wanted.add((album_artist.pk, key), musicbrainz_release_id, _album_defaults(shown, tags))
    return _resolve(_ALBUMS, wanted, ResolveCache())[((album_artist.pk, key), musicbrainz_release_id)]


def genres_resolve(names: Sequence[str]) -> list[Genre]:
    """The genres of these names in their order, created on first sight."""
    found = _genres_resolve(names, ResolveCache())
    return list(dict.fromkeys(found[key] for name in names if (key := _genre_key(name))))


@functools.lru_cache(maxsize=4096)  # an album's tracks name the same few artists again and again
def _artist_identity(name: str) -> tuple[str, str]:
    """(the name as stored, its identity key)."""
    name = clipped(Artist, "name", name.strip() or storage.UNKNOWN_ARTIST)
    return name, fold(name) or fold(storage.UNKNOWN_ARTIST)


@functools.lru_cache(maxsize=4096)
def _album_identity(album: str) -> tuple[str, str]:
    """(the name as stored, its identity key)."""
    name = clipped(Album, "name", album.strip() or storage.UNKNOWN_ALBUM)
    return name, fold(name)


def _artist_defaults(name: str) -> dict[str, Any]:
    return {"name": name, "sort_name": sort_name(name)}


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


def _resolve(kind: _Kind[_M], wanted: _Wanted, cache: ResolveCache) -> dict[tuple[Group, str], _M]:
    """The row of every (group, id) in `wanted`, from the cache or by the rules (see the module docstring)."""
    resolved: dict[tuple[Group, str], _M] = {}
    todo: dict[Group, dict[str, dict[str, Any]]] = {}
    for group, asked in wanted.asked.items():
        for mbid, defaults in asked.items():
            if (row := cache.get(kind.cache_key(group, mbid))) is not None:
                resolved[(group, mbid)] = row
            else:
                todo.setdefault(group, {})[mbid] = defaults
    for attempt in range(1, _ATTEMPTS + 1):
        if not todo:
            break
        try:
            with transaction.atomic():
                picked = _pick_and_write(kind, todo)
        except IntegrityError:  # a concurrent import wrote one of these groups first: read them again
            if attempt == _ATTEMPTS:
                raise
            continue
        for key, row in picked.items():
            resolved[key] = row
            cache.put(kind.cache_key(*key), row)
        break
    return resolved


class _GroupChanged(IntegrityError):
    """A row this batch meant to give an id to was changed by a concurrent import meanwhile."""


def _pick_and_write(kind: _Kind[_M], todo: dict[Group, dict[str, dict[str, Any]]]) -> dict[tuple[Group, str], _M]:
    candidates = _existing(kind, todo)
    picked: dict[tuple[Group, str], _M] = {}
    new: list[_M] = []
    given_ids: dict[int, str] = {}  # pk of an existing row without an id -> the id it takes
    for group, asked in todo.items():
        rows = candidates.setdefault(group, [])
        for mbid, defaults in asked.items():
            row = _pick(kind, rows, mbid)
            if row is None:
                row = kind.model(**dict(zip(kind.group_fields, group, strict=True)), **{kind.id_field: ""})
                for name, value in defaults.items():
                    setattr(row, name, value)
                setattr(row, kind.id_field, mbid)
                rows.append(row)
                new.append(row)
            elif getattr(row, kind.id_field) != mbid and mbid:  # the blank row takes the id
                setattr(row, kind.id_field, mbid)
                if row.pk is not None:
                    given_ids[row.pk] = mbid
            picked[(group, mbid)] = row
    for pk, mbid in given_ids.items():
        if not kind.model.objects.filter(pk=pk, **{kind.id_field: ""}).update(**{kind.id_field: mbid}):
            raise _GroupChanged(f"{kind.model.__name__} {pk} was given an id by another import")
    kind.model.objects.bulk_create(new)  # the new rows come back with their ids
    return picked


def _pick(kind: _Kind[_M], rows: list[_M], mbid: str) -> _M | None:
    """The group's row for `mbid` by the rules, or None when a new row is needed; `rows` in creation order."""
    if mbid:
        exact = next((row for row in rows if getattr(row, kind.id_field) == mbid), None)
        return exact or next((row for row in rows if getattr(row, kind.id_field) == ""), None)
    if not rows:
        return None
    # The smallest (id, pk); rows planned in this batch come after every stored one, in their planned order.
    return min(
        enumerate(rows),
        key=lambda entry: (getattr(entry[1], kind.id_field), entry[1].pk is None, entry[1].pk or 0, entry[0]),
    )[1]


def _existing(kind: _Kind[_M], groups: Iterable[Group]) -> dict[Group, list[_M]]:
    found: dict[Group, list[_M]] = {}
    keys = list(groups)
    for start in range(0, len(keys), _LOOKUP_CHUNK):
        chunk = set(keys[start : start + _LOOKUP_CHUNK])
        filters = {f"{name}__in": {group[n] for group in chunk} for n, name in enumerate(kind.group_fields)}
        for row in kind.model.objects.filter(**filters).order_by("pk"):
            if (group := kind.group_of(row)) in chunk:
                found.setdefault(group, []).append(row)
    return found


def _genre_key(name: str) -> str:
    return clipped(Genre, "name_key", fold(name))


def _genres_resolve(names: Iterable[str], cache: ResolveCache) -> dict[str, Genre]:
    """Genres by name key, created on first sight."""
    wanted: dict[str, str] = {}  # key -> the name of its first sighting
    for name in names:
        if (key := _genre_key(name)) and key not in wanted:
            wanted[key] = name
    genres: dict[str, Genre] = {}
    for key in wanted:
        if (genre := cache.get(("Genre", key))) is not None:
            genres[key] = genre
    missing = [key for key in wanted if key not in genres]
    if missing:
        found = {genre.name_key: genre for genre in Genre.objects.filter(name_key__in=missing)}
        if new := [key for key in missing if key not in found]:
            # A concurrent import may insert some of them first: theirs are taken.
            Genre.objects.bulk_create(
                [Genre(name_key=key, name=clipped(Genre, "name", wanted[key])) for key in new], ignore_conflicts=True
            )
            found.update((genre.name_key, genre) for genre in Genre.objects.filter(name_key__in=new))
        for key, genre in found.items():
            genres[key] = genre
            cache.put(("Genre", key), genre)
    return genres
