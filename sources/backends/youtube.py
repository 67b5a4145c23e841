"""YouTube Music as a source: search, metadata for downloads, media URLs. The only importer of ytmusicapi.

ytmusicapi has no base-URL option (its origin is a module constant), so every request goes through
`RebasedSession`, which rewrites the `https://music.youtube.com` prefix to the configured origin and applies our
own timeout. That one seam lets a mirror, or a fake server on 127.0.0.1 in the tests, stand in for YouTube Music.
Cookies are never sent to ytmusicapi: metadata calls stay anonymous (cookies there trigger bot checks); the cookies
file is only checked here and handed to the downloader.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import stat
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlencode, urlsplit

import requests
from django.conf import settings
from django.core.cache import cache
from ytmusicapi import YTMusic
from ytmusicapi.exceptions import YTMusicServerError, YTMusicUserError

from mcma.errors import InvalidInputError
from sources.base import ArtistMetadata, Capability, ResultKind, SearchResult, SourceHealth
from sources.errors import SourceUnavailableError
from sources.resolving import (
    CollectionMetadata,
    CollectionTrack,
    CookiesConfigError,
    MediaRequest,
    SourceRequestError,
    TrackMetadata,
)

logger = logging.getLogger(__name__)

YTM_ORIGIN = "https://music.youtube.com"
_MAX_IMAGE_BYTES = 10 * 1024 * 1024
_SEARCH_FILTERS: dict[ResultKind, str] = {
    ResultKind.SONG: "songs",
    ResultKind.ALBUM: "albums",
    ResultKind.PLAYLIST: "playlists",
    ResultKind.ARTIST: "artists",
}
# ytmusicapi result types -> our kinds; videos are songs too (flagged by videoType), the rest is not music.
_RESULT_KINDS: dict[str, ResultKind] = {
    "song": ResultKind.SONG,
    "video": ResultKind.SONG,
    "album": ResultKind.ALBUM,
    "playlist": ResultKind.PLAYLIST,
    "artist": ResultKind.ARTIST,
}
# An official audio track ("Art Track"); anything else (music video, user upload) is matched less reliably.
AUDIO_TRACK_VIDEO_TYPE = "MUSIC_VIDEO_TYPE_ATV"
USER_UPLOAD_VIDEO_TYPE = "MUSIC_VIDEO_TYPE_UGC"

T = TypeVar("T")


def cookies_file_problem(path: str) -> str | None:
    """Why the cookies file at `path` must not be used, with the fix; None when it is fine."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return f"cookies file {path} does not exist; export it from a browser or unset YOUTUBE_COOKIES_FILE"
    except OSError as exc:
        return f"cookies file {path} cannot be read ({exc.strerror}); fix its permissions or unset YOUTUBE_COOKIES_FILE"
    if not stat.S_ISREG(info.st_mode):
        return f"cookies file {path} is not a regular file; point YOUTUBE_COOKIES_FILE at the exported cookies.txt"
    if info.st_mode & 0o077:
        mode = stat.S_IMODE(info.st_mode)
        return f"cookies file {path} is mode {mode:04o}, readable by other users; run: chmod 600 {path}"
    if not os.access(path, os.R_OK):
        return f"cookies file {path} is not readable by this process (uid {os.getuid()}); fix its owner"
    return None


class RebasedSession(requests.Session):
    """Sends YouTube Music requests to `base_url` instead, with a default timeout; remembers the last status."""

    def __init__(self, *, base_url: str, timeout: float) -> None:
        super().__init__()
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._local = threading.local()

    @property
    def last_status(self) -> int | None:
        return getattr(self._local, "status", None)

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        target = url.decode() if isinstance(url, bytes) else url
        if target.startswith(YTM_ORIGIN):
            target = self.base_url + target[len(YTM_ORIGIN) :]
        kwargs.setdefault("timeout", self.timeout)
        self._local.status = None
        response = super().request(method, target, *args, **kwargs)
        self._local.status = response.status_code
        return response


