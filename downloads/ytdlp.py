"""Audio downloads with an embedded yt-dlp. The only importer of yt_dlp.

Everything yt-dlp raises is turned into `MediaDownloadError`, a plain exception carrying the facts the error
classifier needs (HTTP status, network failure, geo block...), so no yt_dlp type leaks out of this module.
Options are fixed here and never taken from users: no exec/netrc/external-downloader options, no side files
(subtitles, links, info json), and only `allowed_extractors` may handle a URL.
"""

from __future__ import annotations

import logging
import math
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yt_dlp
from yt_dlp.cookies import CookieLoadError
from yt_dlp.networking.exceptions import HTTPError, IncompleteRead, TransportError
from yt_dlp.utils import (
    ContentTooShortError,
    DownloadError,
    ExtractorError,
    GeoRestrictedError,
    PostProcessingError,
    UnsupportedError,
)

logger = logging.getLogger(__name__)

# The final file must have one of these extensions before it may enter the library (yt-dlp has had extension
# allow-list bypasses; we check ourselves).
AUDIO_EXTENSIONS = frozenset({"opus", "ogg", "m4a", "mp3", "flac", "aac"})
TRANSCODE_FORMATS = frozenset({"opus", "mp3", "m4a"})
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass(frozen=True)
class ArrivingFile:
    """The file yt-dlp appends the media to while it arrives, and what the chosen format says it is."""

    path: Path
    ext: str  # the container of the source's bytes (webm, m4a, opus...), before any post-processing
    exact_size: int | None  # the whole length, when the origin announced it (not an estimate)
    # What the format reports of its audio, each empty or 0 where it says nothing (a plain file URL).
    codec: str = ""
    bitrate: int = 0  # kbps
    sample_rate: int = 0  # Hz
    channels: int = 0


@dataclass(frozen=True)
class DownloadProgress:
    downloaded_bytes: int
    total_bytes: int | None
    speed: float | None
    eta: int | None
    finished: bool = False
    # While bytes arrive: where they land. A "finished" report has none (the file got its final name).
    arriving: ArrivingFile | None = None


@dataclass(frozen=True)
class DownloadOptions:
    allowed_extractors: Sequence[str]
    audio_format: str = "original"  # "original" keeps the source codec; else one of TRANSCODE_FORMATS
    audio_quality: str = "0"
    max_filesize: int | None = None
    socket_timeout: float = 30.0
    rate_limit: int | None = None
    progress_interval: float = 1.0


@dataclass
class MediaDownloadError(Exception):
    """A download failed; the fields describe how, for `downloads.errors.classify`."""

    message: str
    status: int | None = None
    network: bool = False
    incomplete: bool = False
    geo_countries: tuple[str, ...] | None = None
    unsupported: bool = False
    cookies: bool = False
    postprocessing: bool = False
    too_large: bool = False
    not_audio: bool = False
    config: bool = False
    kind: str = field(default="")

    def __str__(self) -> str:
        return self.message


def _clean(message: str) -> str:
    return _ANSI.sub("", message).removeprefix("ERROR: ").strip()


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The error and everything it wraps: DownloadError.exc_info, ExtractorError.cause, __cause__, __context__."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop(0)
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        exc_info = getattr(current, "exc_info", None)
        if isinstance(exc_info, tuple) and len(exc_info) > 1 and isinstance(exc_info[1], BaseException):
            pending.append(exc_info[1])
        cause = getattr(current, "cause", None)
        if isinstance(cause, BaseException):
            pending.append(cause)
        pending.extend([current.__cause__, current.__context__])


def translate_error(exc: BaseException) -> MediaDownloadError:
    """Turn any yt-dlp failure into a MediaDownloadError (the classifier's input)."""
    error = MediaDownloadError(_clean(str(exc)) or type(exc).__name__, kind=type(exc).__name__)
    for cause in _causes(exc):
        if isinstance(cause, HTTPError):
            error.status = cause.status
        elif isinstance(cause, IncompleteRead | ContentTooShortError):
            error.incomplete = True
        elif isinstance(cause, TransportError | TimeoutError | ConnectionError):
            error.network = True
        elif isinstance(cause, GeoRestrictedError):
            error.geo_countries = tuple(cause.countries or ())
        elif isinstance(cause, UnsupportedError):
            error.unsupported = True
        elif isinstance(cause, CookieLoadError):
            error.cookies = True
        elif isinstance(cause, PostProcessingError):
            error.postprocessing = True
    if "bytes read" in error.message and "more expected" in error.message:
        error.incomplete = True
    if "No suitable extractor" in error.message or "Unsupported URL" in error.message:
        error.unsupported = True
    return error


def _private_cookies_copy(source: str, work_dir: Path) -> Path:
    """Copy the user's cookies into the job dir (mode 0600): yt-dlp rewrites its cookie file on close."""
    target = work_dir / "cookies.txt"
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out, open(source, "rb") as src:
        shutil.copyfileobj(src, out)
    return target


class _QuietLogger:
    """yt-dlp's chatter goes to our log at debug level; its errors come back as exceptions anyway."""

    def debug(self, msg: str) -> None:
        logger.debug("yt-dlp: %s", _clean(msg))

    def info(self, msg: str) -> None:
        logger.debug("yt-dlp: %s", _clean(msg))

    def warning(self, msg: str) -> None:
        logger.info("yt-dlp warning: %s", _clean(msg))

    def error(self, msg: str) -> None:
        logger.info("yt-dlp error: %s", _clean(msg))


