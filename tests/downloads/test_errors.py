"""The error classification table: one case per rule, plus the backoff schedule."""

from __future__ import annotations

import errno
import random

import pytest

from downloads.errors import (
    FALLBACK,
    PAUSES_SOURCE,
    RETRYABLE,
    RULES,
    ImplausibleFileError,
    backoff_delay,
    classify,
    retry_delay,
)
from downloads.models import ErrorClass
from downloads.ytdlp import MediaDownloadError
from library.tags import UnreadableAudioError
from mcma.errors import InvalidInputError
from sources.errors import SourceUnavailableError
from sources.resolving import CookiesConfigError, SourceRequestError

# (rule code, example failure, expected class) -- every rule in RULES appears here at least once.
CASES: list[tuple[str, BaseException, ErrorClass]] = [
    ("cookies_config", CookiesConfigError("cookies file /c is mode 0644; run: chmod 600 /c"), ErrorClass.CONFIG),
    (
        "cookies_invalid",
        MediaDownloadError("'/c' does not look like a Netscape format cookies file", cookies=True),
        ErrorClass.CONFIG,
    ),
    (
        "bot_check",
        MediaDownloadError("[youtube] x: Sign in to confirm you\u2019re not a bot. Use --cookies-from-browser"),
        ErrorClass.BOT_CHECK,
    ),
    ("needs_cookies", MediaDownloadError("[youtube] x: Sign in to confirm your age."), ErrorClass.NEEDS_COOKIES),
    (
        "geo_blocked",
        MediaDownloadError("The uploader has not made this video available in your country", geo_countries=("US",)),
        ErrorClass.GEO_BLOCKED,
    ),
    ("rate_limited", MediaDownloadError("HTTP Error 429: Too Many Requests", status=429), ErrorClass.RATE_LIMITED),
    (
        "extractor_not_allowed",
        MediaDownloadError("No suitable extractor found for URL http://x/", unsupported=True),
        ErrorClass.CONFIG,
    ),
    ("format_unavailable", MediaDownloadError("Requested format is not available"), ErrorClass.CONFIG),
    ("bad_setting", MediaDownloadError("DOWNLOAD_FORMAT 'wav' is not one of ...", config=True), ErrorClass.CONFIG),
    ("ffmpeg", MediaDownloadError("ffprobe and ffmpeg not found", postprocessing=True), ErrorClass.CONFIG),
    ("too_large", MediaDownloadError("the file is above DOWNLOAD_MAX_FILESIZE", too_large=True), ErrorClass.PERMANENT),
    ("not_audio", UnreadableAudioError("not an audio file"), ErrorClass.PERMANENT),
    ("duration_mismatch", ImplausibleFileError("lasts 30 s but should last 240 s"), ErrorClass.TRANSIENT),
    ("source_changed", SourceRequestError("KeyError: 'contents'", layout_changed=True), ErrorClass.SOURCE_CHANGED),
    ("unavailable", MediaDownloadError("HTTP Error 404: Not Found", status=404), ErrorClass.PERMANENT),
    ("http_403", MediaDownloadError("HTTP Error 403: Forbidden", status=403), ErrorClass.TRANSIENT),
    ("server_error", MediaDownloadError("HTTP Error 503: Service Unavailable", status=503), ErrorClass.TRANSIENT),
    (
        "network",
        MediaDownloadError("Got error: 5000 bytes read, 16514 more expected", incomplete=True),
        ErrorClass.TRANSIENT,
    ),
    ("source_unavailable", SourceUnavailableError("YouTube Music is disabled"), ErrorClass.CONFIG),
    ("invalid_id", InvalidInputError("Invalid album browseId provided"), ErrorClass.PERMANENT),
    ("disk_full", OSError(errno.ENOSPC, "No space left on device"), ErrorClass.CONFIG),
    ("source_error", SourceRequestError("YouTube Music error: something odd"), ErrorClass.TRANSIENT),
    ("os_error", PermissionError(errno.EACCES, "Permission denied"), ErrorClass.TRANSIENT),
]


@pytest.mark.parametrize(("code", "exc", "error_class"), CASES, ids=[c[0] for c in CASES])
def test_each_rule(code: str, exc: BaseException, error_class: ErrorClass) -> None:
    classified = classify(exc)

    assert classified.code == code
    assert classified.error_class == error_class
    assert classified.message


def test_every_rule_has_a_case() -> None:
    assert {rule.code for rule in RULES} == {case[0] for case in CASES}


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        # The same facts reached through ytmusicapi instead of yt-dlp.
        (SourceRequestError("YouTube Music answered HTTP 429 with a non-JSON body", status=429), "rate_limited"),
        (SourceRequestError("YouTube Music unreachable: timed out", network=True), "network"),
        (SourceRequestError("YouTube Music error: HTTP 500", status=500), "server_error"),
        (SourceRequestError("YouTube Music has no playable track x", status=404), "unavailable"),
        # yt-dlp's "rate limited for up to an hour" wording, and a read timeout.
        (MediaDownloadError("This content isn't available, try again later."), "rate_limited"),
        (MediaDownloadError("Read timed out.", network=True), "network"),
        (MediaDownloadError("[youtube] x: Video unavailable. This video is private"), "unavailable"),
        (MediaDownloadError("This video is available to this channel's members-only"), "needs_cookies"),
    ],
)
def test_variants(exc: BaseException, code: str) -> None:
    assert classify(exc).code == code


def test_unknown_errors_fall_back_to_a_bounded_retry() -> None:
    classified = classify(RuntimeError("boom"))

    assert classified.code == FALLBACK.code
    assert classified.error_class in RETRYABLE
    assert "boom" in classified.message


def test_geo_block_keeps_the_countries() -> None:
    classified = classify(MediaDownloadError("blocked", geo_countries=("US", "DE")))

    assert classified.details["countries"] == ["US", "DE"]


def test_rules_can_cap_attempts() -> None:
    assert classify(MediaDownloadError("HTTP Error 403", status=403)).max_attempts == 3
    assert classify(MediaDownloadError("HTTP Error 503", status=503)).max_attempts is None


def test_backoff_doubles_from_base_to_cap_with_equal_jitter() -> None:
    rng = random.Random(7)
    for attempt, ceiling in [
        (1, 30),
        (2, 60),
        (3, 120),
        (4, 240),
        (5, 480),
        (6, 960),
        (7, 1920),
        (8, 3600),
        (12, 3600),
    ]:
        delays = [backoff_delay(attempt=attempt, base=30, cap=3600, rng=rng) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays), (attempt, min(delays), max(delays))
        assert max(delays) - min(delays) > 0  # jittered, so retries of many jobs spread out


def test_rate_limits_wait_at_least_the_source_pause() -> None:
    rate_limited = classify(MediaDownloadError("HTTP Error 429", status=429))
    transient = classify(MediaDownloadError("HTTP Error 503", status=503))

    assert rate_limited.error_class in PAUSES_SOURCE
    assert retry_delay(classified=rate_limited, attempt=1, base=30, cap=3600, pause=1800) >= 1800
    assert retry_delay(classified=transient, attempt=1, base=30, cap=3600, pause=1800) <= 30
