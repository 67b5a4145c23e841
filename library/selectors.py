"""Every library read: lookups by id, list querysets for the APIs, text search and per-user annotations."""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar, cast

from django.core.cache import cache
from django.db import connection, connections
from django.db.models import (
    Case,
    CharField,
    Count,
    Exists,
    F,
    FilteredRelation,
    IntegerField,
    Max,
    Min,
    Model,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce, Concat
from django.utils import timezone

from accounts.models import User
from library.models import (
    Album,
    AlbumAnnotation,
    Artist,
    ArtistAnnotation,
    Bookmark,
    Genre,
    InternetRadioStation,
    NowPlaying,
    Play,
    PlayerProfile,
    Playlist,
    PlaylistEntry,
    PlayQueue,
    PlayQueueEntry,
    Share,
    ShareEntry,
    Track,
    TrackAnnotation,
    TrackArtist,
    TrackLyrics,
)
from library.storage import UnsafePathError, media_path
from library.text import fold
from library.transcoding import PlaybackLimits, lowest_limit
from mcma.errors import NotFoundError

_M = TypeVar("_M", bound=Model)
_Item = TypeVar("_Item", bound="Model | _Row")
_random = random.SystemRandom()


# ---------------------------------------------------------------------------------------------------------------
# Per-user annotations (stars, ratings, play counts) as subqueries, so list endpoints stay one query
# ---------------------------------------------------------------------------------------------------------------
def _user_data(qs: QuerySet[_M], *, user: User, annotation: type[Model], item_field: str, outer: str) -> QuerySet[_M]:
    rows = annotation._default_manager.filter(user=user, **{item_field: OuterRef(outer)})
    annotated = qs.annotate(
        starred_at=Subquery(rows.values("starred_at")[:1]),
        rating=Coalesce(Subquery(rows.values("rating")[:1]), Value(0), output_field=IntegerField()),
        play_count=Coalesce(Subquery(rows.values("play_count")[:1]), Value(0), output_field=IntegerField()),
    )
    return cast(QuerySet[_M], annotated)


def tracks_with_user_data(qs: QuerySet[Track], *, user: User) -> QuerySet[Track]:
    """Annotate `starred_at`, `rating` (0 = none) and `play_count` of `user` on each track."""
    return _user_data(qs, user=user, annotation=TrackAnnotation, item_field="track", outer="pk")


def albums_with_user_data(qs: QuerySet[Album], *, user: User) -> QuerySet[Album]:
    return _user_data(qs, user=user, annotation=AlbumAnnotation, item_field="album", outer="pk")


def artists_with_user_data(qs: QuerySet[Artist], *, user: User) -> QuerySet[Artist]:
    return _user_data(qs, user=user, annotation=ArtistAnnotation, item_field="artist", outer="pk")


# ---------------------------------------------------------------------------------------------------------------
# Single objects
# ---------------------------------------------------------------------------------------------------------------
def _get(qs: QuerySet[_M], pk: int, label: str) -> _M:
    obj = qs.filter(pk=pk).first()
    if obj is None:
        raise NotFoundError(f"{label} not found.", details={"id": pk})
    return obj


def track_get(*, track_id: int) -> Track:
    return _get(Track.objects.select_related("album", "artist"), track_id, "Track")


def playback_limits(*, user: User, client: str) -> PlaybackLimits:
    """The admin-set limits for `user` on the player named `client` (its Subsonic `c`; "" for none): the lower
    bitrate cap of the two, and the player's default format. One query, and none without a client name."""
    profile = PlayerProfile.objects.filter(client_name__iexact=client).first() if client else None
    if profile is None:
        return PlaybackLimits(user.max_bitrate)
    return PlaybackLimits(lowest_limit(user.max_bitrate, profile.max_bitrate), profile.default_format)


def track_pk_by_source(*, source: str, source_id: str) -> int | None:
    """The library track that came from `source_id` of `source`, if there is one."""
    return Track.objects.filter(source=source, source_id=source_id).values_list("pk", flat=True).first()


def album_get(*, album_id: int) -> Album:
    return _get(Album.objects.select_related("album_artist"), album_id, "Album")


def artist_get(*, artist_id: int) -> Artist:
    return _get(Artist.objects.all(), artist_id, "Artist")


# ---------------------------------------------------------------------------------------------------------------
# Lists for the REST API (filters and ordering are applied on top by library.api.filters)
# ---------------------------------------------------------------------------------------------------------------
def artists_list(*, user: User) -> QuerySet[Artist]:
    return artists_with_user_data(Artist.objects.all(), user=user)


def albums_list(*, user: User) -> QuerySet[Album]:
    qs = Album.objects.select_related("album_artist").prefetch_related("genres")
    return albums_with_user_data(qs, user=user)


def tracks_list(*, user: User) -> QuerySet[Track]:
    qs = Track.objects.select_related("album", "artist").prefetch_related("genres")
    return tracks_with_user_data(qs, user=user)


class _CountOf(Subquery):
    """`(SELECT COUNT(*) FROM (subquery))`: a per-row count without GROUP BY joins multiplying each other."""

    template = "(SELECT COUNT(*) FROM (%(subquery)s) _counted)"
    output_field = IntegerField()


def genres_list() -> QuerySet[Genre]:
    return Genre.objects.annotate(
        album_count=_CountOf(Album.genres.through.objects.filter(genre=OuterRef("pk")).values("pk")),
        track_count=_CountOf(Track.genres.through.objects.filter(genre=OuterRef("pk")).values("pk")),
    ).order_by("name_key", "pk")


def artist_detail(*, user: User, artist_id: int) -> Artist:
    """An artist with `albums` prefetched (and their genres), for nested detail views in a fixed query count."""
    albums = albums_with_user_data(
        Album.objects.select_related("album_artist").prefetch_related("genres"), user=user
    ).order_by("year", "sort_name", "pk")
    return _get(artists_list(user=user).prefetch_related(Prefetch("albums", queryset=albums)), artist_id, "Artist")


def album_detail(*, user: User, album_id: int) -> Album:
    """An album with its present `tracks` (user data annotated) prefetched in disc/track order."""
    tracks = tracks_list(user=user).order_by("disc_number", "track_number", "title_key", "pk")
    return _get(albums_list(user=user).prefetch_related(Prefetch("tracks", queryset=tracks)), album_id, "Album")


def genre_get(*, genre_id: int) -> Genre:
    return _get(genres_list(), genre_id, "Genre")


def plays_of(*, user: User) -> QuerySet[Play]:
    return Play.objects.filter(user=user).select_related("track__album", "track__artist").order_by("-played_at", "-pk")


# ---------------------------------------------------------------------------------------------------------------
# Text search over the stored folded keys: the same `fold()` on both sides, so SQLite and PostgreSQL agree.
# Artists, albums and tracks are matched through the search index of migration 0006 (`library_<kind>_search`,
# kept in sync by triggers), genres (a short table) directly.
# ---------------------------------------------------------------------------------------------------------------
def search_terms(query: str) -> list[str]:
    """The folded words of a query; every word must occur in the item (AND), in any order."""
    return fold(query).split()


def _match_all(qs: QuerySet[_M], terms: list[str], fields: tuple[str, ...]) -> QuerySet[_M]:
    # `contains` escapes LIKE wildcards, so `%` or `_` in a query match only themselves.
    for term in terms:
        condition = Q()
        for field in fields:
            condition |= Q(**{f"{field}__contains": term})
        qs = qs.filter(condition)
    return qs


# The SQLite trigram tokenizer indexes 3-character windows: shorter words are looked for in the index rows.
_TRIGRAM = 3


def _like_literal(term: str) -> str:
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _indexed_match(qs: QuerySet[_M], terms: list[str]) -> QuerySet[_M]:
    """The items whose index row (their folded name, plus artist and album names) holds every term."""
    if not terms:
        return qs
    table = f"{qs.model._meta.db_table}_search"
    if connections[qs.db].vendor == "sqlite":
        indexed = [term for term in terms if len(term) >= _TRIGRAM]
        clauses = [f"{table} MATCH %s"] if indexed else []
        params = [" AND ".join('"' + term.replace('"', '""') + '"' for term in indexed)] if indexed else []
        for term in terms:
            if len(term) < _TRIGRAM:
                clauses.append("instr(body, %s) > 0")
                params.append(term)
        where = " AND ".join(clauses)
        ids = RawSQL(f"SELECT rowid FROM {table} WHERE {where}", params)  # noqa: S608, S611 - values are params
    else:
        likes = " AND ".join("body LIKE %s" for _ in terms)
        literals = [_like_literal(term) for term in terms]
        ids = RawSQL(f"SELECT item_id FROM {table} WHERE {likes}", literals)  # noqa: S608, S611 - values are params
    return qs.filter(pk__in=ids)


def _ranked(qs: QuerySet[_M], *, query: str, key: str, name: str) -> QuerySet[_M]:
    """Best match first, for players that play the first hit: the whole `key` equal to the query, then starting
    with it, then holding it as whole words, then anything else that matched (a fragment inside a word, or a
    match in another field). Ties: the user's most played, then starred, then by `name`. `qs` carries the user's
    `play_count` and `starred_at` (every list queryset here does)."""
    phrase = fold(query)
    padded = Concat(Value(" "), F(key), Value(" "), output_field=CharField())
    rank = Case(
        When(**{key: phrase}, then=Value(0)),
        When(**{f"{key}__startswith": phrase}, then=Value(1)),
        When(search_padded__contains=f" {phrase} ", then=Value(2)),
        default=Value(3),
    )
    starred = Case(When(starred_at__isnull=False, then=Value(1)), default=Value(0))
    return (
        qs.alias(search_padded=padded)
        .alias(search_rank=rank, search_starred=starred)
        .order_by("search_rank", "-play_count", "-search_starred", name, "pk")
    )


def artists_search(qs: QuerySet[Artist], *, query: str) -> QuerySet[Artist]:
    matched = _indexed_match(qs, search_terms(query))
    return _ranked(matched, query=query, key="name_key", name="sort_name")


def albums_search(qs: QuerySet[Album], *, query: str) -> QuerySet[Album]:
    matched = _indexed_match(qs, search_terms(query))
    return _ranked(matched, query=query, key="name_key", name="sort_name")


def tracks_search(qs: QuerySet[Track], *, query: str) -> QuerySet[Track]:
    matched = _indexed_match(qs, search_terms(query))
    return _ranked(matched, query=query, key="title_key", name="title_key")


def genres_search(qs: QuerySet[Genre], *, query: str) -> QuerySet[Genre]:
    return _match_all(qs, search_terms(query), ("name_key",))


# ---------------------------------------------------------------------------------------------------------------
# Playlists: a user sees their own and everyone's public ones; only the owner may change one (services)
# ---------------------------------------------------------------------------------------------------------------
def playlists_visible(*, user: User) -> QuerySet[Playlist]:
    return (
        Playlist.objects.filter(Q(owner=user) | Q(is_public=True))
        .select_related("owner")
        .annotate(
            entry_count=Count("entries"),
            duration_ms=Coalesce(Sum("entries__track__duration_ms"), Value(0), output_field=IntegerField()),
        )
        .order_by("name", "pk")
    )


def playlist_get(*, user: User, playlist_id: int) -> Playlist:
    """A visible playlist, or NotFoundError (another user's private playlist is indistinguishable from none)."""
    return _get(playlists_visible(user=user), playlist_id, "Playlist")


def playlist_entries(*, playlist: Playlist, user: User) -> QuerySet[PlaylistEntry]:
    qs = PlaylistEntry.objects.filter(playlist=playlist).select_related("track__album", "track__artist")
    return _user_data(qs, user=user, annotation=TrackAnnotation, item_field="track", outer="track_id").order_by(
        "position", "pk"
    )


# ---------------------------------------------------------------------------------------------------------------
# Subsonic reads: album/song lists, the artist index, starred items, search with full-library paging, similar
# and top songs, now playing, bookmarks, play queue, shares, radio. `source` limits results to one music folder
# (a configured source alias); None means the whole library. Missing files are never listed.
# ---------------------------------------------------------------------------------------------------------------
class AlbumListType(StrEnum):
    RANDOM = "random"
    NEWEST = "newest"
    HIGHEST = "highest"
    FREQUENT = "frequent"
    RECENT = "recent"
    ALPHABETICAL_BY_NAME = "alphabeticalByName"
    ALPHABETICAL_BY_ARTIST = "alphabeticalByArtist"
    STARRED = "starred"
    BY_YEAR = "byYear"
    BY_GENRE = "byGenre"


# Queries that mean "everything" for search3: empty, a quoted empty string (Symfonium sends `""`, PureMusic `''`)
# and a lone wildcard.
_EVERYTHING_QUERIES = frozenset({"", '""', "''", "*"})


def _present_tracks() -> QuerySet[Track]:
    return Track.objects.filter(is_missing=False)


def _present_track_keys() -> QuerySet[Track]:
    """`_present_tracks()` written as `is_missing IN (false)`: Django renders `is_missing=False` as `NOT
    is_missing`, which SQLite's planner never serves from `track_present_idx` (PostgreSQL does either way)."""
    return Track.objects.filter(is_missing__in=[False])


def _album_has_source(source: str) -> Exists:
    return Exists(Track.objects.filter(album=OuterRef("pk"), source=source, is_missing=False))


def _artist_has_source(source: str) -> Exists:
    return Exists(Track.objects.filter(album__album_artist=OuterRef("pk"), source=source, is_missing=False))


# Columns of joined rows that no Subsonic element shows: not loading them makes 500-row pages about 30% cheaper
# (most of a page's time is turning rows into model instances).
_ARTIST_UNSHOWN = ("created_at", "updated_at", "name_key", "sort_name", "musicbrainz_id", "image_path", "track_count")
_ALBUM_UNSHOWN = (
    *("created_at", "updated_at", "name_key", "sort_name", "musicbrainz_release_id", "musicbrainz_release_group_id"),
    *("release_date", "original_year", "is_compilation", "track_count", "disc_count", "duration_ms", "size_bytes"),
)


def _unshown(prefix: str, fields: tuple[str, ...]) -> list[str]:
    return [f"{prefix}__{field}" for field in fields]


def _joined_user_data(qs: QuerySet[_M], *, user: User) -> QuerySet[_M]:
    """`starred_at`, `rating` (0 = none) and `play_count` of `user`, like `tracks_with_user_data`, but from one
    LEFT JOIN on the user's annotation row (unique per user and item) instead of three correlated subqueries per
    row: on 500-row pages the subqueries were most of the SQL time."""
    mine = FilteredRelation("annotations", condition=Q(annotations__user=user))
    annotated = qs.annotate(
        mine=mine,
        starred_at=F("mine__starred_at"),
        rating=Coalesce(F("mine__rating"), Value(0), output_field=IntegerField()),
        play_count=Coalesce(F("mine__play_count"), Value(0), output_field=IntegerField()),
    )
    return cast(QuerySet[_M], annotated)


def _albums_base(*, user: User, source: str | None) -> QuerySet[Album]:
    albums = Album.objects.select_related("album_artist").defer(*_unshown("album_artist", _ARTIST_UNSHOWN))
    qs = _joined_user_data(albums, user=user).filter(Exists(_present_tracks().filter(album=OuterRef("pk"))))
    return qs.filter(_album_has_source(source)) if source else qs


def subsonic_tracks(*, user: User, source: str | None = None) -> QuerySet[Track]:
    """Present tracks with everything a Subsonic song element shows but genres (see `with_genre_names`)."""
    # Lyrics and source extras can be large and no list shows them: not loaded (the lyrics views read them).
    qs = _joined_user_data(
        _present_tracks()
        .select_related("album", "artist", "album__album_artist")
        .defer("lyrics", "synced_lyrics", "source_metadata", "checksum")
        .defer(*_unshown("album", _ALBUM_UNSHOWN), *_unshown("artist", _ARTIST_UNSHOWN))
        .defer(*_unshown("album__album_artist", _ARTIST_UNSHOWN)),
        user=user,
    )
    return qs.filter(source=source) if source else qs


class _Row:
    """A `values()` row read through attributes, named like the model's. List pages are built from rows, not
    model instances: instantiating 500 models plus their select_related parents cost several times the query
    itself. The Subsonic builders read the same attribute names from a row or a model instance."""

    pk: int

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__ = values


class ArtistRef(_Row):
    name: str


class AlbumRef(_Row):
    """The album of a song row: only what a song element shows of it."""

    name: str
    year: int | None
    cover_path: str
    album_artist_id: int
    album_artist: ArtistRef


class TrackRow(_Row):
    album_id: int
    artist_id: int
    title: str
    artist_display: str
    track_number: int | None
    disc_number: int | None
    year: int | None
    duration_ms: int
    bitrate: int
    sample_rate: int
    bit_depth: int
    channels: int
    codec: str
    suffix: str
    content_type: str
    path: str
    size_bytes: int
    created_at: datetime
    sort_title: str
    musicbrainz_recording_id: str
    isrc: str
    replaygain_track_gain: float | None
    replaygain_track_peak: float | None
    replaygain_album_gain: float | None
    replaygain_album_peak: float | None
    bpm: int | None
    comment: str
    explicit: bool | None
    starred_at: datetime | None
    rating: int
    play_count: int
    genre_names: list[str]
    album: AlbumRef
    artist: ArtistRef


class AlbumRow(_Row):
    name: str
    album_artist_id: int
    album_artist: ArtistRef
    cover_path: str
    track_count: int
    duration_ms: int
    created_at: datetime | None
    year: int | None
    musicbrainz_release_id: str
    sort_name: str
    is_compilation: bool
    release_date: str
    original_year: int | None
    starred_at: datetime | None
    rating: int
    play_count: int
    genre_names: list[str]


_USER_DATA = ("starred_at", "rating", "play_count")
_TRACK_ROW_FIELDS = (
    *("id", "title", "artist_id", "artist_display", "album_id", "track_number", "disc_number", "year"),
    *("duration_ms", "bitrate", "sample_rate", "bit_depth", "channels", "codec", "suffix", "content_type", "path"),
    *("size_bytes", "created_at", "sort_title", "musicbrainz_recording_id", "isrc", "bpm", "comment", "explicit"),
    *("replaygain_track_gain", "replaygain_track_peak", "replaygain_album_gain", "replaygain_album_peak"),
    *("album__name", "album__year", "album__cover_path", "album__album_artist_id", "album__album_artist__name"),
    *("artist__name", *_USER_DATA),
)
_ALBUM_ROW_FIELDS = (
    *("id", "name", "album_artist_id", "album_artist__name", "cover_path", "track_count", "duration_ms"),
    *("created_at", "year", "musicbrainz_release_id", "sort_name", "is_compilation", "release_date"),
    *("original_year", *_USER_DATA),
)


def track_rows(qs: QuerySet[Track]) -> list[TrackRow]:
    """A (sliced, ordered) `subsonic_tracks` queryset as song rows with genre names: two queries."""
    rows = []
    for values in qs.values(*_TRACK_ROW_FIELDS):
        values["pk"] = values["id"]
        album_artist = ArtistRef({"pk": values["album__album_artist_id"], "name": values["album__album_artist__name"]})
        values["album"] = AlbumRef(
            {
                "pk": values["album_id"],
                "name": values["album__name"],
                "year": values["album__year"],
                "cover_path": values["album__cover_path"],
                "album_artist_id": values["album__album_artist_id"],
                "album_artist": album_artist,
            }
        )
        values["artist"] = ArtistRef({"pk": values["artist_id"], "name": values["artist__name"]})
        rows.append(TrackRow(values))
    return with_genre_names(rows)


def album_rows(qs: QuerySet[Album]) -> list[AlbumRow]:
    """A (sliced, ordered) `_albums_base` queryset as album rows with genre names: two queries."""
    rows = []
    for values in qs.values(*_ALBUM_ROW_FIELDS):
        values["pk"] = values["id"]
        values["album_artist"] = ArtistRef({"pk": values["album_artist_id"], "name": values["album_artist__name"]})
        rows.append(AlbumRow(values))
    return with_genre_names(rows)


_GenreOwner = TypeVar("_GenreOwner", Album, Track, AlbumRow, TrackRow)


def with_genre_names(items: Iterable[_GenreOwner]) -> list[_GenreOwner]:
    """Set `genre_names` (sorted) on each album or track with a single query. For hundreds of rows this is far
    cheaper than prefetch_related, which builds a related manager per object."""
    objects = list(items)
    if not objects:
        return objects
    rows: QuerySet[Any, tuple[int, str]]
    if isinstance(objects[0], Album | AlbumRow):
        rows = Album.genres.through.objects.filter(album_id__in=[o.pk for o in objects]).values_list(
            "album_id", "genre__name"
        )
    else:
        rows = Track.genres.through.objects.filter(track_id__in=[o.pk for o in objects]).values_list(
            "track_id", "genre__name"
        )
    names: dict[int, list[str]] = {}
    for owner_id, name in rows.order_by("genre__name_key"):
        names.setdefault(owner_id, []).append(name)
    for obj in objects:
        obj.genre_names = names.get(obj.pk, [])  # type: ignore[attr-defined]
    return objects


def subsonic_artists(*, user: User, source: str | None = None, album_artists_only: bool = True) -> QuerySet[Artist]:
    qs = _joined_user_data(Artist.objects.all(), user=user)
    if album_artists_only:
        qs = qs.filter(Exists(Album.objects.filter(album_artist=OuterRef("pk"))))
    return qs.filter(_artist_has_source(source)) if source else qs


def album_list(
    *,
    user: User,
    list_type: AlbumListType,
    size: int,
    offset: int = 0,
    from_year: int | None = None,
    to_year: int | None = None,
    genre: str = "",
    source: str | None = None,
) -> list[AlbumRow]:
    """One page of albums in the order Subsonic's getAlbumList types define. `byYear` with `from_year > to_year`
    lists newest first (DSub sends reversed ranges on purpose); user-specific lists only hold touched albums."""
    qs = _albums_base(user=user, source=source)
    mine = AlbumAnnotation.objects.filter(user=user)
    order: tuple[str, ...]
    if list_type is AlbumListType.RANDOM:
        order = ("?",)
    elif list_type is AlbumListType.NEWEST:
        order = ("-created_at", "-pk")
    elif list_type is AlbumListType.HIGHEST:
        qs = qs.filter(pk__in=mine.filter(rating__gt=0).values("album_id"))
        order = ("-rating", "sort_name", "pk")
    elif list_type is AlbumListType.FREQUENT:
        qs = qs.filter(pk__in=mine.filter(play_count__gt=0).values("album_id"))
        order = ("-play_count", "sort_name", "pk")
    elif list_type is AlbumListType.RECENT:
        qs = qs.filter(pk__in=mine.filter(last_played_at__isnull=False).values("album_id")).annotate(
            last_played_at=Subquery(mine.filter(album=OuterRef("pk")).values("last_played_at")[:1])
        )
        order = ("-last_played_at", "pk")
    elif list_type is AlbumListType.ALPHABETICAL_BY_NAME:
        order = ("sort_name", "pk")
    elif list_type is AlbumListType.ALPHABETICAL_BY_ARTIST:
        order = ("album_artist__sort_name", "year", "sort_name", "pk")
    elif list_type is AlbumListType.STARRED:
        qs = qs.filter(pk__in=mine.filter(starred_at__isnull=False).values("album_id"))
        order = ("-starred_at", "pk")
    elif list_type is AlbumListType.BY_YEAR:
        low, high = from_year or 0, to_year if to_year is not None else 9999
        descending = low > high
        low, high = min(low, high), max(low, high)
        qs = qs.filter(year__gte=low, year__lte=high)
        order = ("-year", "sort_name", "pk") if descending else ("year", "sort_name", "pk")
    else:
        qs = qs.filter(genres__name_key=fold(genre))
        order = ("sort_name", "pk")
    return album_rows(qs.order_by(*order)[offset : offset + size])


# Random picks probe random primary keys instead of `ORDER BY RANDOM()`, which reads and sorts the whole table
# on every call. Each round draws this many times the shortfall; a sparse match (a rare genre, a
# narrow year range) falls back to sampling the matching ids after a few rounds.
_PROBE_FACTOR = 4
_PROBE_ROUNDS = 3


def _random_pks(qs: QuerySet[_M], size: int) -> list[int]:
    """Up to `size` distinct primary keys of `qs`, uniformly at random, in random order."""
    # Two aggregates: each is one index seek, while MIN and MAX in one query read the whole table (SQLite).
    low = qs.model._default_manager.aggregate(low=Min("pk"))["low"]
    high = qs.model._default_manager.aggregate(high=Max("pk"))["high"]
    if low is None or high is None or size <= 0:
        return []
    span = range(low, high + 1)
    picked: set[int] = set()
    for _ in range(_PROBE_ROUNDS):
        draw = min(len(span), (size - len(picked)) * _PROBE_FACTOR)
        candidates = _random.sample(span, draw)
        picked.update(qs.filter(pk__in=candidates).values_list("pk", flat=True))
        if len(picked) >= size or draw == len(span):
            break
    else:
        picked = set(qs.values_list("pk", flat=True))
    chosen = _random.sample(sorted(picked), min(size, len(picked)))
    return chosen


def _in_order(items: list[_Item], pks: list[int]) -> list[_Item]:
    position = {pk: index for index, pk in enumerate(pks)}
    return sorted(items, key=lambda item: position[item.pk])


def tracks_random(
    *,
    user: User,
    size: int,
    genre: str = "",
    from_year: int | None = None,
    to_year: int | None = None,
    source: str | None = None,
) -> list[TrackRow]:
    qs = subsonic_tracks(user=user, source=source)
    if genre:
        qs = qs.filter(genres__name_key=fold(genre))
    if from_year is not None:
        qs = qs.filter(year__gte=from_year)
    if to_year is not None:
        qs = qs.filter(year__lte=to_year)
    pks = _random_pks(qs, size)
    return _in_order(track_rows(qs.filter(pk__in=pks)), pks)


def tracks_by_genre(
    *, user: User, genre: str, count: int, offset: int = 0, source: str | None = None
) -> list[TrackRow]:
    qs = subsonic_tracks(user=user, source=source).filter(genres__name_key=fold(genre))
    return track_rows(
        qs.order_by("album__sort_name", "album_id", "disc_number", "track_number", "pk")[offset : offset + count]
    )


@dataclass(frozen=True)
class Starred:
    artists: list[Artist]
    albums: list[AlbumRow]
    tracks: list[TrackRow]


_STARRED_DESC = F("starred_at").desc()


def starred_items(*, user: User, source: str | None = None) -> Starred:
    """What `user` starred, most recently starred first."""
    artist_ids = ArtistAnnotation.objects.filter(user=user, starred_at__isnull=False).values("artist_id")
    album_ids = AlbumAnnotation.objects.filter(user=user, starred_at__isnull=False).values("album_id")
    track_ids = TrackAnnotation.objects.filter(user=user, starred_at__isnull=False).values("track_id")
    return Starred(
        artists=list(
            subsonic_artists(user=user, source=source, album_artists_only=False)
            .filter(pk__in=artist_ids)
            .order_by(_STARRED_DESC, "pk")
        ),
        albums=album_rows(
            _albums_base(user=user, source=source).filter(pk__in=album_ids).order_by(_STARRED_DESC, "pk")
        ),
        tracks=track_rows(
            subsonic_tracks(user=user, source=source).filter(pk__in=track_ids).order_by(_STARRED_DESC, "pk")
        ),
    )


@dataclass(frozen=True)
class LibraryChange:
    """When artists, albums or tracks last changed (ms since the epoch) and a token naming that state, kept by
    the triggers of migration 0007: getIndexes' `lastModified` and the key of caches of library-wide answers."""

    token: str
    changed_ms: int


# PostgreSQL bumps the row at commit (see migration 0007): a transaction's own pending notes count as changes.
_CHANGE_SQL = {
    "sqlite": "SELECT token, changed_ms FROM library_change WHERE id = 1",
    "postgresql": "SELECT c.token || ':' || coalesce(max(p.id), 0), greatest(c.changed_ms, max(p.changed_ms)) "
    "FROM library_change c LEFT JOIN library_change_pending p ON true WHERE c.id = 1 GROUP BY c.token, c.changed_ms",
}


def library_change() -> LibraryChange:
    with connection.cursor() as cursor:
        cursor.execute(_CHANGE_SQL[connection.vendor])
        row = cursor.fetchone()
    return LibraryChange(token=row[0], changed_ms=int(row[1])) if row else LibraryChange(token="", changed_ms=0)


class ArtistIndexRow(_Row):
    """An artist of the Subsonic artist index, without user data (shared by every user)."""

    name: str
    sort_name: str
    album_count: int
    musicbrainz_id: str


def artist_index(*, source: str | None = None) -> list[ArtistIndexRow]:
    """The artists of getIndexes/getArtists (album artists; of one music folder if `source`), by sort name."""
    qs = Artist.objects.filter(Exists(Album.objects.filter(album_artist=OuterRef("pk"))))
    if source:
        qs = qs.filter(_artist_has_source(source))
    rows = qs.order_by("sort_name", "pk").values("name", "sort_name", "album_count", "musicbrainz_id", pk=F("id"))
    return [ArtistIndexRow(dict(values)) for values in rows]


def artist_user_data(*, user: User) -> dict[int, tuple[datetime | None, int]]:
    """(starred_at, rating) of every artist `user` starred or rated: the user's part of the artist index."""
    rows = ArtistAnnotation.objects.filter(Q(starred_at__isnull=False) | Q(rating__gt=0), user=user)
    return {
        artist_id: (starred, rating)
        for artist_id, starred, rating in rows.values_list("artist_id", "starred_at", "rating")
    }


@dataclass(frozen=True)
class SearchResult:
    artists: list[Artist]
    albums: list[AlbumRow]
    tracks: list[TrackRow]


def search_query_text(query: str) -> str:
    """What a search2/search3 query asks for: the words without a trailing `*`; "" for the whole library."""
    text = query.strip()
    text = text[:-1].strip() if text.endswith("*") and text != "*" else text
    return "" if text in _EVERYTHING_QUERIES else text


def library_search(
    *,
    user: User,
    query: str,
    artist_count: int,
    artist_offset: int,
    album_count: int,
    album_offset: int,
    song_count: int,
    song_offset: int,
    source: str | None = None,
) -> SearchResult:
    """search2/search3. Accent- and case-insensitive word match, best match first (`_ranked`); an empty query
    (also `""`, `''` or `*`) pages through the whole library by primary key, the stable order offline-sync
    clients rely on. A count of 0 skips that kind. Query count is fixed: two queries (+ one for genres) per
    kind asked for."""
    text = search_query_text(query)
    artists = subsonic_artists(user=user, source=source, album_artists_only=False)
    albums = _albums_base(user=user, source=source)
    tracks = subsonic_tracks(user=user, source=source)
    if text:
        ordered_artists, ordered_albums = artists_search(artists, query=text), albums_search(albums, query=text)
        ordered_tracks = tracks_search(tracks, query=text)
    else:
        # Keys only from the track table (and its present-track index), not the joins a song element needs.
        present = _present_track_keys().filter(source=source) if source else _present_track_keys()
        ordered_artists, ordered_albums = artists.order_by("pk"), albums.order_by("pk")
        ordered_tracks = present.order_by("pk")
    artist_pks = _page_pks(ordered_artists, artist_offset, artist_count)
    album_pks = _page_pks(ordered_albums, album_offset, album_count)
    track_pks = _page_pks(ordered_tracks, song_offset, song_count)
    return SearchResult(
        artists=_in_order(list(artists.filter(pk__in=artist_pks)), artist_pks) if artist_pks else [],
        albums=_in_order(album_rows(albums.filter(pk__in=album_pks)), album_pks) if album_pks else [],
        tracks=_in_order(track_rows(tracks.filter(pk__in=track_pks)), track_pks) if track_pks else [],
    )


def _page_pks(ordered: QuerySet[_M], offset: int, count: int) -> list[int]:
    """One page's primary keys. Ranking and deep offsets (a full sync pages to 100k) walk many rows: walking
    them as bare keys, then loading only the page's rows, keeps a page from costing the rows it skips."""
    return list(ordered.values_list("pk", flat=True)[offset : offset + count]) if count > 0 else []


def _genre_ids_of(tracks: QuerySet[Track]) -> list[int]:
    return list(Genre.objects.filter(tracks__in=tracks).values_list("pk", flat=True).distinct()[:50])


def tracks_similar(*, user: User, seed: Track | Album | Artist, count: int) -> list[Track]:
    """Songs like the seed from local data only: other songs of the same artist or sharing a genre, shuffled.
    The seed's own songs are left out, except for an artist seed (whose songs are the most similar we know)."""
    if isinstance(seed, Track):
        seed_tracks = Track.objects.filter(pk=seed.pk)
        artist_ids = [seed.artist_id]
    elif isinstance(seed, Album):
        seed_tracks = Track.objects.filter(album=seed)
        artist_ids = [seed.album_artist_id]
    else:
        seed_tracks = Track.objects.filter(Q(artist=seed) | Q(album__album_artist=seed))
        artist_ids = [seed.pk]
    genre_ids = _genre_ids_of(seed_tracks)
    by_genre = Track.genres.through.objects.filter(genre_id__in=genre_ids).values("track_id")
    qs = subsonic_tracks(user=user).filter(Q(artist_id__in=artist_ids) | Q(pk__in=by_genre))
    if not isinstance(seed, Artist):
        qs = qs.exclude(pk__in=seed_tracks.values("pk"))
    return with_genre_names(qs.order_by("?")[:count])


def artists_similar(*, artist: Artist, count: int) -> list[Artist]:
    """Album artists sharing the most genres with `artist` (local data; no external service)."""
    genre_ids = _genre_ids_of(Track.objects.filter(Q(artist=artist) | Q(album__album_artist=artist)))
    if not genre_ids or count <= 0:
        return []
    return list(
        Artist.objects.filter(Exists(Album.objects.filter(album_artist=OuterRef("pk"))))
        .exclude(pk=artist.pk)
        .filter(albums__genres__in=genre_ids)
        .annotate(shared=Count("albums__genres", distinct=True))
        .order_by("-shared", "sort_name", "pk")[:count]
    )


def tracks_top(*, user: User, artist: Artist, count: int) -> list[Track]:
    """An artist's most played songs (all users' plays), then album order: local data for getTopSongs."""
    plays = Play.objects.filter(track=OuterRef("pk")).values("pk")
    return with_genre_names(
        subsonic_tracks(user=user)
        .filter(Q(artist=artist) | Q(pk__in=TrackArtist.objects.filter(artist=artist).values("track_id")))
        .annotate(total_plays=_CountOf(plays))
        .order_by("-total_plays", "album__year", "album__sort_name", "disc_number", "track_number", "pk")[:count]
    )


def artist_by_name(*, name: str) -> Artist | None:
    """The artist called `name` (folded), preferring one without a MusicBrainz id clash: the first by pk."""
    return Artist.objects.filter(name_key=fold(name)).order_by("pk").first()


def track_lyrics_find(*, artist: str, title: str) -> Track | None:
    """A present track by artist and title (folded) that carries lyrics, for the legacy getLyrics."""
    documented = TrackLyrics.objects.exclude(text="").values("track_id")
    with_lyrics = ~Q(lyrics="") | ~Q(synced_lyrics="") | Q(pk__in=documented)
    qs = _present_tracks().filter(with_lyrics).select_related("artist")
    if title:
        qs = qs.filter(title_key=fold(title))
    if artist:
        qs = qs.filter(Q(artist__name_key=fold(artist)) | Q(artist_display__iexact=artist))
    return qs.order_by("pk").first() if (artist or title) else None


# How long a "now playing" report stays visible after the song should have ended.
NOW_PLAYING_GRACE = timedelta(minutes=5)


def now_playing_list(*, user: User) -> list[NowPlaying]:
    """Reports whose song could still be playing; `track` is annotated with `user`'s data."""
    now = timezone.now()
    longest = timedelta(hours=3)
    rows = list(
        NowPlaying.objects.filter(started_at__gte=now - longest, track__is_missing=False)
        .select_related("user")
        .prefetch_related(Prefetch("track", queryset=subsonic_tracks(user=user)))
        .order_by("-started_at", "pk")
    )
    with_genre_names(row.track for row in rows)
    # A paused or reporting player stays listed past the song's nominal end, until its last report goes stale.
    return [
        row
        for row in rows
        if max(row.started_at + timedelta(milliseconds=row.track.duration_ms), row.reported_at or row.started_at)
        + NOW_PLAYING_GRACE
        >= now
    ]


def bookmarks_of(*, user: User) -> list[Bookmark]:
    bookmarks = list(
        Bookmark.objects.filter(user=user, track__is_missing=False)
        .select_related("user")
        .prefetch_related(Prefetch("track", queryset=subsonic_tracks(user=user)))
        .order_by("-updated_at", "pk")
    )
    with_genre_names(bookmark.track for bookmark in bookmarks)
    return bookmarks


def play_queue_of(*, user: User) -> tuple[PlayQueue | None, list[Track]]:
    """The saved queue and its tracks in order (duplicates kept); (None, []) when nothing was saved."""
    queue = PlayQueue.objects.filter(user=user).first()
    if queue is None:
        return None, []
    entries = (
        PlayQueueEntry.objects.filter(queue=queue, track__is_missing=False)
        .prefetch_related(Prefetch("track", queryset=subsonic_tracks(user=user)))
        .order_by("position")
    )
    return queue, with_genre_names(entry.track for entry in entries)


def shares_of(*, user: User, share_id: int | None = None) -> list[Share]:
    """`user`'s shares (or just one of them) with their present tracks prefetched as `entries`."""
    qs = Share.objects.filter(owner=user) if share_id is None else Share.objects.filter(owner=user, pk=share_id)
    shares = list(
        qs.select_related("owner")
        .prefetch_related(
            Prefetch(
                "entries",
                queryset=ShareEntry.objects.filter(track__is_missing=False)
                .prefetch_related(Prefetch("track", queryset=subsonic_tracks(user=user)))
                .order_by("position"),
            )
        )
        .order_by("-created_at", "pk")
    )
    with_genre_names(entry.track for share in shares for entry in share.entries.all())
    return shares


def share_get(*, user: User, share_id: int) -> Share:
    """One of `user`'s shares (another user's is indistinguishable from none)."""
    return _get(Share.objects.filter(owner=user).select_related("owner"), share_id, "Share")


def share_by_token(*, token: str) -> Share | None:
    """A live (unexpired) share for the public link."""
    share = Share.objects.filter(token=token).select_related("owner").first()
    if share is None or (share.expires_at is not None and share.expires_at <= timezone.now()):
        return None
    return share


def share_tracks(*, share: Share) -> list[Track]:
    entries = ShareEntry.objects.filter(share=share, track__is_missing=False).select_related(
        "track__album", "track__artist"
    )
    return [entry.track for entry in entries.order_by("position")]


def radio_stations_list() -> QuerySet[InternetRadioStation]:
    return InternetRadioStation.objects.order_by("name", "pk")


def radio_station_get(*, station_id: int) -> InternetRadioStation:
    return _get(InternetRadioStation.objects.all(), station_id, "Internet radio station")


# ---------------------------------------------------------------------------------------------------------------
# Files in managed storage
# ---------------------------------------------------------------------------------------------------------------
def media_file(*, relative: str) -> Path:
    """The absolute path of a stored file; a missing or out-of-library path is NotFoundError, never a 400/500."""
    if not relative:
        raise NotFoundError("No file is stored for this item.")
    try:
        path = media_path(relative)
    except UnsafePathError as exc:
        raise NotFoundError("No file is stored for this item.") from exc
    if not path.is_file():
        raise NotFoundError("The file is missing from storage.")
    return path


def subsonic_track_get(*, user: User, track_id: int) -> Track:
    """A present track with the user's data and genres (getSong, stream, scrobble)."""
    return with_genre_names([_get(subsonic_tracks(user=user), track_id, "Track")])[0]


def album_with_tracks(*, user: User, album_id: int) -> tuple[Album, list[TrackRow]]:
    """An album (user data, genres) and its present tracks in disc/track order: four queries in all."""
    album = with_genre_names([_get(_albums_base(user=user, source=None), album_id, "Album")])[0]
    tracks = subsonic_tracks(user=user).filter(album=album)
    return album, track_rows(tracks.order_by("disc_number", "track_number", "title_key", "pk"))


def artist_with_albums(*, user: User, artist_id: int) -> tuple[Artist, list[AlbumRow]]:
    """An artist (user data) and the albums they are album artist of, oldest first."""
    artist = _get(artists_with_user_data(Artist.objects.all(), user=user), artist_id, "Artist")
    albums = _albums_base(user=user, source=None).filter(album_artist=artist)
    return artist, album_rows(albums.order_by("year", "sort_name", "pk"))


def playlist_tracks(*, user: User, playlist: Playlist) -> list[Track]:
    """The playlist's present tracks in order, duplicates kept, with `user`'s data on each."""
    entries = (
        PlaylistEntry.objects.filter(playlist=playlist, track__is_missing=False)
        .prefetch_related(Prefetch("track", queryset=subsonic_tracks(user=user)))
        .order_by("position", "pk")
    )
    return with_genre_names(entry.track for entry in entries)


def cover_relative_path(*, kind: str, item_id: int, user: User) -> str:
    """The stored cover (relative to MEDIA_ROOT) for an album, artist, track or playlist id; "" when the item has
    no art (the caller serves a placeholder).

    Artists without an image and playlists borrow the cover of one of their albums, as players expect a picture
    for every id they were given. NotFoundError when there is no such item (or the playlist is not visible)."""
    found: str | None = None
    if kind == "album":
        found = Album.objects.filter(pk=item_id).values_list("cover_path", flat=True).first()
    elif kind == "track":
        found = Track.objects.filter(pk=item_id).values_list("album__cover_path", flat=True).first()
    elif kind == "artist":
        image = Artist.objects.filter(pk=item_id).values_list("image_path", flat=True).first()
        if image is not None:  # the artist exists
            found = image or (
                Album.objects.filter(album_artist_id=item_id)
                .exclude(cover_path="")
                .order_by("year", "sort_name", "pk")
                .values_list("cover_path", flat=True)
                .first()
                or ""
            )
    elif kind == "playlist":
        playlist = playlists_visible(user=user).filter(pk=item_id).first()
        if playlist is not None:
            found = (
                PlaylistEntry.objects.filter(playlist=playlist)
                .exclude(track__album__cover_path="")
                .order_by("position", "pk")
                .values_list("track__album__cover_path", flat=True)
                .first()
                or ""
            )
    if found is None:
        raise NotFoundError("Cover art not found.", details={"kind": kind, "id": item_id})
    return found


def cover_label(*, kind: str, item_id: int) -> tuple[str, str]:
    """(name, artist) drawn on a generated placeholder cover; ("", "") for an item that has no name to show."""
    if kind == "album":
        found = Album.objects.filter(pk=item_id).values_list("name", "album_artist__name").first()
    elif kind == "track":
        found = Track.objects.filter(pk=item_id).values_list("album__name", "artist_display").first()
    elif kind == "artist":
        found = Artist.objects.filter(pk=item_id).values_list("name", Value("")).first()
    else:
        found = Playlist.objects.filter(pk=item_id).values_list("name", Value("")).first()
    return (str(found[0]), str(found[1])) if found else ("", "")


def tracks_count() -> int:
    return _present_tracks().count()


# ---------------------------------------------------------------------------------------------------------------
# Figures for the management dashboard
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SourceFigures:
    source: str
    tracks: int
    albums: int
    artists: int
    duration_ms: int
    size_bytes: int


@dataclass(frozen=True)
class LibraryFigures:
    total: SourceFigures
    by_source: list[SourceFigures]


# A dashboard view every few seconds must not aggregate 100k rows each time; a minute-old figure is fine.
FIGURES_CACHE_SECONDS = 30
_FIGURES_CACHE_KEY = "library:figures:v1"


def _figures_compute() -> LibraryFigures:
    rows = (
        _present_tracks()
        .values("source")
        .annotate(
            tracks=Count("pk"),
            albums=Count("album_id", distinct=True),
            artists=Count("artist_id", distinct=True),
            duration=Coalesce(Sum("duration_ms"), 0),
            size=Coalesce(Sum("size_bytes"), 0),
        )
        .order_by("source")
    )
    by_source = [
        SourceFigures(row["source"], row["tracks"], row["albums"], row["artists"], row["duration"], row["size"])
        for row in rows
    ]
    present = _present_tracks()
    total = SourceFigures(
        source="",
        tracks=sum(figures.tracks for figures in by_source),
        albums=present.values("album_id").distinct().count(),
        artists=present.values("artist_id").distinct().count(),
        duration_ms=sum(figures.duration_ms for figures in by_source),
        size_bytes=sum(figures.size_bytes for figures in by_source),
    )
    return LibraryFigures(total=total, by_source=by_source)


def library_figures() -> LibraryFigures:
    """Tracks, albums, artists, playing time and disk use, in all and per source (present files only)."""
    figures = cache.get_or_set(_FIGURES_CACHE_KEY, _figures_compute, FIGURES_CACHE_SECONDS)
    return figures if isinstance(figures, LibraryFigures) else _figures_compute()


def albums_recent(*, limit: int) -> list[Album]:
    """The newest albums with at least one present track, newest first."""
    return list(
        Album.objects.filter(Exists(_present_tracks().filter(album=OuterRef("pk"))))
        .select_related("album_artist")
        .order_by("-created_at", "-pk")[:limit]
    )


def track_detail(*, user: User, track_id: int) -> Track:
    """One track with album, artist, genres and the user's star, rating and play count."""
    return _get(tracks_list(user=user), track_id, "Track")