def audio_download(
    *,
    url: str,
    work_dir: Path,
    options: DownloadOptions,
    on_progress: Callable[[DownloadProgress], None],
    cookies_file: str | None = None,
) -> Path:
    """Download the audio of `url` into `work_dir` and return the file.

    `on_progress` is called when the first bytes arrive (with the file they land in, see `ArrivingFile`), then at
    most once per `options.progress_interval` while they do, and once when the transfer finishes; an exception it
    raises (cancellation) aborts the download and comes out unchanged.
    Partial files stay in `work_dir`; the caller owns the directory and removes it.
    """
    work_dir.mkdir(parents=True, exist_ok=True)
    last_report = 0.0

    def hook(d: dict[str, Any]) -> None:
        nonlocal last_report
        status = d.get("status")
        if status not in ("downloading", "finished"):
            return
        now = time.monotonic()
        if status == "downloading" and now - last_report < options.progress_interval:
            return
        last_report = now
        total = d.get("total_bytes") or d.get("total_bytes_estimate")
        on_progress(
            DownloadProgress(
                downloaded_bytes=int(d.get("downloaded_bytes") or 0),
                total_bytes=int(total) if total else None,
                speed=float(d["speed"]) if d.get("speed") else None,
                eta=int(d["eta"]) if d.get("eta") is not None else None,
                finished=status == "finished",
                arriving=_arriving_file(d) if status == "downloading" else None,
            )
        )

    codec = "best" if options.audio_format == "original" else options.audio_format
    if codec != "best" and codec not in TRANSCODE_FORMATS:
        raise MediaDownloadError(
            f"DOWNLOAD_FORMAT {options.audio_format!r} is not one of original, opus, mp3, m4a", config=True
        )
    ydl_opts: dict[str, Any] = {
        "format": "bestaudio/best",
        "paths": {"home": str(work_dir), "temp": str(work_dir / "partial")},
        "outtmpl": {"default": "media.%(ext)s"},
        "postprocessors": [
            {"key": "FFmpegExtractAudio", "preferredcodec": codec, "preferredquality": options.audio_quality}
        ],
        "allowed_extractors": list(options.allowed_extractors),
        "noplaylist": True,
        "progress_hooks": [hook],
        "retries": 2,
        "fragment_retries": 2,
        "extractor_retries": 2,
        "socket_timeout": options.socket_timeout,
        "cachedir": False,
        "quiet": True,
        "no_warnings": True,
        "noprogress": True,
        "color": "never",
        "logger": _QuietLogger(),
        "enable_file_urls": False,
    }
    if options.max_filesize:
        ydl_opts["max_filesize"] = options.max_filesize
    if options.rate_limit:
        ydl_opts["ratelimit"] = options.rate_limit
    private_cookies = _private_cookies_copy(cookies_file, work_dir) if cookies_file else None
    if private_cookies:
        ydl_opts["cookiefile"] = str(private_cookies)
    try:
        with yt_dlp.YoutubeDL(ydl_opts) as ydl:
            info = ydl.extract_info(url, download=True)
    except (DownloadError, ExtractorError, PostProcessingError) as exc:
        raise translate_error(exc) from exc
    finally:
        if private_cookies:
            private_cookies.unlink(missing_ok=True)
    return _result_file(info or {}, work_dir, options)


def _arriving_file(hook_report: dict[str, Any]) -> ArrivingFile | None:
    partial = hook_report.get("tmpfilename")
    info = hook_report.get("info_dict") or {}
    ext = info.get("ext")
    if not isinstance(partial, str) or not isinstance(ext, str):
        return None
    exact = hook_report.get("total_bytes")
    codec = info.get("acodec")
    return ArrivingFile(
        path=Path(partial),
        ext=ext.lower(),
        exact_size=int(exact) if exact else None,
        codec=codec.lower() if isinstance(codec, str) and codec != "none" else "",
        bitrate=_whole_number(info.get("abr")),
        sample_rate=_whole_number(info.get("asr")),
        channels=_whole_number(info.get("audio_channels")),
    )


def _whole_number(value: Any) -> int:
    """A format's number as yt-dlp reports it (int, float or None), 0 when absent or nonsense."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return 0
    return max(0, round(value))


def _result_file(info: dict[str, Any], work_dir: Path, options: DownloadOptions) -> Path:
    downloads = info.get("requested_downloads") or []
    path = Path(downloads[0]["filepath"]) if downloads and downloads[0].get("filepath") else None
    if path is None or not path.is_file():
        size = info.get("filesize") or info.get("filesize_approx")
        if options.max_filesize and size and int(size) > options.max_filesize:
            raise MediaDownloadError(
                f"the file is {int(size)} bytes, above DOWNLOAD_MAX_FILESIZE ({options.max_filesize})", too_large=True
            )
        # yt-dlp skips over-large files without raising and without telling us the size up front.
        raise MediaDownloadError(
            "yt-dlp finished without producing a file (over DOWNLOAD_MAX_FILESIZE?)", too_large=True
        )
    if path.resolve().parent != work_dir.resolve():
        raise MediaDownloadError(f"yt-dlp wrote outside the work directory: {path}")
    suffix = path.suffix.lower().lstrip(".")
    if suffix not in AUDIO_EXTENSIONS:
        raise MediaDownloadError(f"the downloaded file has extension .{suffix}, which is not audio", not_audio=True)
    if path.stat().st_size == 0:
        raise MediaDownloadError("the downloaded file is empty", incomplete=True)
    return path
