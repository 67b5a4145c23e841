"""Where the bytes of a running song download are, so a web process can relay them to a player while they arrive.

The worker side: yt-dlp appends the source's bytes to one file in the job's work dir; the first progress report
announces that file on the job (`meta["arriving"]`: attempt, path inside the work dir, container, exact size,
and what the format reports of its audio, for transcode decisions), and the "finished" report adds the whole
length. Before the pipeline rewrites the file (tags, cover),
`downloaded_file_detach` gives it a fresh copy, so the file relays hold open keeps the bytes as they came.

The web side: `arriving_media_open` opens that file (an open descriptor survives yt-dlp's `.part` rename, the
move out of the temp dir and the work dir's removal), and `ArrivingMedia.stream` follows it as it grows. A relay
ends when it has the whole length, when the job stops being this attempt's (failed, cancelled, retried), when
the file shrinks (yt-dlp restarted from scratch), or after DOWNLOAD_RELAY_IDLE_SECONDS without a new byte. It
only reads: a player hanging up never touches the download. Nothing here applies when the worker's files are not
visible from the web process (another host): `arriving_media_open` then answers None.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from django.conf import settings

from downloads.models import DownloadJob, JobPhase, JobState
from downloads.ytdlp import DownloadProgress
from library.storage import media_root

CHUNK_SIZE = 64 * 1024
_POLL_SECONDS = 0.2
# The containers yt-dlp may fetch audio in, as players name them; anything else is not relayed (the player waits
# for the library copy instead).
CONTENT_TYPES = {
    "webm": "audio/webm",
    "weba": "audio/webm",
    "m4a": "audio/mp4",
    "mp4": "audio/mp4",
    "opus": "audio/ogg",
    "ogg": "audio/ogg",
    "oga": "audio/ogg",
    "mp3": "audio/mpeg",
    "aac": "audio/aac",
    "flac": "audio/flac",
}
# The codec a container's audio is in when the format does not say (YouTube's webm audio is always opus), in the
# names `library.transcoding` reads (`Track.codec`).
_CODECS = {"webm": "opus", "weba": "opus", "opus": "opus", "m4a": "aac", "mp4": "aac", "aac": "aac", "mp3": "mp3"}
# Ogg holds opus, vorbis or flac: its first page (a 27-byte header, a segment table, then the codec's
# identification packet) says which.
_OGG_HEAD_BYTES = 64
_OGG_EXTS = ("ogg", "oga")
_OGG_MARKERS = ((b"OpusHead", "opus"), (b"\x01vorbis", "vorbis"), (b"\x7fFLAC", "flac"))


def work_root() -> Path:
    return Path(settings.DOWNLOAD_TEMP_DIR) if settings.DOWNLOAD_TEMP_DIR else media_root() / ".incoming"


def work_dir(*, job_id: Any, attempt: int) -> Path:
    """Per attempt: a worker that lost its job (and cleans up late) never touches its successor's files."""
    return work_root() / str(job_id) / str(attempt)


# ---------------------------------------------------------------------------------------------------------------
# Worker side
# ---------------------------------------------------------------------------------------------------------------
def arrival_meta(meta: dict[str, Any], *, job: DownloadJob, progress: DownloadProgress) -> dict[str, Any] | None:
    """The job's meta announcing where this attempt's media arrives (its first report of a file) or its whole
    length (the "finished" report); None when the report says nothing new, so most reports write no meta."""
    found = meta.get("arriving")
    record: dict[str, Any] | None = found if isinstance(found, dict) and found.get("attempt") == job.attempt else None
    if progress.arriving is not None:
        folder = work_dir(job_id=job.pk, attempt=job.attempt)
        try:
            inside = progress.arriving.path.resolve().relative_to(folder.resolve())
        except ValueError:
            return None  # yt-dlp writing outside the work dir is refused later; never point a relay there
        if record is not None and record.get("file") == inside.as_posix():
            return None
        announced = {
            "attempt": job.attempt,
            "file": inside.as_posix(),
            "ext": progress.arriving.ext,
            "exact_size": progress.arriving.exact_size,
            "complete_size": None,
            "codec": progress.arriving.codec,
            "bitrate": progress.arriving.bitrate,
            "sample_rate": progress.arriving.sample_rate,
            "channels": progress.arriving.channels,
        }
        return {**meta, "arriving": announced}
    if progress.finished and record is not None:
        return {**meta, "arriving": {**record, "complete_size": progress.downloaded_bytes}}
    return None


