"""Transcoding for playback: which stream a player gets, and ffmpeg encoding it while it is sent.

The only module that runs ffmpeg for streams. `transcode_plan` decides (None = send the original bytes);
`transcode_response` runs ffmpeg and streams its output as it encodes; `growing_transcode_response` does the same
for a song still arriving (a relayed download), its bytes fed to ffmpeg's stdin as they come. ffmpeg never sees
anything but a fixed argument list built here from a known codec, a clamped bitrate and a number of seconds, so
no request can pass it options. Every process is bounded (global and per-user slots, a wall-clock ceiling) and
killed as soon as the player hangs up or the response is closed.

A transcode that ran to its end (from the start of the song) is kept in a size-bounded cache under the cache dir,
keyed by the file's checksum and the profile, so a replay, a second player or a seek (Range, 206) costs nothing;
one cut short never enters it.
"""

from __future__ import annotations

import contextlib
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
from django.db import connections
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase

from accounts.models import User
from library.disk_cache import cache_file_used, cache_trim
from library.models import Track
from library.streaming import FollowedChunks, GrowingFile, file_response, growing_file_response
from mcma.errors import (
    ApplicationError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    ServiceUnavailableError,
)

logger = logging.getLogger(__name__)

CHUNK_SIZE = 64 * 1024
RAW = "raw"
# The highest bitrate limit a request may name (kbps): far above any codec's, so "no limit" in effect; anything
# larger is a mistake (bits per second, a typo) worth saying so.
MAX_BITRATE = 100_000


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
    sample_rates: tuple[int, ...]  # Hz the encoder takes; empty = any
    bit_depths: tuple[int, ...]  # lossless only: the sample sizes it writes

    @property
    def lossless(self) -> bool:
        return self.max_bitrate == 0

    def sample_rate_for(self, wanted: int) -> int:
        """The rate sent for a source (or a player's ceiling) of `wanted` Hz: the highest the encoder takes at or
        below it, else its lowest. 0 (unknown source, no ceiling) leaves the source's rate to ffmpeg, except for
        an encoder with one rate only (opus: 48 kHz whatever goes in)."""
        if not self.sample_rates:
            return wanted
        if not wanted:
            return self.sample_rates[0] if len(self.sample_rates) == 1 else 0
        fitting = [rate for rate in self.sample_rates if rate <= wanted]
        return max(fitting) if fitting else min(self.sample_rates)

    def bit_depth_for(self, wanted: int) -> int:
        """The sample size sent for a source (or a ceiling) of `wanted` bits: the largest the encoder writes at or
        below it, else its smallest; 0 for lossy codecs (no sample size) and unknown sources."""
        if not self.bit_depths or not wanted:
            return 0
        fitting = [depth for depth in self.bit_depths if depth <= wanted]
        return max(fitting) if fitting else min(self.bit_depths)


_MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
_AAC_RATES = (7350, 8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 64000, 88200, 96000)
CODECS: dict[str, Codec] = {
    "mp3": Codec("mp3", "libmp3lame", "mp3", "audio/mpeg", "mp3", 2, 32, 320, 192, _MP3_RATES, ()),
    "opus": Codec("opus", "libopus", "ogg", "audio/ogg", "opus", 2, 16, 256, 128, (48000,), ()),
    "aac": Codec("aac", "aac", "adts", "audio/aac", "aac", 2, 32, 320, 192, _AAC_RATES, ()),
    "flac": Codec("flac", "flac", "flac", "audio/flac", "flac", 8, 0, 0, 0, (), (16, 24)),
}
# ffmpeg's FLAC encoder takes 16-bit samples as s16 and writes 24-bit ones from s32.
_SAMPLE_FORMATS = {16: "s16", 24: "s32"}
# What a stored file already is, by its codec or suffix, so "already at or below the asked bitrate in that
# format" can be sent as it is.
_SOURCE_CODEC = {"mp3": "mp3", "opus": "opus", "aac": "aac", "m4a": "aac", "flac": "flac"}


class TranscodeBusyError(ServiceUnavailableError):
    code = "transcoder_busy"


class TranscodeFailedError(ApplicationError):
    """ffmpeg ended without a byte of output: the file is damaged or not audio it can decode."""

    code = "transcode_failed"


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
    @property
    def sample_rate(self) -> int: ...
    @property
    def bit_depth(self) -> int | None: ...


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
class AudioCeiling:
    """The most a player takes of each (0 = no limit), as a transcode decision read it from the player's codec
    limitations; every transcode also stays within what the source has and the codec can write."""

    channels: int = 0
    sample_rate: int = 0  # Hz
    bit_depth: int = 0


