"""The metadata sweep: what the library fills in after an import, in Celery tasks sent by name (LRCLIB lyrics for
songs with none, ReplayGain for songs without, Cover Art Archive covers), each only when its setting allows."""

from __future__ import annotations

from celery import current_app
from django.conf import settings

from library import lyrics, replaygain

RETRY_BASE_SECONDS = 30
RETRY_MAX_SECONDS = 3600


def retry_delay(retries: int) -> int:
    """Backoff of a fetch that found its service unavailable: 30 s, 60 s, 120 s … capped at an hour."""
    return int(min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2**retries))


def metadata_sweep() -> dict[str, int]:
    """Send one task per due item; returns how many of each were sent."""
    sent = {"lrclib": 0, "replaygain": 0}
    if settings.LRCLIB_ENABLED and "lrclib" in settings.LYRICS_PRIORITY:
        for track_id in lyrics.lrclib_pending():
            current_app.send_task("library.lyrics_lrclib_fetch", args=[track_id])
            sent["lrclib"] += 1
    if settings.REPLAYGAIN_ANALYSIS:
        for album_id in replaygain.replaygain_pending_albums():
            current_app.send_task("library.album_replaygain_analyse", args=[album_id])
            sent["replaygain"] += 1
    return sent
