"""The external catalogue inside Subsonic (issue 21): who sees it, search hits under a deadline, and the items
that `ext-` ids name (`subsonic.ids`).

Opt-in twice: `EXTERNAL_SEARCH_IN_SUBSONIC` for the server and `User.subsonic_external_search` per user; and only
for users who may request downloads (`downloads.selectors.user_may_request_downloads`). Everyone else gets no
external hits and "not found" for `ext-` ids, exactly as if the catalogue did not exist.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeoutError
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from django.conf import settings
from django.utils import timezone

from accounts.models import User
from downloads.models import JobState
from downloads.relay import ArrivingMedia, arriving_media_open
from downloads.selectors import (
    SourceHits,
    download_job_state,
    search_results_mark,
    sources_search,
    user_may_request_downloads,
)
from downloads.services import download_request_referencing
from library.covers import placeholder_image, remote_cover_image
from library.models import PendingAction, Playlist, Track
from library.selectors import track_get, track_pk_by_source
from library.services import pending_reference_add, pending_references_drop
from mcma.errors import ApplicationError
from sources.base import ArtistBrowsable, ArtistMetadata, ResultKind, SearchResult, Source
from sources.registry import get_source
from sources.resolving import CollectionMetadata, Resolvable, SourceRequestError, TrackMetadata
from sources.services import source_problem_clear, source_problem_record
from subsonic import ids
from subsonic.errors import ErrorCode, SubsonicError, not_found
from subsonic.ids import ExternalRef

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Searches run here so a slow source cannot hold the request past its deadline. A search that overruns keeps its
# worker until the source's own request timeout ends it; with every worker busy, further searches wait in the
# queue and run out of time at once, so a hung source costs each request at most the deadline.
_search_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="subsonic-external-search")
# YouTube Music's first page of an unfiltered search: more would need a second request.
MAX_SEARCH_HITS = 100


def catalogue_open(user: User) -> bool:
    """Whether `user` sees the external catalogue at all."""
    return bool(
        settings.EXTERNAL_SEARCH_IN_SUBSONIC and user.subsonic_external_search and user_may_request_downloads(user=user)
    )


@dataclass(frozen=True)
class ExternalHits:
    """Hits of the external catalogue for one search, songs already in the library left out."""

    artists: list[SearchResult] = field(default_factory=list)
    albums: list[SearchResult] = field(default_factory=list)
    songs: list[SearchResult] = field(default_factory=list)


@dataclass(frozen=True)
class ExternalSearch:
    """A search of the external catalogue under way (one per source, all under one deadline): started before the
    library is searched, so the two overlap and a player waits for the slower one, not for both."""

    wanted: dict[ResultKind, int] = field(default_factory=dict)
    searches: list[tuple[str, Future[list[SourceHits]]]] = field(default_factory=list)
    deadline: float = 0.0

    def hits(self) -> ExternalHits:
        """Up to the wanted number of hits of each kind; a source that timed out or failed adds none (and its
        health says why), songs the library holds are left out."""
        if not self.searches:
            return ExternalHits()
        found: list[SearchResult] = []
        for name, future in self.searches:
            try:
                outcomes = future.result(timeout=max(0.0, self.deadline - time.monotonic()))
            except FutureTimeoutError:
                timeout = settings.EXTERNAL_SEARCH_TIMEOUT_SECONDS
                _search_problem(name, "timeout", f"search timed out after {timeout:g} s")
                continue
            for outcome in outcomes:
                if outcome.error is None:
                    source_problem_clear(source_name=outcome.source)
                elif outcome.error["code"] != "source_unavailable":  # a disabled source's health says so already
                    _search_problem(outcome.source, outcome.error["code"], f"search failed: {outcome.error['message']}")
                found += nameable(outcome.results)
        return _kept(found, self.wanted)


def search_start(
    *, user: User, query: str, source: str | None, artist_count: int, album_count: int, song_count: int
) -> ExternalSearch:
    """Start searching, for up to `*_count` hits of each kind (0 skips a kind), every enabled searchable source
    players can name (or only `source`, a music folder's). Nothing is asked for an empty query or a closed
    catalogue."""
    wanted = {ResultKind.ARTIST: artist_count, ResultKind.ALBUM: album_count, ResultKind.SONG: song_count}
    if not query.strip() or not any(wanted.values()) or not catalogue_open(user):
        return ExternalSearch()
    limit = min(MAX_SEARCH_HITS, sum(wanted.values()))
    names = [name for name in ids.EXTERNAL_SOURCES.values() if source is None or name == source]
    searches = [
        (name, _search_pool.submit(sources_search, query=query, kind=None, limit=limit, only=name)) for name in names
    ]
    return ExternalSearch(
        wanted=wanted, searches=searches, deadline=time.monotonic() + settings.EXTERNAL_SEARCH_TIMEOUT_SECONDS
    )


def _kept(found: list[SearchResult], wanted: dict[ResultKind, int]) -> ExternalHits:
    kept: dict[ResultKind, list[SearchResult]] = {kind: [] for kind in wanted}
    for marked in search_results_mark(results=found):
        hit = marked.result
        if hit.kind not in kept or marked.track_id is not None or not hit.extra.get("available", True):
            continue  # a song the library holds is among the library hits already
        if len(kept[hit.kind]) < wanted[hit.kind]:
            kept[hit.kind].append(hit)
    return ExternalHits(artists=kept[ResultKind.ARTIST], albums=kept[ResultKind.ALBUM], songs=kept[ResultKind.SONG])


def _search_problem(source: str, error: str, what: str) -> None:
    """A search of `source` gave nothing: logged, and kept for the source's health (the sources API, admin)."""
    at = timezone.now().strftime("%Y-%m-%d %H:%M:%S UTC")
    logger.warning("external search for Subsonic on %s: %s; answering library hits only", source, what)
    source_problem_record(source_name=source, error=error, message=f"{what} at {at}")


def nameable(hits: Sequence[SearchResult]) -> list[SearchResult]:
    """The hits players can be given an `ext-` id for; any other is the source's garbage (an id with characters
    no id may hold, a kind players cannot browse): skipped, and logged so that a changed source gets noticed."""
    kept = []
    for hit in hits:
        if ids.external_id(hit.source, hit.kind, hit.external_id) is None:
            logger.warning(
                "%s returned a %s with an unusable id %r: skipped", hit.source, hit.kind, hit.external_id[:80]
            )
            continue
        kept.append(hit)
    return kept


# --------------------------------------------------------------------------------------------------------------
# Items named by `ext-` ids
# --------------------------------------------------------------------------------------------------------------
def _source(user: User, ref: ExternalRef) -> Source:
    """The source of `ref`, when `user` may reach it; error 70 otherwise (a closed catalogue reveals nothing)."""
    if not catalogue_open(user):
        raise not_found("External item")
    source = get_source(ref.source)
    if not source.enabled:
        raise SubsonicError(ErrorCode.NOT_FOUND, f"{ref.source} is disabled on this server: its items are unavailable")
    return source


def _resolvable(user: User, ref: ExternalRef) -> Resolvable:
    source = _source(user, ref)
    if not isinstance(source, Resolvable):
        raise not_found(f"Items of {ref.source}")
    return source


def _asking(ref: ExternalRef, call: Callable[[], T]) -> T:
    """A call to the source: an item it does not have is 70, any other failure error 0 with the source's reason."""
    try:
        return call()
    except SourceRequestError as exc:
        if exc.status == 404:
            raise not_found(f"{ref.kind.title()} {ref.external_id!r} of {ref.source}") from exc
        raise SubsonicError(ErrorCode.GENERIC, f"{ref.source} could not answer: {exc.message}") from exc
    except ApplicationError as exc:  # a malformed id the source refuses, a source that cannot be used now
        raise SubsonicError(ErrorCode.NOT_FOUND, f"{ref.source}: {exc.message}") from exc


def _expect(ref: ExternalRef, kind: ResultKind) -> None:
    if ref.kind is not kind:
        raise not_found(f"{kind.title()} {ids.external_id(ref.source, ref.kind, ref.external_id)!r}")


def song_hit(*, user: User, ref: ExternalRef) -> SearchResult:
    """The external song, in the shape of a search hit (what the song builder takes)."""
    _expect(ref, ResultKind.SONG)
    source = _resolvable(user, ref)
    metadata = _asking(ref, lambda: source.resolve_track(external_id=ref.external_id))
    return _track_hit(ref.source, metadata)


def _track_hit(source: str, metadata: TrackMetadata) -> SearchResult:
    return SearchResult(
        source=source,
        kind=ResultKind.SONG,
        external_id=metadata.external_id,
        title=metadata.title,
        artists=metadata.artists,
        album=metadata.album,
        album_id=metadata.album_id,
        duration_ms=metadata.duration_ms,
        year=metadata.year,
        explicit=metadata.explicit,
        thumbnail_url=metadata.cover_url,
    )


@dataclass(frozen=True)
class ExternalAlbum:
    album: SearchResult
    songs: list[SearchResult]


def album_with_songs(*, user: User, ref: ExternalRef) -> ExternalAlbum:
    """The remote album and its available tracks (those the library holds keep their `ext-` id, which resolves)."""
    _expect(ref, ResultKind.ALBUM)
    source = _resolvable(user, ref)
    collection = _asking(ref, lambda: source.resolve_collection(kind=ResultKind.ALBUM, external_id=ref.external_id))
    return ExternalAlbum(album=_album_hit(ref.source, collection), songs=nameable(_album_songs(ref.source, collection)))


def _album_hit(source: str, collection: CollectionMetadata) -> SearchResult:
    return SearchResult(
        source=source,
        kind=ResultKind.ALBUM,
        external_id=collection.external_id,
        title=collection.title,
        artists=collection.artists,
        duration_ms=sum(track.duration_ms or 0 for track in collection.tracks),
        year=collection.year,
        thumbnail_url=collection.cover_url,
        extra={"song_count": len(collection.tracks)},
    )


def _album_songs(source: str, collection: CollectionMetadata) -> list[SearchResult]:
    return [
        SearchResult(
            source=source,
            kind=ResultKind.SONG,
            external_id=track.external_id,
            title=track.title,
            artists=track.artists,
            album=collection.title,
            album_id=collection.external_id,
            duration_ms=track.duration_ms,
            year=collection.year,
            explicit=track.explicit,
            thumbnail_url=collection.cover_url,
            extra={"track_number": track.track_number},
        )
        for track in collection.tracks
    ]


def artist_page(*, user: User, ref: ExternalRef) -> ArtistMetadata:
    """The remote artist: its albums (each an `ext-` album getAlbum answers), top songs and biography; the
    releases and songs players could not name are left out, and so are the songs the source cannot play."""
    _expect(ref, ResultKind.ARTIST)
    source = _source(user, ref)
    if not isinstance(source, ArtistBrowsable):
        raise SubsonicError(ErrorCode.GENERIC, f"{ref.source} artists cannot be browsed; search for their songs")
    artist = _asking(ref, lambda: source.resolve_artist(external_id=ref.external_id))
    playable = [song for song in artist.top_songs if song.extra.get("available", True)]
    return dataclasses.replace(artist, albums=tuple(nameable(artist.albums)), top_songs=tuple(nameable(playable)))


def cover(*, user: User, ref: ExternalRef, size: int | None) -> tuple[Path, str]:
    """The remote thumbnail of an external song, album or artist, fetched once into the cover cache and resized
    there; an artist without a picture gets the generated placeholder, as library items do."""
    key = ids.external_id(ref.source, ref.kind, ref.external_id) or ref.external_id
    source = _resolvable(user, ref)
    if ref.kind is ResultKind.ARTIST:
        try:
            return remote_cover_image(key=key, fetch=lambda: _artist_image(user, ref, source), size=size)
        except _NoPicture as missing:
            return placeholder_image(size=size, seed=key, title=missing.name)

    def fetch() -> tuple[bytes, str]:
        if ref.kind is ResultKind.SONG:
            url = _asking(ref, lambda: source.resolve_track(external_id=ref.external_id)).cover_url
        elif ref.kind is ResultKind.ALBUM:
            url = _asking(
                ref, lambda: source.resolve_collection(kind=ResultKind.ALBUM, external_id=ref.external_id)
            ).cover_url
        else:
            url = ""
        if not url:
            raise not_found(f"Cover of {ref.kind} {ref.external_id!r}")
        return _image(ref, source, url)

    return remote_cover_image(key=key, fetch=fetch, size=size)


class _NoPicture(Exception):
    """The artist's page has no picture: nothing enters the cache, and the placeholder is drawn (cached itself)."""

    def __init__(self, name: str) -> None:
        self.name = name


def _artist_image(user: User, ref: ExternalRef, source: Resolvable) -> tuple[bytes, str]:
    artist = artist_page(user=user, ref=ref)
    if not artist.image_url:
        raise _NoPicture(artist.name)
    return _image(ref, source, artist.image_url)


def _image(ref: ExternalRef, source: Resolvable, url: str) -> tuple[bytes, str]:
    return _asking(ref, lambda: source.fetch_image(url=url))


# --------------------------------------------------------------------------------------------------------------
# Things users do with external songs: each requests the download and is applied to the track when it lands
# --------------------------------------------------------------------------------------------------------------
def require_song(*, user: User, ref: ExternalRef) -> ExternalRef:
    """Check, before anything is written, that `user` may act on the external song `ref` (error 70 otherwise)."""
    _expect(ref, ResultKind.SONG)
    _resolvable(user, ref)
    return ref


def _referencing(
    user: User,
    ref: ExternalRef,
    action: PendingAction | None = None,
    *,
    rating: int | None = None,
    played_at: datetime | None = None,
    client: str = "",
    playlist: Playlist | None = None,
    position: int | None = None,
    position_ms: int | None = None,
    comment: str = "",
) -> None:
    require_song(user=user, ref=ref)
    record = None
    if action is not None:
        record = partial(
            pending_reference_add,
            user=user,
            source=ref.source,
            external_id=ref.external_id,
            action=action,
            rating=rating,
            played_at=played_at,
            client=client,
            playlist=playlist,
            position=position,
            position_ms=position_ms,
            comment=comment,
        )
    download_request_referencing(user=user, source=ref.source, external_id=ref.external_id, reference=record)


def songs_split(*, user: User, raw_ids: list[str]) -> tuple[list[int], list[tuple[int, ExternalRef]]]:
    """A list of song ids as a player sends it (playlist, play queue): the library tracks' ids, and the external
    songs with their place in the list; every external one is checked before anything is written."""
    track_ids: list[int] = []
    remote: list[tuple[int, ExternalRef]] = []
    for position, raw in enumerate(raw_ids):
        decoded = ids.decode_or_external(raw, allowed=(ids.Kind.TRACK,), bare=ids.Kind.TRACK)
        if isinstance(decoded, ExternalRef):
            remote.append((position, require_song(user=user, ref=decoded)))
        else:
            track_ids.append(decoded[1])
    return track_ids, remote


def star(*, user: User, ref: ExternalRef) -> None:
    _referencing(user, ref, PendingAction.STAR)


def unstar(*, user: User, ref: ExternalRef) -> None:
    """Takes back a star that is still waiting; the download, once asked for, goes on."""
    require_song(user=user, ref=ref)
    pending_references_drop(user=user, source=ref.source, external_id=ref.external_id, action=PendingAction.STAR)


def rate(*, user: User, ref: ExternalRef, rating: int) -> None:
    _referencing(user, ref, PendingAction.RATING, rating=rating)


def play(*, user: User, ref: ExternalRef, played_at: datetime | None, client: str) -> None:
    _referencing(user, ref, PendingAction.PLAY, played_at=played_at, client=client)


def now_playing(*, user: User, ref: ExternalRef) -> None:
    """A player started the song: it is worth having, so its download is requested (nothing else is recorded)."""
    _referencing(user, ref)


def playlist_entry(*, user: User, ref: ExternalRef, playlist: Playlist, position: int | None) -> None:
    _referencing(user, ref, PendingAction.PLAYLIST_ENTRY, playlist=playlist, position=position)


def queue_entry(*, user: User, ref: ExternalRef, position: int) -> None:
    _referencing(user, ref, PendingAction.QUEUE_ENTRY, position=position)


def bookmark(*, user: User, ref: ExternalRef, position_ms: int, comment: str) -> None:
    _referencing(user, ref, PendingAction.BOOKMARK, position_ms=position_ms, comment=comment)


def bookmark_delete(*, user: User, ref: ExternalRef) -> None:
    """Takes back a bookmark still waiting for its song's download; none waiting is "not found", as in the library."""
    require_song(user=user, ref=ref)
    if not pending_references_drop(
        user=user, source=ref.source, external_id=ref.external_id, action=PendingAction.BOOKMARK
    ):
        raise not_found("Bookmark")


# --------------------------------------------------------------------------------------------------------------
# Playback: the download is the fetch; its bytes are relayed while they arrive (bounded), else waited for (bounded)
# --------------------------------------------------------------------------------------------------------------
_POLL_SECONDS = 0.2


class _Places:
    """A per-process bound on requests held by external songs' downloads (the setting named, read on each take)."""

    def __init__(self, setting: str) -> None:
        self._setting = setting
        self._lock = threading.Lock()
        self._taken = 0

    def take(self) -> bool:
        with self._lock:
            if self._taken >= getattr(settings, self._setting):
                return False
            self._taken += 1
            return True

    def release(self) -> None:
        with self._lock:
            self._taken -= 1


_relaying = _Places("EXTERNAL_STREAM_MAX_RELAYS")
_waiting = _Places("EXTERNAL_STREAM_MAX_WAITING")


def _still_downloading(ref: ExternalRef) -> SubsonicError:
    return SubsonicError(ErrorCode.GENERIC, f"This song is still downloading from {ref.source}; try again in a moment")


def playback_source(*, user: User, ref: ExternalRef, relay: bool = True) -> Track | ArrivingMedia:
    """What plays the external song: its library track, or (`relay`) its download's bytes as they arrive.

    Requests the download, then waits up to EXTERNAL_STREAM_WAIT_SECONDS for the first of them: in one of
    EXTERNAL_STREAM_MAX_RELAYS places (kept by the relay until it is closed) or, with those taken or no `relay`,
    one of EXTERNAL_STREAM_MAX_WAITING places that wait for the track only. With none free, or past the wait, the
    answer is "still downloading" (the player retries; the job goes on)."""
    require_song(user=user, ref=ref)
    result = download_request_referencing(user=user, source=ref.source, external_id=ref.external_id)
    pk = track_pk_by_source(source=ref.source, source_id=ref.external_id)
    if pk is not None:
        return track_get(track_id=pk)
    job_id = result.job.pk if result.job is not None else None
    relay = relay and job_id is not None and _relaying.take()
    places = _relaying if relay else _waiting
    if not relay and not places.take():
        raise _still_downloading(ref)
    found: Track | ArrivingMedia | None = None
    try:
        found = _wait_for_playback(ref, job_id, relay=relay)
        if isinstance(found, ArrivingMedia):
            found.when_closed(places.release)
        return found
    finally:
        if not isinstance(found, ArrivingMedia):
            places.release()


def track_for_playback(*, user: User, ref: ExternalRef) -> Track:
    """The library track of the external song, downloading it first (for callers that need the whole file)."""
    found = playback_source(user=user, ref=ref, relay=False)
    assert isinstance(found, Track)
    return found


def _wait_for_playback(ref: ExternalRef, job_id: Any, *, relay: bool) -> Track | ArrivingMedia:
    deadline = time.monotonic() + settings.EXTERNAL_STREAM_WAIT_SECONDS
    while True:
        pk = track_pk_by_source(source=ref.source, source_id=ref.external_id)
        if pk is not None:
            return track_get(track_id=pk)
        if job_id is not None:
            state, error = download_job_state(job_id=job_id)
            if state in (JobState.FAILED, JobState.CANCELLED):
                raise SubsonicError(
                    ErrorCode.GENERIC, f"The download of this song {state}: {error or 'no reason given'}"
                )
            if state == JobState.RETRYING:  # it will not be back within the wait: say why now
                raise SubsonicError(ErrorCode.GENERIC, f"The download of this song will be retried later: {error}")
            if relay and (arriving := arriving_media_open(job_id=job_id)) is not None:
                return arriving
        if time.monotonic() >= deadline:
            raise _still_downloading(ref)
        time.sleep(_POLL_SECONDS)
