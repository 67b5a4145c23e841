"""Subsonic reads: album/song lists, the artist index, starred items, random picks, similar and top songs, now
playing, bookmarks, the play queue and radio. `source` limits results to one music folder (a configured source
alias); None means the whole library. Missing files are never listed."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from django.db import connection
from django.db.models import Count, Exists, F, Max, Min, Model, OuterRef, Prefetch, Q, QuerySet, Subquery
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
    PlayQueue,
    PlayQueueEntry,
    Track,
    TrackAnnotation,
    TrackArtist,
    TrackLyrics,
)
from library.selectors.base import (
    CountOf,
    album_has_source,
    artist_has_source,
    get_or_not_found,
    in_order,
    present,
    present_tracks,
    with_user_data,
)
from library.selectors.rows import (
    AlbumRef,
    AlbumRow,
    ArtistIndexRow,
    ArtistRef,
    TrackRow,
    album_rows,
    track_rows,
    with_genre_names,
)
from library.text import fold

_random = random.SystemRandom()


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


def albums_base(*, user: User, source: str | None) -> QuerySet[Album]:
    """Albums with a present track (in `source`), `user`'s data, and of the album artist what elements show."""
    albums = Album.objects.select_related("album_artist").defer(*ArtistRef.unread(Artist, "album_artist"))
    qs = with_user_data(albums, user=user).filter(Exists(present_tracks().filter(album=OuterRef("pk"))))
    return qs.filter(album_has_source(source)) if source else qs


def subsonic_tracks(*, user: User, source: str | None = None) -> QuerySet[Track]:
    """Present tracks with everything a Subsonic song element shows but genres (see `with_genre_names`)."""
    # Lyrics and source extras can be large and no list shows them: not loaded (the lyrics views read them).
    qs = with_user_data(
        present_tracks()
        .select_related("album", "artist", "album__album_artist")
        .defer("lyrics", "synced_lyrics", "source_metadata", "checksum")
        .defer(*AlbumRef.unread(Album, "album"), *ArtistRef.unread(Artist, "artist"))
        .defer(*ArtistRef.unread(Artist, "album__album_artist")),
        user=user,
    )
    return qs.filter(source=source) if source else qs


def subsonic_artists(*, user: User, source: str | None = None, album_artists_only: bool = True) -> QuerySet[Artist]:
    qs = with_user_data(Artist.objects.all(), user=user)
    if album_artists_only:
        qs = qs.filter(Exists(Album.objects.filter(album_artist=OuterRef("pk"))))
    return qs.filter(artist_has_source(source)) if source else qs


def subsonic_track_get(*, user: User, track_id: int) -> Track:
    """A present track with the user's data and genres (getSong, stream, scrobble)."""
    return with_genre_names([get_or_not_found(subsonic_tracks(user=user), track_id, "Track")])[0]


def album_with_tracks(*, user: User, album_id: int) -> tuple[Album, list[TrackRow]]:
    """An album (user data, genres) and its present tracks in disc/track order: four queries in all."""
    album = with_genre_names([get_or_not_found(albums_base(user=user, source=None), album_id, "Album")])[0]
    tracks = subsonic_tracks(user=user).filter(album=album)
    return album, track_rows(tracks.order_by("disc_number", "track_number", "title_key", "pk"))


def artist_with_albums(*, user: User, artist_id: int) -> tuple[Artist, list[AlbumRow]]:
    """An artist (user data) and the albums they are album artist of, oldest first."""
    artist = get_or_not_found(with_user_data(Artist.objects.all(), user=user), artist_id, "Artist")
    albums = albums_base(user=user, source=None).filter(album_artist=artist)
    return artist, album_rows(albums.order_by("year", "sort_name", "pk"))


# Random picks probe random primary keys instead of `ORDER BY RANDOM()`, which reads and sorts the whole table
# on every call. Keys are mostly dense (rows are rarely deleted), so the first round draws only a quarter more
# than wanted; later rounds draw this many times the shortfall, and a sparse match (a rare genre, a narrow year
# range) falls back to sampling the matching ids after a few rounds.
_FIRST_PROBE_FACTOR = 1.25
_PROBE_FACTOR = 4
_PROBE_ROUNDS = 3