def downloaded_file_detach(path: Path) -> None:
    """Give `path` a fresh copy under the same name before anything rewrites it in place (mutagen does): the
    file a relay holds open keeps the bytes as they came, and the pipeline goes on with the same path."""
    fresh = path.with_name(f".detached-{path.name}")
    shutil.copy2(path, fresh)
    os.replace(fresh, path)


# ---------------------------------------------------------------------------------------------------------------
# Web side
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ArrivingFormat:
    """What the download's format reports of its audio (0 or empty where it says nothing)."""

    codec: str = ""
    bitrate: int = 0  # kbps
    sample_rate: int = 0
    channels: int = 0


class ArrivingMedia:
    """A running download's file, opened for relaying: what it is (also as `library.transcoding.TrackAudio`, so a
    transcode can be planned for it as for a track), and its bytes as they arrive."""

    bit_depth = None  # lossy sources only

    def __init__(
        self,
        handle: BinaryIO,
        *,
        job_id: Any,
        attempt: int,
        ext: str,
        exact_size: int | None,
        duration_ms: int,
        audio: ArrivingFormat = ArrivingFormat(),
    ) -> None:
        self._handle = handle
        self._job_id = job_id
        self._attempt = attempt
        self._lock = threading.Lock()
        self._on_close: list[Callable[[], None]] = []
        self._closed = False
        self.ext = ext
        self.content_type = CONTENT_TYPES[ext]
        self.exact_size = exact_size
        self.duration_ms = duration_ms
        self.suffix = ext
        reported = audio.codec.split(".")[0]  # yt-dlp names AAC by its RFC 6381 string (mp4a.40.2)
        self.codec = ("aac" if reported == "mp4a" else reported) or _CODECS.get(ext, "") or self._ogg_codec()
        self.sample_rate = audio.sample_rate
        self.channels = audio.channels
        # Without the format's own figure, the average over the whole file (its exact length over its duration):
        # what decides whether a bitrate limit calls for a transcode.
        estimate = exact_size * 8 // duration_ms if exact_size and duration_ms else 0
        self.bitrate = audio.bitrate or estimate

    def _ogg_codec(self) -> str:
        """An Ogg file's codec, from the identification header its first page carries (RFC 7845 §5.1, Vorbis I
        §4.2.2, the FLAC-in-Ogg mapping); "" for anything else."""
        if self.ext not in _OGG_EXTS:
            return ""
        head = self.read_at(0, _OGG_HEAD_BYTES)
        return next((codec for marker, codec in _OGG_MARKERS if marker in head), "")

    def available(self) -> int:
        """How many bytes have arrived so far."""
        return os.fstat(self._handle.fileno()).st_size

    def when_closed(self, callback: Callable[[], None]) -> None:
        self._on_close.append(callback)

    def stream(self, start: int = 0, end: int | None = None) -> ArrivingStream:
        """Bytes `start`..`end` (inclusive; None = to the end of the download) as they arrive."""
        return ArrivingStream(self, start, end)

    def close(self) -> None:
        """Give the file (and whatever was attached with `when_closed`) back; safe to call twice."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._handle.close()
        for callback in self._on_close:
            callback()

    def read_at(self, position: int, size: int) -> bytes:
        return os.pread(self._handle.fileno(), size, position)

    def download_state(self) -> tuple[bool, int | None]:
        """(whether the download is still this attempt's and has not failed, its whole length once known)."""
        row = DownloadJob.objects.filter(pk=self._job_id).values_list("state", "attempt", "meta").first()
        if row is None or row[1] != self._attempt:
            return False, None
        state, _attempt, meta = row
        record = meta.get("arriving") if isinstance(meta, dict) else None
        complete = record.get("complete_size") if isinstance(record, dict) else None
        if not isinstance(complete, int) and state == JobState.SUCCEEDED:
            complete = self.available()
        return state in (JobState.RUNNING, JobState.SUCCEEDED), complete if isinstance(complete, int) else None


class ArrivingStream:
    """An iterator over an `ArrivingMedia`'s bytes that waits for the ones still on their way; `close()` (which
    Django calls when the response ends or the player hangs up) closes the media."""

    def __init__(self, media: ArrivingMedia, start: int, end: int | None) -> None:
        self._media = media
        self._position = start
        self._end = end
        self._stopped = threading.Event()
        self._chunks = self._follow()
        self.whole = False  # whether it went through to its last byte (not cut short by a failure or a stop)

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        return next(self._chunks)

    def close(self) -> None:
        self._chunks.close()
        self._media.close()

    def stop(self) -> None:
        """End the iteration at its next wait for bytes; from any thread (one that feeds ffmpeg is stopped so)."""
        self._stopped.set()

    def _follow(self) -> Generator[bytes, None, None]:
        idle_since = time.monotonic()
        while not self._stopped.is_set():
            if self._end is not None and self._position > self._end:
                self.whole = True
                return
            wanted = CHUNK_SIZE if self._end is None else min(CHUNK_SIZE, self._end - self._position + 1)
            chunk = self._media.read_at(self._position, wanted)
            if chunk:
                self._position += len(chunk)
                idle_since = time.monotonic()
                yield chunk
                continue
            running, complete = self._media.download_state()
            if complete is not None and self._position >= complete:
                self.whole = True
                return  # the whole download went through
            if not running or self._media.available() < self._position:
                return  # failed, cancelled, taken over by another attempt, or restarted from its first byte
            if time.monotonic() - idle_since > settings.DOWNLOAD_RELAY_IDLE_SECONDS:
                return
            self._stopped.wait(_POLL_SECONDS)


def arriving_media_open(*, job_id: Any) -> ArrivingMedia | None:
    """The job's media as it arrives, if it is arriving now and this process can see it; None otherwise (not
    started, already past the download, or on a worker whose files are elsewhere)."""
    row = DownloadJob.objects.filter(pk=job_id).values_list("state", "phase", "attempt", "meta").first()
    if row is None:
        return None
    state, phase, attempt, meta = row
    record = meta.get("arriving") if isinstance(meta, dict) else None
    if state != JobState.RUNNING or phase != JobPhase.DOWNLOADING or not isinstance(record, dict):
        return None
    ext, relative = record.get("ext"), record.get("file")
    if record.get("attempt") != attempt or ext not in CONTENT_TYPES or not isinstance(relative, str):
        return None
    if Path(relative).is_absolute() or ".." in Path(relative).parts:
        return None  # only ever a name inside the attempt's work dir
    try:
        handle = open(work_dir(job_id=job_id, attempt=attempt) / relative, "rb")  # noqa: SIM115 (closed by close())
    except OSError:
        return None  # renamed at its end (the library copy is seconds away), or not on this host
    exact = record.get("exact_size")
    track = meta.get("track") if isinstance(meta.get("track"), dict) else {}
    duration = track.get("duration_ms") if isinstance(track, dict) else None
    codec = record.get("codec")
    audio = ArrivingFormat(
        codec=codec if isinstance(codec, str) else "",
        bitrate=_count(record.get("bitrate")),
        sample_rate=_count(record.get("sample_rate")),
        channels=_count(record.get("channels")),
    )
    media = ArrivingMedia(
        handle,
        job_id=job_id,
        attempt=attempt,
        ext=str(ext),
        exact_size=exact if isinstance(exact, int) and exact > 0 else None,
        duration_ms=duration if isinstance(duration, int) else 0,
        audio=audio,
    )
    if ext in _OGG_EXTS and not audio.codec and media.available() < _OGG_HEAD_BYTES:
        media.close()
        return None  # its codec is in its first bytes, moments away (a player waits for them anyway)
    return media


def _count(value: Any) -> int:
    """A number from the job's meta (written by a worker, perhaps an older one): 0 unless a positive int."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0