NO_CEILING = AudioCeiling()


@dataclass(frozen=True)
class TranscodePlan:
    codec: Codec
    bitrate: int  # kbps; 0 for lossless
    offset_seconds: float
    channels: int
    sample_rate: int  # Hz; 0 = the source's (unknown here)
    bit_depth: int  # lossless only; 0 = the source's, or lossy
    duration_seconds: float  # of what is sent: the song's length after the offset


def _plan(
    codec: Codec, bitrate: int, offset_seconds: float, track: TrackAudio, ceiling: AudioCeiling = NO_CEILING
) -> TranscodePlan:
    channels = min(track.channels or 2, codec.max_channels, ceiling.channels or codec.max_channels)
    sample_rate = codec.sample_rate_for(lowest_limit(track.sample_rate, ceiling.sample_rate))
    bit_depth = codec.bit_depth_for(lowest_limit(track.bit_depth or 0, ceiling.bit_depth))
    remaining = max(0.0, track.duration_ms / 1000 - offset_seconds)
    return TranscodePlan(codec, bitrate, offset_seconds, channels, sample_rate, bit_depth, remaining)


@lru_cache(maxsize=1)
def ffmpeg_path() -> str | None:
    """ffmpeg on PATH, or None: then transcoding is unavailable and originals are sent."""
    return shutil.which("ffmpeg")


@dataclass(frozen=True)
class TranscodingStatus:
    available: bool
    message: str


def transcoding_status() -> TranscodingStatus:
    """What health pages say of transcoding: without ffmpeg, players get the original files."""
    if ffmpeg_path() is None:
        return TranscodingStatus(
            False, "ffmpeg is not installed: players get the original files (no format, bitrate limit or timeOffset)"
        )
    return TranscodingStatus(
        True,
        f"ffmpeg: up to {settings.TRANSCODE_MAX_PROCESSES} transcodes at once per web process, "
        f"{settings.TRANSCODE_MAX_PER_USER} per user",
    )


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
    fmt = format_requested(requested_format)
    if fmt == RAW:
        return None
    max_bitrate_requested(max_bitrate)
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


def format_requested(requested_format: str | None) -> str | None:
    """The format a request names (a codec name or `raw`), None when it names none; InvalidInputError otherwise."""
    fmt = (requested_format or "").strip().lower() or None
    if fmt is not None and fmt != RAW and fmt not in CODECS:
        raise InvalidInputError(f"format must be one of {', '.join([*CODECS, RAW])}", details={"format": fmt})
    return fmt


def max_bitrate_requested(max_bitrate: int) -> int:
    """A request's bitrate limit in kbps (0 = none); InvalidInputError when it is negative or absurd."""
    if not 0 <= max_bitrate <= MAX_BITRATE:
        raise InvalidInputError(
            f"maxBitRate must be from 0 (no limit) to {MAX_BITRATE} kbps", details={"maxBitRate": max_bitrate}
        )
    return max_bitrate


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
    *, track: TrackAudio, codec_name: str, bitrate: int, ceiling: AudioCeiling, offset_seconds: float
) -> TranscodePlan:
    """The plan for a transcode decided elsewhere (an OpenSubsonic transcode decision): the same clamps as
    `transcode_plan` (the codec's bitrate range, channels, sample rates and sizes, never above the source's), so
    nothing decided outside can widen them."""
    _check_offset(track, offset_seconds)
    codec = CODECS[codec_name]
    return _plan(codec, 0 if codec.lossless else _bitrate(codec, bitrate), offset_seconds, track, ceiling)


def _bitrate(codec: Codec, limit: int) -> int:
    """The codec's default under no limit; any limit clamped into what the codec can encode."""
    return max(codec.min_bitrate, min(limit or codec.default_bitrate, codec.max_bitrate))


