"""Every way a download can fail, in one table: what it looks like, what class it is, what the user is told.

The first matching rule wins, so specific rules (cookies, bot check, geo block) come before generic ones (HTTP
status, network). Message patterns are brittle by nature; each row has its own test in
tests/downloads/test_errors.py. The retry policy per class (and the backoff formula) lives here too, so tasks and
services only ask `classify()` and `retry_delay()`.
"""

from __future__ import annotations

import errno
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from downloads.models import ErrorClass
from downloads.ytdlp import MediaDownloadError
from library.tags import UnreadableAudioError
from mcma.errors import ApplicationError, ConflictError, InvalidInputError, PermissionDeniedError, RateLimitedError
from sources.errors import SourceUnavailableError
from sources.resolving import CookiesConfigError, SourceRequestError


class JobCancelledError(Exception):
    """Raised from the progress callback when the job was cancelled (or taken over) while it ran."""


class DownloadRequestsNotAllowedError(PermissionDeniedError):
    """The user's `can_request_downloads` flag is off."""

    code = "download_requests_not_allowed"


class DownloadBudgetExceededError(RateLimitedError):
    """The user asked for DOWNLOAD_DAILY_LIMIT (or their own limit) song downloads in the last 24 hours."""

    code = "download_budget_exceeded"


class SourcePausedError(RateLimitedError):
    """The source rate-limited us (or showed a bot check): no new download is taken until the pause ends."""

    code = "source_paused"


class StillDownloadingError(ConflictError):
    """A song asked for playback is not playable yet (its download is still under way, or will be retried); the
    download goes on, and asking again later may succeed."""

    code = "still_downloading"


class DownloadEndedError(ConflictError):
    """A song asked for playback will not arrive: its download failed or was cancelled."""

    code = "download_ended"


class ImplausibleFileError(ApplicationError):
    """The downloaded file is audio, but not the track asked for (far too short or too long)."""

    code = "duration_mismatch"


@dataclass(frozen=True)
class Classified:
    error_class: ErrorClass
    code: str
    message: str
    # Rules may cap retries below the job's max_attempts (e.g. HTTP 403 is worth two more tries, not five).
    max_attempts: int | None = None
    details: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Rule:
    code: str
    error_class: ErrorClass
    matches: Callable[[BaseException], bool]
    explain: str  # the user-facing message; "{detail}" is the error's own text
    max_attempts: int | None = None


def _text(exc: BaseException) -> str:
    return str(exc)


def _says(*patterns: str) -> Callable[[BaseException], bool]:
    regex = re.compile("|".join(patterns), re.IGNORECASE)
    return lambda exc: bool(regex.search(_text(exc)))


def _status(*codes: int) -> Callable[[BaseException], bool]:
    def check(exc: BaseException) -> bool:
        status = getattr(exc, "status", None)
        return isinstance(exc, MediaDownloadError | SourceRequestError) and status in codes

    return check


def _server_error(exc: BaseException) -> bool:
    status = getattr(exc, "status", None)
    return isinstance(exc, MediaDownloadError | SourceRequestError) and isinstance(status, int) and status >= 500


def _media(attribute: str) -> Callable[[BaseException], bool]:
    return lambda exc: isinstance(exc, MediaDownloadError) and bool(getattr(exc, attribute))


def _geo(exc: BaseException) -> bool:
    return isinstance(exc, MediaDownloadError) and exc.geo_countries is not None


def _source(attribute: str) -> Callable[[BaseException], bool]:
    return lambda exc: isinstance(exc, SourceRequestError) and bool(getattr(exc, attribute))


def _of(*types: type[BaseException]) -> Callable[[BaseException], bool]:
    return lambda exc: isinstance(exc, types)


def _disk_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


