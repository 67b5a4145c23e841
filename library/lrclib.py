"""The LRCLIB API (https://lrclib.net/docs): the only place that talks to it. One call, `GET /api/get` by artist,
title, album and duration; this module only says what LRCLIB answered."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from library.remote import RemoteMalformedError, RemoteUnavailableError, get_json


class LrclibUnavailableError(RemoteUnavailableError):
    """No usable answer (down, slow, rate limited, 5xx, not JSON): the same question may work later."""


@dataclass(frozen=True)
class FoundLyrics:
    plain: str
    synced: str  # LRC text, or ""


def lyrics_get(*, artist: str, title: str, album: str, duration_seconds: int) -> FoundLyrics | None:
    """LRCLIB's lyrics for this song, or None when it has none (404, or an instrumental)."""
    params: dict[str, str | int] = {"artist_name": artist, "track_name": title, "album_name": album}
    if duration_seconds > 0:
        params["duration"] = duration_seconds
    try:
        data = get_json(
            settings.LRCLIB_URL.rstrip("/") + "/api/get",
            service="lrclib",
            params=params,
            timeout=settings.LRCLIB_TIMEOUT_SECONDS,
            unavailable=LrclibUnavailableError,
        )
    except RemoteMalformedError as exc:  # LRCLIB sometimes answers an HTML error page: worth asking again later
        raise LrclibUnavailableError(str(exc), retry_after=settings.METADATA_PAUSE_SECONDS) from exc
    if data is None or data.get("instrumental"):
        return None
    plain, synced = data.get("plainLyrics"), data.get("syncedLyrics")
    return FoundLyrics(plain=plain if isinstance(plain, str) else "", synced=synced if isinstance(synced, str) else "")