def ffmpeg_arguments(*, path: Path | None, plan: TranscodePlan) -> list[str]:
    """The whole command line: every value comes from a known codec, a clamped number or the stored path (None:
    the input comes on stdin, as a relayed download's bytes do)."""
    executable = ffmpeg_path() or "ffmpeg"
    args = [executable, "-nostdin", "-hide_banner", "-loglevel", "error"]
    if plan.offset_seconds:
        args += ["-ss", f"{plan.offset_seconds:.3f}"]  # before -i: a fast seek in a file, decode-and-drop on a pipe
    args += ["-i", "pipe:0" if path is None else str(path)]
    args += ["-map", "0:a:0", "-vn", "-map_metadata", "-1", "-ac", str(plan.channels)]
    if plan.sample_rate:
        args += ["-ar", str(plan.sample_rate)]
    if plan.bit_depth:
        args += ["-sample_fmt", _SAMPLE_FORMATS[plan.bit_depth]]
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


def file_identity(track: Track) -> str:
    """What changes when the song's file does: its checksum, or its path and size before it has one."""
    return track.checksum or f"{track.path}\0{track.size_bytes}"


def _cache_path(track: Track, plan: TranscodePlan) -> Path | None:
    """Where this transcode is kept, or None when it cannot be (an offset start, or the cache is off)."""
    if plan.offset_seconds or not settings.TRANSCODE_CACHE_SIZE:
        return None
    profile = (plan.codec.name, plan.bitrate, plan.channels, plan.sample_rate, plan.bit_depth)
    key = hashlib.sha256("\0".join(map(str, (file_identity(track), *profile))).encode()).hexdigest()
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
        feeder: _Feeder | None = None,
    ) -> None:
        self._process = process
        self._feeder = feeder
        self._length = length
        self._sent = 0
        self._cache = cache
        self._first: bytes | None = None
        self._release: Callable[[], None] | None = release
        # A ceiling on each process: a paused player holds ffmpeg blocked on the pipe, never forever.
        ceiling = max(float(settings.TRANSCODE_MIN_CEILING_SECONDS), plan.duration_seconds * 3)
        self._ceiling = threading.Timer(ceiling, process.kill)
        self._ceiling.daemon = True
        self._ceiling.start()

    def start(self) -> None:
        """Wait for ffmpeg's first bytes (which the player waits for anyway), so a file ffmpeg cannot decode is a
        clear error before any header is sent, not an empty 200."""
        self._first = self._read()
        if not self._first and self._process.wait() != 0:
            self.close()
            raise TranscodeFailedError("The song's file could not be transcoded (is it damaged?); ask for format=raw.")

    def _read(self) -> bytes:
        assert self._process.stdout is not None
        chunk = self._process.stdout.read(CHUNK_SIZE)
        if self._cache is not None:
            if chunk:
                self._cache.write(chunk)
            elif self._process.wait() == 0:  # the whole transcode went through: keep it
                self._cache.publish()
                self._cache = None
        return chunk

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        chunk = self._first if self._first is not None else self._read()
        self._first = None
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
        if self._feeder is not None:
            self._feeder.stop()
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
    if not path.is_file():
        raise NotFoundError("The file is missing from storage.")
    if request.method == "HEAD":
        return HttpResponse(content_type=plan.codec.content_type, headers=headers)
    encoding = _encoding_start(plan=plan, path=path, feed=None, user_id=user_id, length=length, target=target)
    return StreamingHttpResponse(encoding, content_type=plan.codec.content_type, headers=headers)


