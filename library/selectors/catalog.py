"""Catalog reads: single items by id, the REST lists and details (filters and ordering are applied on top by
library.api.filters), genres, plays, stored files and covers, and the management dashboard's figures."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from django.core.cache import cache
from django.db.models import Count, Exists, F, OuterRef, Prefetch, QuerySet, Sum, Value
from django.db.models.functions import Coalesce

from accounts.models import User
from library.models import Album, Artist, Genre, Play, Playlist, PlaylistEntry, Track
from library.player_profiles import player_profile_limits
from library.selectors.base import CountOf, get_or_not_found, present_tracks, with_user_data
from library.selectors.playlists import playlists_visible
from library.storage import UnsafePathError, media_path
from library.transcoding import PlaybackLimits, lowest_limit
from mcma.errors import NotFoundError


def track_get(*, track_id: int) -> Track:
    return get_or_not_found(Track.objects.select_related("album", "artist"), track_id, "Track")


def album_get(*, album_id: int) -> Album:
    return get_or_not_found(Album.objects.select_related("album_artist"), album_id, "Album")


def artist_get(*, artist_id: int) -> Artist:
    return get_or_not_found(Artist.objects.all(), artist_id, "Artist")


def playback_limits(*, user: User, client: str) -> PlaybackLimits:
    """The admin-set limits for `user` on the player named `client` (its Subsonic `c`; "" for none): the lower
    bitrate cap of the two, and the player's default format, else the user's. No query: profiles are read from
    the cache."""
    profile = player_profile_limits(client) if client else None
    if profile is None:
        return PlaybackLimits(user.max_bitrate, user.default_format)
    max_bitrate, default_format = profile
    return PlaybackLimits(lowest_limit(user.max_bitrate, max_bitrate), default_format or user.default_format)


def track_pk_by_source(*, source: str, source_id: str) -> int | None:
    """The library track that came from `source_id` of `source`, if there is one."""
    return Track.objects.filter(source=source, source_id=source_id).values_list("pk", flat=True).first()


def artists_list(*, user: User) -> QuerySet[Artist]:
    return with_user_data(Artist.objects.all(), user=user)


def albums_list(*, user: User) -> QuerySet[Album]:
    qs = Album.objects.select_related("album_artist").prefetch_related("genres")
    return with_user_data(qs, user=user)


def tracks_list(*, user: User) -> QuerySet[Track]:
    """Every track, missing ones too (the REST list filters them with `missing=`)."""
    qs = Track.objects.select_related("album", "artist").prefetch_related("genres")
    return with_user_data(qs, user=user)


def track_detail(*, user: User, track_id: int) -> Track:
    """One track with album, artist, genres and the user's star, rating and play count."""
    return get_or_not_found(tracks_list(user=user), track_id, "Track")


def genres_list() -> QuerySet[Genre]:
    return Genre.objects.annotate(
        album_count=CountOf(Album.genres.through.objects.filter(genre=OuterRef("pk")).values("pk")),
        track_count=CountOf(Track.genres.through.objects.filter(genre=OuterRef("pk")).values("pk")),
    ).order_by("name_key", "pk")


def genre_get(*, genre_id: int) -> Genre:
    return get_or_not_found(genres_list(), genre_id, "Genre")


def artist_detail(*, user: User, artist_id: int) -> Artist:
    """An artist with `albums` prefetched (and their genres), for nested detail views in a fixed query count."""
    albums = albums_list(user=user).order_by("year", "sort_name", "pk")
    artist = artists_list(user=user).prefetch_related(Prefetch("albums", queryset=albums))
    return get_or_not_found(artist, artist_id, "Artist")


def album_detail(*, user: User, album_id: int) -> Album:
    """An album with its `tracks` (user data annotated) prefetched in disc/track order."""
    tracks = tracks_list(user=user).order_by("disc_number", "track_number", "title_key", "pk")
    album = albums_list(user=user).prefetch_related(Prefetch("tracks", queryset=tracks))
    return get_or_not_found(album, album_id, "Album")


def plays_of(*, user: User) -> QuerySet[Play]:
    return Play.objects.filter(user=user).select_related("track__album", "track__artist").order_by("-played_at", "-pk")


def tracks_count() -> int:
    return present_tracks().count()


def albums_recent(*, limit: int) -> list[Album]:
    """The newest albums with at least one present track, newest first."""
    return list(
        Album.objects.filter(Exists(present_tracks().filter(album=OuterRef("pk"))))
        .select_related("album_artist")
        .order_by("-created_at", "-pk")[:limit]
    )


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


def artist_cover_path(*, artist_id: int) -> str | None:
    """The stored picture of an artist: their own image, else the cover of their latest album with one; "" when
    neither exists, None when there is no such artist."""
    image = Artist.objects.filter(pk=artist_id).values_list("image_path", flat=True).first()
    if image is None:
        return None
    return image or (
        Album.objects.filter(album_artist_id=artist_id)
        .exclude(cover_path="")
        .order_by(F("year").desc(nulls_last=True), "sort_name", "pk")
        .values_list("cover_path", flat=True)
        .first()
        or ""
    )


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
        found = artist_cover_path(artist_id=item_id)
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
        present_tracks()
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
    present = present_tracks()
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
