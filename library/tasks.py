"""Celery entry points of the library app (ListenBrainz forwarding, identification): ids in, one service call,
outcome out."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from library import scrobbling
from library.enrichment import selectors as enrichment_selectors
from library.enrichment import services as enrichment
from library.enrichment.errors import MetadataServiceUnavailableError
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
def playing_now_task(user_id: int, track_id: int, player: str) -> bool:
    return scrobbling.playing_now_submit(user_id=user_id, track_id=track_id, player=player).sent


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