class _Feeder:
    """Writes a growing file's bytes into ffmpeg's stdin as they arrive, from a thread of its own, then closes it
    (ffmpeg then finishes the encode). Bytes that stop short of the whole file (the download failed, stalled or
    restarted) kill ffmpeg instead, so the player's body ends short rather than passing a clipped song off as
    whole. The chunks (and what they hold, a relay's place) are given back when the thread ends."""

    def __init__(self, process: subprocess.Popen[bytes], chunks: FollowedChunks) -> None:
        self._process = process
        self._chunks = chunks
        self._thread = threading.Thread(target=self._run, name="transcode-feed", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        stdin = self._process.stdin
        assert stdin is not None
        try:
            for chunk in self._chunks:
                stdin.write(chunk)
        except OSError:  # ffmpeg is gone: killed on a hang-up or its ceiling, or it refused the input
            pass
        finally:
            if not self._chunks.whole:
                self._process.kill()
            with contextlib.suppress(OSError):  # a pipe whose reader is gone
                stdin.close()
            self._chunks.close()
            connections.close_all()  # this thread's own (the relay reads the job's state)

    def stop(self) -> None:
        """Stop feeding (ffmpeg was killed) and wait for the thread, so its places are back when this returns."""
        self._chunks.stop()
        self._thread.join(timeout=_FEEDER_JOIN_SECONDS)


# The feeder ends at its next wait for bytes (a fifth of a second) or write (ffmpeg is dead by then).
_FEEDER_JOIN_SECONDS = 5.0


def _encoding_start(
    *,
    plan: TranscodePlan,
    path: Path | None,
    feed: FollowedChunks | None,
    user_id: int,
    length: int | None,
    target: Path | None,
) -> _Encoding:
    """ffmpeg encoding `path` (or the bytes of `feed`, on stdin) under a slot, with its first bytes out; `feed`
    is closed with the encoding, or at once when ffmpeg cannot start."""
    try:
        _slot_take(user_id)
    except BaseException:
        if feed is not None:
            feed.close()
        raise
    try:
        process = subprocess.Popen(
            ffmpeg_arguments(path=path, plan=plan),
            stdin=subprocess.DEVNULL if feed is None else subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            bufsize=0,  # unbuffered: each read returns what ffmpeg has written so far, so the first bytes leave at once
        )
    except OSError as exc:
        _slot_release(user_id)
        if feed is not None:
            feed.close()
        logger.warning("ffmpeg could not start for %s: %s", path or "a relayed download", exc)
        raise ServiceUnavailableError("The transcoder could not start; ask for format=raw.") from exc
    cache = _CacheWriter(target) if target is not None else None
    feeder = _Feeder(process, feed) if feed is not None else None
    encoding = _Encoding(
        process, plan=plan, length=length, release=lambda: _slot_release(user_id), cache=cache, feeder=feeder
    )
    encoding.start()
    return encoding


class GrowingAudio(GrowingFile, TrackAudio, Protocol):
    """A song still arriving (`downloads.relay.ArrivingMedia`): a growing file that knows what audio it holds."""


def growing_transcode_response(
    request: HttpRequest, *, media: GrowingAudio, plan: TranscodePlan, user_id: int
) -> HttpResponseBase:
    """The transcode of a song still arriving, encoded as its bytes come: no Content-Length (unknown until the
    end), no Range (the whole stream, as RFC 9110 §14.2 allows), never cached (the library copy is seconds away).
    `media` is closed with the response."""
    headers = {
        "X-Content-Duration": f"{plan.duration_seconds:.2f}",
        "Accept-Ranges": "none",
        "Cache-Control": "no-store",
    }
    if request.method == "HEAD":
        media.close()
        return HttpResponse(content_type=plan.codec.content_type, headers=headers)
    encoding = _encoding_start(plan=plan, path=None, feed=media.stream(), user_id=user_id, length=None, target=None)
    return StreamingHttpResponse(encoding, content_type=plan.codec.content_type, headers=headers)


def stream_permission_check(*, user: User) -> None:
    """Whether `user` may have audio at all (the stream role), for every endpoint that plays a track: checked
    before the track is looked up, so a refused user neither learns which tracks exist nor starts a download."""
    if not user.can_stream:
        raise PermissionDeniedError(f"User {user.username!r} is not allowed to stream (an admin can allow it).")


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


def relay_playback_response(
    request: HttpRequest,
    *,
    media: GrowingAudio,
    user_id: int,
    limits: PlaybackLimits,
    requested_format: str | None,
    max_bitrate: int,
    offset_seconds: float,
) -> HttpResponseBase:
    """`playback_response` for a song still arriving: the same rules decide whether it is transcoded."""
    return relay_response(
        request,
        media=media,
        user_id=user_id,
        plan=lambda: transcode_plan(
            track=media,
            requested_format=requested_format,
            max_bitrate=max_bitrate,
            limits=limits,
            offset_seconds=offset_seconds,
        ),
    )


def relay_response(
    request: HttpRequest, *, media: GrowingAudio, user_id: int, plan: Callable[[], TranscodePlan | None]
) -> HttpResponseBase:
    """A song still arriving: its bytes as they come (`growing_file_response`), or ffmpeg's encoding of them as
    they come under the plan `plan` makes (None: the bytes). `media` is closed with the response, or at once when
    the plan refuses the request's wishes."""
    try:
        chosen = plan()
    except BaseException:
        media.close()
        raise
    if chosen is not None:
        return growing_transcode_response(request, media=media, plan=chosen, user_id=user_id)
    response = growing_file_response(request, media=media)
    if media.duration_ms:
        response["X-Content-Duration"] = f"{media.duration_ms / 1000:.2f}"
    return response
