"""Celery entry points of the library app (ListenBrainz and Last.fm forwarding, identification, the metadata
sweep: lyrics, ReplayGain, covers): ids in, one service call, outcome out."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from library import coverartarchive, lrclib, lyrics, metadata, replaygain, scrobbling
from library.enrichment import selectors as enrichment_selectors
from library.enrichment import services as enrichment
from library.enrichment.errors import MetadataServiceUnavailableError
from library.models import ScrobbleService
from mcma.errors import NotFoundError


@shared_task(
    name=scrobbling.LISTEN_SUBMIT_TASK,
    bind=True,
    acks_late=True,
    ignore_result=True,
    max_retries=scrobbling.TASK_RETRIES,
)
def listen_submit_task(self: Any, pending_id: int) -> bool:
    """Send one queued listen; the service says when to try again, and past TASK_RETRIES the sweep resends it."""
    outcome = scrobbling.listen_submit(pending_id=pending_id)
    if outcome.retry_in is not None and self.request.retries < self.max_retries:
        raise self.retry(countdown=outcome.retry_in)
    return outcome.sent


@shared_task(name=scrobbling.PLAYING_NOW_TASK, acks_late=True, ignore_result=True)
def playing_now_task(user_id: int, track_id: int, player: str, service: str = ScrobbleService.LISTENBRAINZ) -> bool:
    # `service` last, with a default: a notice queued by the previous release (ListenBrainz only) still runs.
    return scrobbling.playing_now_submit(user_id=user_id, track_id=track_id, player=player, service=service).sent


@shared_task(name="library.listens_sweep", ignore_result=True)
def listens_sweep_task() -> int:
    """Periodic (CELERY_BEAT_SCHEDULE): resend the listens that are due."""
    return scrobbling.listens_sweep()


@shared_task(name=enrichment.TASK_NAME, bind=True, acks_late=True, ignore_result=True, max_retries=None)
def enrich_tracks_task(self: Any, track_ids: list[int] | None) -> int:
    """Identify these tracks (None: every pending one). A service that is down or rate-limiting pauses the work:
    the task comes back when the service may be asked again, with only the tracks still pending."""
    ids = track_ids if track_ids is not None else enrichment_selectors.tracks_to_enrich(pending=True)
    for done, track_id in enumerate(ids):
        try:
            enrichment.track_enrich(track_id=track_id)
        except NotFoundError:  # deleted since it was queued
            continue
        except MetadataServiceUnavailableError as exc:
            raise self.retry(args=[ids[done:]], countdown=exc.retry_after) from exc
    return len(ids)


@shared_task(name="library.metadata_sweep", ignore_result=True)
def metadata_sweep_task() -> dict[str, int]:
    """Periodic (CELERY_BEAT_SCHEDULE): send the lyrics, ReplayGain and cover work that is due."""
    return metadata.metadata_sweep()


@shared_task(name="library.lyrics_lrclib_fetch", bind=True, acks_late=True, ignore_result=True, max_retries=5)
def lyrics_lrclib_fetch_task(self: Any, track_id: int) -> bool:
    try:
        return lyrics.lrclib_fetch(track_id=track_id)
    except lrclib.LrclibUnavailableError as exc:
        if self.request.retries < self.max_retries:
            raise self.retry(countdown=exc.retry_after) from exc
        return False  # the next sweep asks again


@shared_task(name="library.album_replaygain_analyse", acks_late=True, ignore_result=True)
def album_replaygain_analyse_task(album_id: int) -> int:
    return replaygain.album_replaygain_analyse(album_id=album_id)


@shared_task(name="library.album_cover_archive_fetch", bind=True, acks_late=True, ignore_result=True, max_retries=5)
def album_cover_archive_fetch_task(self: Any, album_id: int) -> bool:
    try:
        return metadata.album_cover_archive_fetch(album_id=album_id)
    except coverartarchive.CoverArchiveUnavailableError as exc:
        if self.request.retries < self.max_retries:
            raise self.retry(countdown=exc.retry_after) from exc
        return False  # the next sweep asks again