class TokenBucket:
    """A small process-local rate limiter: `rate` requests per second with bursts of `burst`."""

    def __init__(self, *, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._updated = clock()
        self._lock = threading.Lock()

    def wait_time(self) -> float:
        """Take a token; returns how long the caller must sleep first (0 when one was available)."""
        with self._lock:
            now = self._clock()
            self._tokens = min(float(self.burst), self._tokens + (now - self._updated) * self.rate)
            self._updated = now
            self._tokens -= 1.0
            return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    def acquire(self) -> None:
        delay = self.wait_time()
        if delay > 0:
            time.sleep(delay)


# Google image URLs carry their size ("=w544-h544-l90-rj"); asking for more returns the full-size original.
_IMAGE_SIZE = re.compile(r"=w\d+-h\d+")
COVER_SIZE = 1200


def _largest_thumbnail(thumbnails: Sequence[dict[str, Any]] | None) -> str:
    if not thumbnails:
        return ""
    best = max(thumbnails, key=lambda t: int(t.get("width") or 0) * int(t.get("height") or 0))
    return str(best.get("url") or "")


def cover_url_full_size(url: str) -> str:
    """The cover at its largest size: search results only offer up to 544 px."""
    return _IMAGE_SIZE.sub(f"=w{COVER_SIZE}-h{COVER_SIZE}", url, count=1)


def _names(people: Sequence[dict[str, Any]] | None) -> tuple[str, ...]:
    return tuple(str(p["name"]) for p in (people or []) if p.get("name"))


def _int_or_none(value: object) -> int | None:
    try:
        return int(str(value)) if value not in (None, "") else None
    except ValueError:
        return None


def _duration_ms(item: dict[str, Any]) -> int | None:
    seconds = item.get("duration_seconds")
    return int(seconds) * 1000 if isinstance(seconds, int) else None


def _length_ms(length: object) -> int | None:
    """A watch-playlist length ("3:25", "1:02:03") in milliseconds."""
    parts = [int(p) for p in str(length or "").split(":") if p.isdigit()]
    return sum(v * 60**i for i, v in enumerate(reversed(parts))) * 1000 if parts else None


class YouTubeMusicSource:
    """The `youtube` source: anonymous YouTube Music search and metadata, media URLs for the downloader."""

    capabilities = frozenset({Capability.SEARCH, Capability.DOWNLOAD})

    def __init__(
        self,
        *,
        name: str,
        enabled: bool = False,
        base_url: str = YTM_ORIGIN,
        cookies_file: str = "",
        timeout: float | None = None,
        requests_per_second: float | None = None,
        cache_seconds: int | None = None,
        session: requests.Session | None = None,
    ) -> None:
        self.name = name
        self.enabled = enabled
        self.base_url = (base_url or YTM_ORIGIN).rstrip("/")
        self.cookies_file = cookies_file
        self.timeout = timeout if timeout is not None else float(settings.YOUTUBE_REQUEST_TIMEOUT)
        rate = requests_per_second if requests_per_second is not None else settings.YOUTUBE_REQUESTS_PER_SECOND
        self.cache_seconds = cache_seconds if cache_seconds is not None else settings.YOUTUBE_CACHE_SECONDS
        self._limiter = TokenBucket(rate=float(rate), burst=max(1, int(rate * 2)))
        self._session = session if session is not None else RebasedSession(base_url=self.base_url, timeout=self.timeout)
        self._client: YTMusic | None = None
        self._client_lock = threading.Lock()

    # -- Source ---------------------------------------------------------------------------------------------
    def health(self) -> SourceHealth:
        if not self.enabled:
            return SourceHealth(
                available=False,
                message="YouTube Music is disabled; set YOUTUBE_ENABLED=true to search and download from it",
                details={"enabled": False},
            )
        details: dict[str, object] = {"enabled": True, "base_url": self.base_url, "cookies": bool(self.cookies_file)}
        if self.cookies_file and (problem := cookies_file_problem(self.cookies_file)):
            return SourceHealth(available=False, message=problem, details={**details, "error": "cookies_config"})
        return SourceHealth(available=True, message="ok", details=details)

    # -- Searchable -----------------------------------------------------------------------------------------
    def search(self, *, query: str, kind: ResultKind | None = None, limit: int = 20) -> Sequence[SearchResult]:
        self._require_enabled()
        query = query.strip()
        if not query:
            raise InvalidInputError("the search query is empty")
        return list(
            self._remembered("search", f"{kind}\0{limit}\0{query.casefold()}", lambda: self._search(query, kind, limit))
        )

    def _search(self, query: str, kind: ResultKind | None, limit: int) -> list[SearchResult]:
        search_filter: Any = _SEARCH_FILTERS[kind] if kind else None
        raw = self._call(lambda client: client.search(query, filter=search_filter, limit=limit))
        results = [r for item in raw if (r := self._normalise(item)) is not None]
        if kind:
            results = [r for r in results if r.kind == kind]
        return results[:limit]

    def _normalise(self, item: dict[str, Any]) -> SearchResult | None:
        kind = _RESULT_KINDS.get(str(item.get("resultType")))
        if kind is None:
            return None
        thumbnail = _largest_thumbnail(item.get("thumbnails"))
        if kind == ResultKind.SONG:
            if not item.get("videoId"):
                return None
            video_type = item.get("videoType") or ""
            return SearchResult(
                source=self.name,
                kind=kind,
                external_id=str(item["videoId"]),
                title=str(item.get("title") or ""),
                artists=_names(item.get("artists")),
                album=str((item.get("album") or {}).get("name") or ""),
                album_id=str((item.get("album") or {}).get("id") or ""),
                duration_ms=_duration_ms(item),
                year=_int_or_none(item.get("year")),
                explicit=item.get("isExplicit"),
                thumbnail_url=thumbnail,
                extra={
                    "video_type": video_type,
                    "low_confidence": video_type == USER_UPLOAD_VIDEO_TYPE,
                    "available": bool(item.get("isAvailable", True)),
                },
            )
        if kind == ResultKind.ALBUM:
            if not item.get("browseId"):
                return None
            return SearchResult(
                source=self.name,
                kind=kind,
                external_id=str(item["browseId"]),
                title=str(item.get("title") or ""),
                artists=_names(item.get("artists")),
                year=_int_or_none(item.get("year")),
                explicit=item.get("isExplicit"),
                thumbnail_url=thumbnail,
                extra={"album_type": item.get("type") or "", "playlist_id": item.get("playlistId") or ""},
            )
        if kind == ResultKind.PLAYLIST:
            playlist_id = str(item.get("browseId") or item.get("playlistId") or "")
            if not playlist_id:
                return None
            return SearchResult(
                source=self.name,
                kind=kind,
                external_id=playlist_id.removeprefix("VL"),
                title=str(item.get("title") or ""),
                artists=(str(item["author"]),) if isinstance(item.get("author"), str) else _names(item.get("author")),
                thumbnail_url=thumbnail,
                extra={"item_count": item.get("itemCount")},
            )
        if not item.get("browseId"):
            return None
        return SearchResult(
            source=self.name,
            kind=kind,
            external_id=str(item["browseId"]),
            title=str(item.get("artist") or item.get("title") or ""),
            thumbnail_url=thumbnail,
        )

    # -- Resolvable -----------------------------------------------------------------------------------------
    def resolve_track(self, *, external_id: str) -> TrackMetadata:
        """The track's metadata, remembered for YOUTUBE_CACHE_SECONDS: a player's getSong, its stream and the
        download job that follows ask the origin once."""
        self._require_enabled()
        return self._remembered("track", external_id, lambda: self._track(external_id))

    def _track(self, external_id: str) -> TrackMetadata:
        watch: dict[str, Any] = dict(self._call(lambda client: client.get_watch_playlist(videoId=external_id, limit=1)))
        tracks = watch.get("tracks") or []
        track = next((t for t in tracks if t.get("videoId") == external_id), None)
        if track is None:
            raise SourceRequestError(
                f"YouTube Music has no playable track {external_id}", status=404, details={"external_id": external_id}
            )
        video_type = str(track.get("videoType") or "")
        album_ref = track.get("album") or {}
        album = self._album(str(album_ref["id"])) if album_ref.get("id") else None
        album_track: dict[str, Any] = {}
        if album is not None:
            album_tracks: list[dict[str, Any]] = album.get("tracks") or []
            title_key = str(track.get("title") or "").casefold()
            by_id = [t for t in album_tracks if t.get("videoId") == external_id]
            # A music video's album lists the audio track under another videoId: fall back to the title.
            by_title = [t for t in album_tracks if str(t.get("title") or "").casefold() == title_key]
            album_track = (by_id or by_title or [{}])[0]
        lyrics = self._lyrics(str(watch["lyrics"])) if watch.get("lyrics") else ""
        artists = _names(track.get("artists")) or _names(album_track.get("artists"))
        length = track.get("length") or ""
        duration_ms = _duration_ms(album_track)
        if duration_ms is None:
            duration_ms = _length_ms(length)
        return TrackMetadata(
            external_id=external_id,
            title=str(album_track.get("title") or track.get("title") or external_id),
            artists=artists,
            album=str(album["title"]) if album else "",
            album_artists=_names(album.get("artists")) if album else (),
            album_id=str(album_ref.get("id") or ""),
            track_number=_int_or_none(album_track.get("trackNumber")),
            track_total=_int_or_none(album.get("trackCount")) if album else None,
            disc_number=1 if album else None,
            year=_int_or_none((album or {}).get("year") or track.get("year")),
            duration_ms=duration_ms,
            explicit=album_track.get("isExplicit") if album_track else None,
            cover_url=cover_url_full_size(
                _largest_thumbnail((album or {}).get("thumbnails") or track.get("thumbnail"))
            ),
            lyrics=lyrics,
            low_confidence=video_type != AUDIO_TRACK_VIDEO_TYPE or album is None,
            extra={"video_type": video_type, "lyrics_id": watch.get("lyrics") or ""},
        )

    def resolve_collection(self, *, kind: ResultKind, external_id: str) -> CollectionMetadata:
        self._require_enabled()
        if kind == ResultKind.ALBUM:
            browse_id = external_id
            if external_id.startswith("OLAK"):
                found = self._call(lambda client: client.get_album_browse_id(external_id))
                if not found:
                    raise SourceRequestError(f"YouTube Music has no album for playlist {external_id}", status=404)
                browse_id = str(found)
            if not browse_id.startswith("MPRE"):
                raise InvalidInputError(f"{external_id!r} is not a YouTube Music album id (MPRE… or OLAK…)")
            album = self._album(browse_id)
            return CollectionMetadata(
                kind=kind,
                external_id=browse_id,
                title=str(album.get("title") or ""),
                artists=_names(album.get("artists")),
                year=_int_or_none(album.get("year")),
                tracks=tuple(
                    CollectionTrack(
                        external_id=str(t["videoId"]),
                        title=str(t.get("title") or ""),
                        artists=_names(t.get("artists")) or _names(album.get("artists")),
                        duration_ms=_duration_ms(t),
                        track_number=_int_or_none(t.get("trackNumber")),
                        explicit=t.get("isExplicit"),
                    )
                    for t in album.get("tracks") or []
                    if t.get("videoId") and t.get("isAvailable")
                ),
                cover_url=cover_url_full_size(_largest_thumbnail(album.get("thumbnails"))),
                extra={"track_count": album.get("trackCount")},
            )
        if kind == ResultKind.PLAYLIST:
            limit = int(settings.DOWNLOAD_PLAYLIST_MAX_TRACKS)
            watch: dict[str, Any] = dict(
                self._call(lambda client: client.get_watch_playlist(playlistId=external_id, limit=limit))
            )
            tracks: dict[str, CollectionTrack] = {}
            for t in watch.get("tracks") or []:
                if t.get("videoId") and str(t["videoId"]) not in tracks:
                    tracks[str(t["videoId"])] = CollectionTrack(
                        external_id=str(t["videoId"]),
                        title=str(t.get("title") or ""),
                        artists=_names(t.get("artists")),
                        duration_ms=_length_ms(t.get("length")),
                    )
            return CollectionMetadata(
                kind=kind,
                external_id=external_id.removeprefix("VL"),
                title=f"Playlist {external_id}",
                tracks=tuple(tracks.values())[:limit],
            )
        raise InvalidInputError(f"cannot download a {kind} from {self.name}; choose a song, album or playlist")

    # -- ArtistBrowsable -----------------------------------------------------------------------------------
    def resolve_artist(self, *, external_id: str) -> ArtistMetadata:
        """The artist page: its albums and singles (first page, as YouTube Music shows them) and top songs."""
        self._require_enabled()
        if not external_id.startswith("UC"):
            raise InvalidInputError(f"{external_id!r} is not a YouTube Music artist id (UC…)")
        page: dict[str, Any] = dict(
            self._remembered("artist", external_id, lambda: self._call(lambda client: client.get_artist(external_id)))
        )
        name = str(page.get("name") or "")
        releases = [
            item
            for shelf in ("albums", "singles")
            for item in ((page.get(shelf) or {}).get("results") or [])
            if isinstance(item, dict)
        ]
        albums = [a for item in releases if (a := self._artist_release(item, name)) is not None]
        songs = [
            s
            for item in ((page.get("songs") or {}).get("results") or [])
            if isinstance(item, dict) and (s := self._artist_song(item)) is not None
        ]
        return ArtistMetadata(
            source=self.name,
            external_id=external_id,
            name=name,
            biography=str(page.get("description") or ""),
            image_url=cover_url_full_size(_largest_thumbnail(page.get("thumbnails"))),
            albums=tuple(albums),
            top_songs=tuple(songs),
        )

    def _artist_release(self, item: dict[str, Any], artist_name: str) -> SearchResult | None:
        browse_id = str(item.get("browseId") or "")
        if not browse_id.startswith("MPRE"):
            logger.info("%s: skipped an artist release without an album id: %r", self.name, item.get("title"))
            return None
        return SearchResult(
            source=self.name,
            kind=ResultKind.ALBUM,
            external_id=browse_id,
            title=str(item.get("title") or ""),
            artists=_names(item.get("artists")) or ((artist_name,) if artist_name else ()),
            year=_int_or_none(item.get("year")),
            explicit=item.get("isExplicit"),
            thumbnail_url=_largest_thumbnail(item.get("thumbnails")),
            extra={"album_type": item.get("type") or "", "playlist_id": item.get("audioPlaylistId") or ""},
        )

    def _artist_song(self, item: dict[str, Any]) -> SearchResult | None:
        if not item.get("videoId"):
            logger.info("%s: skipped an artist's top song without a video id: %r", self.name, item.get("title"))
            return None
        album = item.get("album") or {}
        return SearchResult(
            source=self.name,
            kind=ResultKind.SONG,
            external_id=str(item["videoId"]),
            title=str(item.get("title") or ""),
            artists=_names(item.get("artists")),
            album=str(album.get("name") or ""),
            album_id=str(album.get("id") or ""),
            duration_ms=_duration_ms(item),
            explicit=item.get("isExplicit"),
            thumbnail_url=_largest_thumbnail(item.get("thumbnails")),
            extra={"video_type": item.get("videoType") or "", "available": bool(item.get("isAvailable", True))},
        )

    def reference_from_url(self, url: str) -> tuple[ResultKind, str] | None:
        """(kind, external id) for a YouTube Music link (watch, playlist or album browse page); None otherwise."""
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return None
        params = parse_qs(parts.query)
        if parts.path.rstrip("/") == "/watch" and params.get("v"):
            return ResultKind.SONG, params["v"][0]
        if parts.path.rstrip("/") == "/playlist" and params.get("list"):
            list_id = params["list"][0]
            return (ResultKind.ALBUM if list_id.startswith("OLAK") else ResultKind.PLAYLIST), list_id
        if parts.path.startswith("/browse/MPRE"):
            return ResultKind.ALBUM, parts.path.removeprefix("/browse/").strip("/")
        return None

    def media_request(self, *, external_id: str) -> MediaRequest:
        self._require_enabled()
        cookies: str | None = None
        if self.cookies_file:
            if problem := cookies_file_problem(self.cookies_file):
                raise CookiesConfigError(problem, details={"path": self.cookies_file})
            cookies = self.cookies_file
        return MediaRequest(url=f"{self.base_url}/watch?{urlencode({'v': external_id})}", cookies_file=cookies)

    def fetch_image(self, *, url: str) -> tuple[bytes, str]:
        self._require_enabled()
        try:
            with self._session.get(url, timeout=self.timeout, stream=True) as response:
                response.raise_for_status()
                mime = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
                if not mime.startswith("image/"):
                    raise SourceRequestError(f"cover {url} is {mime or 'untyped'}, not an image", status=415)
                body = b""
                for chunk in response.iter_content(65536):
                    body += chunk
                    if len(body) > _MAX_IMAGE_BYTES:
                        raise SourceRequestError(f"cover {url} is larger than {_MAX_IMAGE_BYTES} bytes", status=413)
        except requests.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else None
            raise SourceRequestError(f"cover {url} answered HTTP {status}", status=status) from exc
        except requests.RequestException as exc:
            raise SourceRequestError(f"cover {url} could not be fetched: {exc}", network=True) from exc
        return body, mime

    # -- internals ------------------------------------------------------------------------------------------
    def _require_enabled(self) -> None:
        if not self.enabled:
            raise SourceUnavailableError(self.health().message, details={"source": self.name})

    def _album(self, browse_id: str) -> dict[str, Any]:
        return dict(
            self._remembered("album", browse_id, lambda: self._call(lambda client: client.get_album(browse_id)))
        )

    def _remembered(self, what: str, key: str, compute: Callable[[], T]) -> T:
        """Every answer of the origin is kept in the shared cache for YOUTUBE_CACHE_SECONDS (failures are not)."""
        digest = hashlib.sha256(f"{self.base_url}\0{key}".encode()).hexdigest()
        cache_key = f"sources:youtube:{what}:{digest}"
        found: T | None = cache.get(cache_key)
        if found is not None:
            return found
        value = compute()
        cache.set(cache_key, value, self.cache_seconds)
        return value

    def _lyrics(self, browse_id: str) -> str:
        """Lyrics are a bonus: a failure to fetch them never fails the download."""
        try:
            found: Any = self._call(lambda client: client.get_lyrics(browse_id))
        except SourceRequestError as exc:
            logger.info("lyrics %s unavailable: %s", browse_id, exc)
            return ""
        text = (found or {}).get("lyrics")
        return text if isinstance(text, str) else ""

    def _get_client(self) -> YTMusic:
        with self._client_lock:
            if self._client is None:
                self._client = YTMusic(requests_session=self._session)
            return self._client

    def _call(self, operation: Callable[[YTMusic], T]) -> T:
        """Run one ytmusicapi call under the rate limiter and turn its failures into SourceRequestError."""
        self._limiter.acquire()
        try:
            return operation(self._get_client())
        except YTMusicUserError as exc:
            raise InvalidInputError(str(exc)) from exc
        except YTMusicServerError as exc:
            status = self._last_status()
            if status is not None and status < 400:
                # An empty answer to a well-formed request: the video or playlist does not exist (or is private).
                status = 404
            raise SourceRequestError(f"YouTube Music error: {exc}", status=status) from exc
        except json.JSONDecodeError as exc:
            # ytmusicapi decodes before it checks the status: an HTML error page (a 429 wall) lands here.
            status = self._last_status()
            raise SourceRequestError(
                f"YouTube Music answered HTTP {status} with a non-JSON body", status=status
            ) from exc
        except requests.RequestException as exc:
            raise SourceRequestError(f"YouTube Music unreachable: {exc}", network=True) from exc
        except (KeyError, IndexError, ValueError, TypeError) as exc:
            raise SourceRequestError(
                f"YouTube Music answered in a shape this version does not understand ({type(exc).__name__}: {exc}); "
                "upgrade ytmusicapi",
                layout_changed=True,
            ) from exc

    def _last_status(self) -> int | None:
        return self._session.last_status if isinstance(self._session, RebasedSession) else None