def random_pks(qs: QuerySet[Model], size: int) -> list[int]:
    """Up to `size` distinct primary keys of `qs`, uniformly at random, in random order."""
    # Two aggregates: each is one index seek, while MIN and MAX in one query read the whole table (SQLite).
    low = qs.model._default_manager.aggregate(low=Min("pk"))["low"]
    high = qs.model._default_manager.aggregate(high=Max("pk"))["high"]
    if low is None or high is None or size <= 0:
        return []
    span = range(low, high + 1)
    picked: set[int] = set()
    for round_number in range(_PROBE_ROUNDS):
        factor = _FIRST_PROBE_FACTOR if round_number == 0 else _PROBE_FACTOR
        draw = min(len(span), math.ceil((size - len(picked)) * factor))
        candidates = _random.sample(span, draw)
        picked.update(qs.filter(pk__in=candidates).values_list("pk", flat=True))
        if len(picked) >= size or draw == len(span):
            break
    else:
        picked = set(qs.values_list("pk", flat=True))
    return _random.sample(sorted(picked), min(size, len(picked)))


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
    qs = albums_base(user=user, source=source)
    mine = AlbumAnnotation.objects.filter(user=user)
    order: tuple[str, ...]
    if list_type is AlbumListType.RANDOM:  # every page is a fresh draw, so `offset` has nothing to skip
        pks = random_pks(qs, size)
        return in_order(album_rows(qs.filter(pk__in=pks)), pks)
    if list_type is AlbumListType.NEWEST:
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
    pks = random_pks(qs, size)
    return in_order(track_rows(qs.filter(pk__in=pks)), pks)


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
        albums=album_rows(albums_base(user=user, source=source).filter(pk__in=album_ids).order_by(_STARRED_DESC, "pk")),
        tracks=track_rows(
            subsonic_tracks(user=user, source=source).filter(pk__in=track_ids).order_by(_STARRED_DESC, "pk")
        ),
    )


@dataclass(frozen=True)
class LibraryChange:
    """When artists, albums or tracks last changed (ms since the epoch) and a token naming that state, kept by
    the triggers of migration 0010: getIndexes' `lastModified` and the key of caches of library-wide answers."""

    token: str
    changed_ms: int


# PostgreSQL bumps the row at commit (see migration 0010): a transaction's own pending notes count as changes.
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


def artist_index(*, source: str | None = None) -> list[ArtistIndexRow]:
    """The artists of getIndexes/getArtists (album artists; of one music folder if `source`), by sort name."""
    qs = Artist.objects.filter(Exists(Album.objects.filter(album_artist=OuterRef("pk"))))
    if source:
        qs = qs.filter(artist_has_source(source))
    return ArtistIndexRow.rows(qs.order_by("sort_name", "pk"))


def artist_user_data(*, user: User) -> dict[int, tuple[datetime | None, int]]:
    """(starred_at, rating) of every artist `user` starred or rated: the user's part of the artist index."""
    rows = ArtistAnnotation.objects.filter(Q(starred_at__isnull=False) | Q(rating__gt=0), user=user)
    return {
        artist_id: (starred, rating)
        for artist_id, starred, rating in rows.values_list("artist_id", "starred_at", "rating")
    }


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
        .annotate(total_plays=CountOf(plays))
        .order_by("-total_plays", "album__year", "album__sort_name", "disc_number", "track_number", "pk")[:count]
    )


def artist_by_name(*, name: str) -> Artist | None:
    """The artist called `name` (folded), preferring one without a MusicBrainz id clash: the first by pk."""
    return Artist.objects.filter(name_key=fold(name)).order_by("pk").first()


def track_lyrics_find(*, artist: str, title: str) -> Track | None:
    """A present track by artist and title (folded) that carries lyrics, for the legacy getLyrics."""
    documented = TrackLyrics.objects.exclude(text="").values("track_id")
    with_lyrics = ~Q(lyrics="") | ~Q(synced_lyrics="") | Q(pk__in=documented)
    qs = present_tracks().filter(with_lyrics).select_related("artist")
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
        NowPlaying.objects.filter(present("track__"), started_at__gte=now - longest)
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
        Bookmark.objects.filter(present("track__"), user=user)
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
        PlayQueueEntry.objects.filter(present("track__"), queue=queue)
        .prefetch_related(Prefetch("track", queryset=subsonic_tracks(user=user)))
        .order_by("position")
    )
    return queue, with_genre_names(entry.track for entry in entries)


def radio_stations_list() -> QuerySet[InternetRadioStation]:
    return InternetRadioStation.objects.order_by("name", "pk")


def radio_station_get(*, station_id: int) -> InternetRadioStation:
    return get_or_not_found(InternetRadioStation.objects.all(), station_id, "Internet radio station")