RULES: tuple[Rule, ...] = (
    Rule("cookies_config", ErrorClass.CONFIG, _of(CookiesConfigError), "{detail}"),
    Rule(
        "cookies_invalid",
        ErrorClass.CONFIG,
        _media("cookies"),
        "The cookies file could not be loaded ({detail}); export it again in Netscape format.",
    ),
    Rule(
        "bot_check",
        ErrorClass.BOT_CHECK,
        _says(r"confirm you[\u2019']re not a bot", r"captcha", r"unusual traffic"),
        "YouTube asks this server to prove it is not a bot; downloads pause for a while. Configure cookies or a "
        "PO token if this keeps happening.",
    ),
    Rule(
        "needs_cookies",
        ErrorClass.NEEDS_COOKIES,
        _says(
            r"confirm your age",
            r"members[- ]only",
            r"join this channel",
            r"music premium",
            r"login required",
            r"use --cookies",
            r"account cookies",
        ),
        "This item needs a signed-in account: configure YOUTUBE_COOKIES_FILE and retry ({detail}).",
    ),
    Rule(
        "geo_blocked",
        ErrorClass.GEO_BLOCKED,
        lambda exc: _geo(exc) or bool(re.search(r"not made this video available in your country", _text(exc))),
        "This item is not available in the server's country.",
    ),
    Rule(
        "rate_limited",
        ErrorClass.RATE_LIMITED,
        lambda exc: _status(429)(exc) or bool(re.search(r"try again later|rate.?limit", _text(exc), re.IGNORECASE)),
        "The source is rate-limiting this server; downloads from it pause and resume automatically.",
    ),
    Rule(
        "extractor_not_allowed",
        ErrorClass.CONFIG,
        _media("unsupported"),
        "No allowed downloader handles this URL; check DOWNLOAD_ALLOWED_EXTRACTORS ({detail}).",
    ),
    Rule(
        "format_unavailable",
        ErrorClass.CONFIG,
        _says(r"requested format is not available", r"no supported javascript runtime"),
        "No audio format could be obtained; YouTube needs a JavaScript runtime (deno) for yt-dlp ({detail}).",
    ),
    Rule("bad_setting", ErrorClass.CONFIG, _media("config"), "{detail}"),
    Rule(
        "ffmpeg",
        ErrorClass.CONFIG,
        _media("postprocessing"),
        "Converting the audio failed; is ffmpeg installed? ({detail})",
    ),
    Rule("too_large", ErrorClass.PERMANENT, _media("too_large"), "{detail}"),
    Rule(
        "not_audio",
        ErrorClass.PERMANENT,
        lambda exc: _media("not_audio")(exc) or isinstance(exc, UnreadableAudioError),
        "The downloaded file is not playable audio ({detail}).",
    ),
    Rule("duration_mismatch", ErrorClass.TRANSIENT, _of(ImplausibleFileError), "{detail}", max_attempts=2),
    Rule(
        "source_changed",
        ErrorClass.SOURCE_CHANGED,
        _source("layout_changed"),
        "The source changed its answers and this version cannot read them; upgrade mcma ({detail}).",
    ),
    Rule(
        "unavailable",
        ErrorClass.PERMANENT,
        lambda exc: (
            _status(404, 410)(exc)
            or bool(
                re.search(
                    r"video unavailable|private video|has been removed|no longer available|is not available|"
                    r"has no playable track",
                    _text(exc),
                    re.IGNORECASE,
                )
            )
        ),
        "This item does not exist or is no longer available ({detail}).",
    ),
    # A 403 while downloading is usually an expired media URL: worth a fresh try or two, not five.
    Rule("http_403", ErrorClass.TRANSIENT, _status(403), "Access was refused ({detail}); retrying.", max_attempts=3),
    Rule("server_error", ErrorClass.TRANSIENT, lambda exc: _server_error(exc) or _status(408)(exc), "{detail}"),
    Rule(
        "network",
        ErrorClass.TRANSIENT,
        lambda exc: _media("network")(exc) or _media("incomplete")(exc) or _source("network")(exc),
        "A network problem interrupted the download ({detail}); retrying.",
    ),
    Rule("source_unavailable", ErrorClass.CONFIG, _of(SourceUnavailableError), "{detail}"),
    Rule("invalid_id", ErrorClass.PERMANENT, _of(InvalidInputError), "{detail}"),
    Rule("disk_full", ErrorClass.CONFIG, _disk_full, "The library disk is full ({detail})."),
    Rule("source_error", ErrorClass.TRANSIENT, _of(SourceRequestError, MediaDownloadError), "{detail}"),
    Rule("os_error", ErrorClass.TRANSIENT, _of(OSError), "A file operation failed ({detail})."),
)
# Anything no rule knows: retried (attempts are bounded), and logged with its traceback by the caller.
FALLBACK = Rule("unexpected", ErrorClass.TRANSIENT, lambda exc: True, "Unexpected error: {detail}")

RETRYABLE = frozenset({ErrorClass.TRANSIENT, ErrorClass.RATE_LIMITED, ErrorClass.BOT_CHECK})
# These pause every job of the source, not only the one that hit them.
PAUSES_SOURCE = frozenset({ErrorClass.RATE_LIMITED, ErrorClass.BOT_CHECK})


def classify(exc: BaseException) -> Classified:
    rule = next((r for r in RULES if r.matches(exc)), FALLBACK)
    detail = _text(exc) or type(exc).__name__
    details: dict[str, object] = {"exception": type(exc).__name__}
    if isinstance(exc, MediaDownloadError) and exc.geo_countries:
        details["countries"] = list(exc.geo_countries)
    if isinstance(exc, MediaDownloadError | SourceRequestError) and exc.status:
        details["status"] = exc.status
    return Classified(
        error_class=rule.error_class,
        code=rule.code,
        message=rule.explain.format(detail=detail)[:2000],
        max_attempts=rule.max_attempts,
        details=details,
    )


def backoff_delay(*, attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Exponential backoff with equal jitter: between half and all of min(cap, base * 2**(attempt-1)) seconds.

    Equal (not full) jitter keeps a floor, so a retry never fires immediately and hammers a struggling source.
    """
    ceiling = min(float(cap), float(base) * 2 ** max(0, attempt - 1))
    return ceiling / 2 + (rng or random).uniform(0, ceiling / 2)  # jitter, not cryptography


def retry_delay(
    *, classified: Classified, attempt: int, base: float, cap: float, pause: float, rng: random.Random | None = None
) -> float:
    """Seconds to wait before the next attempt of a retryable error."""
    delay = backoff_delay(attempt=attempt, base=base, cap=cap, rng=rng)
    if classified.error_class in PAUSES_SOURCE:
        return max(delay, float(pause))
    return delay
