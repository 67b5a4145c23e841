"""Transcoding for playback: which stream a player gets, and ffmpeg encoding it while it is sent.

The only module that runs ffmpeg for streams. `transcode_plan` decides (None = send the original bytes);
`transcode_response` runs ffmpeg and streams its output as it encodes. ffmpeg never sees anything but a fixed
argument list built here from a known codec, a clamped bitrate and a number of seconds, so no request can pass
it options. Every process is bounded (global and per-user slots, a wall-clock ceiling) and killed as soon as the
player hangs up or the response is closed.

A transcode that ran to its end (from the start of the song) is kept in a size-bounded cache under the cache dir,
keyed by the file's checksum and the profile, so a replay, a second player or a seek (Range, 206) costs nothing;
one cut short never enters it.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

from django.conf import settings
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase

from library.disk_cache import cache_file_used, cache_trim
from library.models import Track
from library.streaming import file_response
from mcma.errors import InvalidInputError, ServiceUnavailableError

logger = logging.getLogger(__name__)

CHUNK_SIZE = 64 * 1024
RAW = "raw"


@dataclass(frozen=True)
class Codec:
    name: str
    encoder: str
    container: str
    content_type: str
    suffix: str
    max_channels: int
    min_bitrate: int  # kbps; 0 for lossless
    max_bitrate: int
    default_bitrate: int

    @property
    def lossless(self) -> bool:
        return self.max_bitrate == 0


CODECS: dict[str, Codec] = {
    "mp3": Codec("mp3", "libmp3lame", "mp3", "audio/mpeg", "mp3", 2, 32, 320, 192),
    "opus": Codec("opus", "libopus", "ogg", "audio/ogg", "opus", 2, 16, 256, 128),
    "aac": Codec("aac", "aac", "adts", "audio/aac", "aac", 2, 32, 320, 192),
    "flac": Codec("flac", "flac", "flac", "audio/flac", "flac", 8, 0, 0, 0),
}
# What a stored file already is, by its codec or suffix, so "already at or below the asked bitrate in that
# format" can be sent as it is.
_SOURCE_CODEC = {"mp3": "mp3", "opus": "opus", "aac": "aac", "m4a": "aac", "flac": "flac"}


class TranscodeBusyError(ServiceUnavailableError):
    code = "transcoder_busy"


class TrackAudio(Protocol):
    """What a decision reads of a song: a `Track`, or a song row of a list page (`selectors.TrackRow`)."""

    @property
    def codec(self) -> str: ...
    @property
    def suffix(self) -> str: ...
    @property
    def bitrate(self) -> int: ...
    @property
    def channels(self) -> int: ...
    @property
    def duration_ms(self) -> int: ...


@dataclass(frozen=True)
class PlaybackLimits:
    """What an admin set for this listener on this player (`selectors.playback_limits`): a bitrate cap in kbps
    (0 = none; already the lower of the user's and the player's) and the format sent when a request names none."""

    max_bitrate: int = 0
    default_format: str = ""


NO_LIMITS = PlaybackLimits()


def lowest_limit(*limits: int) -> int:
    """The strictest of some limits where 0 means none (so 0 only when none is set)."""
    positive = [limit for limit in limits if limit > 0]
    return min(positive) if positive else 0


@dataclass(frozen=True)
class TranscodePlan:
    codec: Codec
    bitrate: int  # kbps; 0 for lossless
    offset_seconds: float
    channels: int
    duration_seconds: float  # of what is sent: the song's length after the offset


def _plan(codec: Codec, bitrate: int, offset_seconds: float, track: TrackAudio, max_channels: int = 0) -> TranscodePlan:
    channels = min(track.channels or 2, codec.max_channels, max_channels or codec.max_channels)
    remaining = max(0.0, track.duration_ms / 1000 - offset_seconds)
    return TranscodePlan(codec, bitrate, offset_seconds, channels, remaining)


@lru_cache(maxsize=1)
def ffmpeg_path() -> str | None:
    """ffmpeg on PATH, or None: then transcoding is unavailable and originals are sent."""
    return shutil.which("ffmpeg")


def _source_codec(track: TrackAudio) -> str:
    return _SOURCE_CODEC.get(track.codec.lower(), _SOURCE_CODEC.get(track.suffix.lower(), ""))


def transcode_plan(
    *, track: TrackAudio, requested_format: str | None, max_bitrate: int, limits: PlaybackLimits, offset_seconds: float
) -> TranscodePlan | None:
    """The transcode a player gets, or None to send the original file.

    `requested_format` is a codec name, `raw` (always the original) or None (the limits' default format if set,
    else the original unless a bitrate limit or an offset needs a transcode, then `TRANSCODE_DEFAULT_FORMAT`).
    The limit is the lower of the request's `max_bitrate` and the admin-set one (0 = none). A file already in the
    asked format at or below the limit is sent as it is; so is everything when ffmpeg is missing.
    """
    fmt = (requested_format or "").strip().lower() or None
    if fmt == RAW:
        return None
    if fmt is not None and fmt not in CODECS:
        raise InvalidInputError(f"format must be one of {', '.join([*CODECS, RAW])}", details={"format": fmt})
    _check_offset(track, offset_seconds)
    if ffmpeg_path() is None:
        return None
    limit = lowest_limit(max_bitrate, limits.max_bitrate)
    fmt = fmt or limits.default_format or None
    source = _source_codec(track)
    if fmt is None:
        if limit and track.bitrate > limit:
            fmt = settings.TRANSCODE_DEFAULT_FORMAT
        elif offset_seconds:
            fmt = source if source in CODECS else settings.TRANSCODE_DEFAULT_FORMAT
        else:
            return None
    codec = CODECS[fmt]
    if codec.lossless:
        if source == codec.name and not offset_seconds:
            return None
        return _plan(codec, 0, offset_seconds, track)
    bitrate = _bitrate(codec, limit)
    if source == codec.name and track.bitrate and track.bitrate <= bitrate and not offset_seconds:
        return None
    return _plan(codec, bitrate, offset_seconds, track)


def transcoded_codec(*, track: TrackAudio, limits: PlaybackLimits) -> Codec | None:
    """The codec a plain `stream` of this song sends under these limits, None for the file itself (what song
    entries announce as transcodedSuffix / transcodedContentType). Pure: no query, no process."""
    if limits == NO_LIMITS:
        return None
    plan = transcode_plan(track=track, requested_format=None, max_bitrate=0, limits=limits, offset_seconds=0)
    return plan.codec if plan is not None else None


def _check_offset(track: TrackAudio, offset_seconds: float) -> None:
    if offset_seconds < 0:
        raise InvalidInputError("timeOffset must not be negative", details={"timeOffset": offset_seconds})
    if offset_seconds and offset_seconds * 1000 >= track.duration_ms > 0:
        raise InvalidInputError("timeOffset is past the end of the song", details={"timeOffset": offset_seconds})


def chosen_plan(
    *, track: Track, codec_name: str, bitrate: int, max_channels: int, offset_seconds: float
) -> TranscodePlan:
    """The plan for a transcode already decided elsewhere (an OpenSubsonic transcode decision): the same clamps
    as `transcode_plan` (the codec's bitrate range and channel count), so nothing decided outside can widen them."""
    _check_offset(track, offset_seconds)
    codec = CODECS[codec_name]
    return _plan(codec, 0 if codec.lossless else _bitrate(codec, bitrate), offset_seconds, track, max_channels)


def _bitrate(codec: Codec, limit: int) -> int:
    """The codec's default under no limit; any limit clamped into what the codec can encode."""
    return max(codec.min_bitrate, min(limit or codec.default_bitrate, codec.max_bitrate))


def ffmpeg_arguments(*, path: Path, plan: TranscodePlan) -> list[str]:
    """The whole command line: every value comes from a known codec, a clamped number or the stored path."""
    executable = ffmpeg_path() or "ffmpeg"
    args = [executable, "-nostdin", "-hide_banner", "-loglevel", "error"]
    if plan.offset_seconds:
        args += ["-ss", f"{plan.offset_seconds:.3f}"]  # before -i: ffmpeg's fast input seek
    args += ["-i", str(path), "-map", "0:a:0", "-vn", "-map_metadata", "-1", "-ac", str(plan.channels)]
    args += ["-c:a", plan.codec.encoder]
    if plan.bitrate:
        args += ["-b:a", f"{plan.bitrate}k"]
    return [*args, "-f", plan.codec.container, "pipe:1"]


# Slots: a process-wide bound on ffmpeg processes, and a per-user one so one listener cannot take them all.
_slots_lock = threading.Lock()
_slots_condition = threading.Condition(_slots_lock)
_running_total = 0
_running_by_user: dict[int, int] = {}


def _slot_take(user_id: int) -> None:
    global _running_total
    wait = float(settings.TRANSCODE_QUEUE_SECONDS)
    with _slots_condition:
        free = _slots_condition.wait_for(
            lambda: (
                _running_total < settings.TRANSCODE_MAX_PROCESSES
                and _running_by_user.get(user_id, 0) < settings.TRANSCODE_MAX_PER_USER
            ),
            timeout=wait,
        )
        if not free:
            raise TranscodeBusyError("Every transcoder is busy; try again in a moment, or ask for format=raw.")
        _running_total += 1
        _running_by_user[user_id] = _running_by_user.get(user_id, 0) + 1


def _slot_release(user_id: int) -> None:
    global _running_total
    with _slots_condition:
        _running_total -= 1
        left = _running_by_user.get(user_id, 1) - 1
        if left:
            _running_by_user[user_id] = left
        else:
            _running_by_user.pop(user_id, None)
        _slots_condition.notify_all()


def running_transcodes() -> int:
    with _slots_lock:
        return _running_total


def expected_length(plan: TranscodePlan) -> int | None:
    """The byte count a constant-bitrate encode of the remaining duration gives; None for lossless output."""
    if not plan.bitrate:
        return None
    return math.ceil(plan.duration_seconds * plan.bitrate * 1000 / 8)


# -- The transcode cache ------------------------------------------------------------------------------------------
def _cache_dir() -> Path:
    return Path(settings.MCMA_CACHE_DIR) / "transcodes"


def _cache_path(track: Track, plan: TranscodePlan) -> Path | None:
    """Where this transcode is kept, or None when it cannot be (an offset start, or the cache is off)."""
    if plan.offset_seconds or not settings.TRANSCODE_CACHE_SIZE:
        return None
    identity = track.checksum or f"{track.path}\0{track.size_bytes}"
    key = hashlib.sha256(f"{identity}\0{plan.codec.name}\0{plan.bitrate}\0{plan.channels}".encode()).hexdigest()
    return _cache_dir() / key[:2] / f"{key}.{plan.codec.suffix}"


def _cached(target: Path | None) -> Path | None:
    if target is None or not target.is_file():
        return None
    cache_file_used(target)
    return target


def _cache_trim() -> None:
    cache_trim(_cache_dir(), max_bytes=settings.TRANSCODE_CACHE_SIZE)


class _CacheWriter:
    """A transcode being copied into the cache: published only whole (a temp file, then os.replace)."""

    def __init__(self, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        self._target = target
        descriptor, name = tempfile.mkstemp(dir=target.parent, prefix=".part-")
        self._temp = Path(name)
        self._out: Any = os.fdopen(descriptor, "wb")

    def write(self, chunk: bytes) -> None:
        self._out.write(chunk)

    def publish(self) -> None:
        self._out.close()
        os.replace(self._temp, self._target)
        _cache_trim()

    def discard(self) -> None:
        self._out.close()
        self._temp.unlink(missing_ok=True)


class _Encoding:
    """ffmpeg's output as it comes, exactly `length` bytes when given (cut, or padded with zeros).

    An iterator with `close()`, which Django's response calls when the player hangs up or the response ends,
    whether or not iteration started: the process is killed and its slot given back exactly once.
    """

    def __init__(
        self,
        process: subprocess.Popen[bytes],
        *,
        plan: TranscodePlan,
        length: int | None,
        release: Callable[[], None],
        cache: _CacheWriter | None,
    ) -> None:
        self._process = process
        self._length = length
        self._sent = 0
        self._cache = cache
        self._release: Callable[[], None] | None = release
        # A ceiling on each process: a paused player holds ffmpeg blocked on the pipe, never forever.
        ceiling = max(float(settings.TRANSCODE_MIN_CEILING_SECONDS), plan.duration_seconds * 3)
        self._ceiling = threading.Timer(ceiling, process.kill)
        self._ceiling.daemon = True
        self._ceiling.start()

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        assert self._process.stdout is not None
        chunk = self._process.stdout.read(CHUNK_SIZE)
        if self._cache is not None:
            if chunk:
                self._cache.write(chunk)
            elif self._process.wait() == 0:  # the whole transcode went through: keep it
                self._cache.publish()
                self._cache = None
        if self._length is not None:
            remaining = self._length - self._sent
            chunk = chunk[:remaining] if chunk else bytes(min(remaining, CHUNK_SIZE))
        if not chunk:
            raise StopIteration
        self._sent += len(chunk)
        return chunk

    def close(self) -> None:
        self._ceiling.cancel()
        if self._process.poll() is None:
            self._process.kill()
        returncode = self._process.wait()
        if returncode not in (0, -9):
            logger.warning("ffmpeg exited with status %s", returncode)
        if self._cache is not None:  # cut short (a hang-up, a length cut, a failure): never cached
            self._cache.discard()
            self._cache = None
        if self._release is not None:
            self._release()
            self._release = None


def transcode_response(
    request: HttpRequest, *, track: Track, path: Path, plan: TranscodePlan, user_id: int, estimate_length: bool
) -> HttpResponseBase:
    """The cached transcode (with Range), or a response that streams the transcode while ffmpeg encodes it (no
    Range: a fresh encode has no bytes to seek in yet; players seek with timeOffset)."""
    target = _cache_path(track, plan)
    cached = _cached(target)
    if cached is not None:
        response = file_response(request, path=cached, content_type=plan.codec.content_type)
        response["X-Content-Duration"] = f"{plan.duration_seconds:.2f}"
        return response
    length = expected_length(plan) if estimate_length else None
    headers = {
        "X-Content-Duration": f"{plan.duration_seconds:.2f}",
        "Accept-Ranges": "none",
        "Cache-Control": "no-store",
    }
    if length is not None:
        headers["Content-Length"] = str(length)
    if request.method == "HEAD":
        return HttpResponse(content_type=plan.codec.content_type, headers=headers)
    _slot_take(user_id)
    try:
        process = subprocess.Popen(
            ffmpeg_arguments(path=path, plan=plan),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
    except OSError as exc:
        _slot_release(user_id)
        logger.warning("ffmpeg could not start for track %s: %s", track.pk, exc)
        raise ServiceUnavailableError("The transcoder could not start; ask for format=raw.") from exc
    cache = _CacheWriter(target) if target is not None else None
    encoding = _Encoding(process, plan=plan, length=length, release=lambda: _slot_release(user_id), cache=cache)
    return StreamingHttpResponse(encoding, content_type=plan.codec.content_type, headers=headers)


def playback_response(
    request: HttpRequest,
    *,
    track: Track,
    path: Path,
    user_id: int,
    limits: PlaybackLimits,
    requested_format: str | None,
    max_bitrate: int,
    offset_seconds: float,
    estimate_length: bool,
) -> HttpResponseBase:
    """What a player gets for "play this track" with these wishes: the file itself (Range and all) or a
    transcode. The one place both APIs' stream endpoints decide it."""
    plan = transcode_plan(
        track=track,
        requested_format=requested_format,
        max_bitrate=max_bitrate,
        limits=limits,
        offset_seconds=offset_seconds,
    )
    if plan is not None:
        return transcode_response(
            request, track=track, path=path, plan=plan, user_id=user_id, estimate_length=estimate_length
        )
    response = file_response(request, path=path, content_type=track.content_type or "application/octet-stream")
    response["X-Content-Duration"] = f"{track.duration_ms / 1000:.2f}"
    return response
