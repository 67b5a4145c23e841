"""Every change of a job's state, and what follows it: a freed slot goes to the next waiting job, a finished
track refreshes its album or playlist."""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from downloads.errors import Classified
from downloads.models import ACTIVE_STATES, DownloadJob, ErrorClass, JobKind, JobPhase, JobState
from downloads.services.enqueueing import jobs_send_on_commit
from library.importing import track_delete_file
from library.models import Track
from library.services import pending_references_apply
from library.storage import media_path
from mcma.errors import InvalidInputError


def mark_running(job: DownloadJob, now: datetime, *, slot: int | None) -> None:
    DownloadJob.objects.filter(pk=job.pk).update(
        state=JobState.RUNNING,
        phase=JobPhase.RESOLVING,
        concurrency_slot=slot,
        attempt=F("attempt") + 1,
        heartbeat_at=now,
        started_at=job.started_at or now,
        next_retry_at=None,
        bytes_done=0,
        percent=0.0,
        speed=None,
        eta=None,
    )


def job_complete(job: DownloadJob, track: Track, *, planned: str | None) -> None:
    """The job succeeded with `track`: what users did with the song while it downloaded now points at it."""
    pending_references_apply(track=track)
    now = timezone.now()
    DownloadJob.objects.filter(pk=job.pk).update(
        state=JobState.SUCCEEDED,
        phase=JobPhase.NONE,
        track=track,
        percent=100.0,
        eta=None,
        concurrency_slot=None,
        next_retry_at=None,
        finished_at=now,
        heartbeat_at=now,
        error_class=ErrorClass.NONE,
        error_code="",
        error_message="",
    )
    after_slot_release(job)


def error_fields(classified: Classified) -> dict[str, Any]:
    return {
        "error_class": classified.error_class,
        "error_code": classified.code,
        "error_message": classified.message,
    }


def job_finish(job: DownloadJob, state: JobState, *, classified: Classified | None = None) -> None:
    """Move a job (locked by the caller) to a final state and let its parent and waiting jobs know."""
    fields: dict[str, Any] = {
        "state": state,
        "phase": JobPhase.NONE,
        "concurrency_slot": None,
        "next_retry_at": None,
        "speed": None,
        "eta": None,
        "finished_at": timezone.now(),
    }
    if classified is not None:
        fields.update(error_fields(classified))
    DownloadJob.objects.filter(pk=job.pk).update(**fields)
    after_slot_release(job)


def after_slot_release(job: DownloadJob) -> None:
    """A slot became free or a child finished: hand the slot to the next waiting job, refresh the parent."""
    if job.parent_id:
        parent_id = job.parent_id
        transaction.on_commit(lambda: collection_refresh(job_id=str(parent_id)))
    if job.kind == JobKind.SONG:
        waiting = (
            DownloadJob.objects.filter(
                source=job.source, kind=JobKind.SONG, state__in=[JobState.QUEUED, JobState.RETRYING]
            )
            .filter(Q(next_retry_at__isnull=True) | Q(next_retry_at__lte=timezone.now()))
            .exclude(pk=job.pk)
            .order_by("created_at")
            .values_list("pk", flat=True)[:1]
        )
        jobs_send_on_commit(list(waiting))


def stray_file_remove(job: DownloadJob) -> None:
    planned = job.meta.get("planned_path")
    if isinstance(planned, str) and planned and not Track.objects.filter(path=planned).exists():
        with contextlib.suppress(OSError, InvalidInputError):
            if media_path(planned).exists():
                track_delete_file(stored_path=planned)


def worker_lost(job: DownloadJob, *, exhausted: bool) -> Classified:
    message = "the worker running this download stopped (crash, restart or kill)"
    if exhausted:
        message += f"; gave up after {job.attempt} attempts"
    return Classified(error_class=ErrorClass.TRANSIENT, code="worker_lost", message=message)


def collection_refresh(*, job_id: str) -> DownloadJob | None:
    """Recompute an album/playlist job from its tracks; finish it when every track is settled."""
    with transaction.atomic():
        job = (
            DownloadJob.objects.select_for_update()
            .filter(pk=job_id, state=JobState.RUNNING, phase=JobPhase.CHILDREN)
            .first()
        )
        if job is None:
            return None
        track_ids = list((job.meta.get("collection") or {}).get("track_ids") or [])
        related = DownloadJob.objects.filter(Q(parent=job) | Q(pk__in=job.meta.get("attached_job_ids") or []))
        states = list(related.values_list("external_id", "state"))
        in_library = set(
            Track.objects.filter(source=job.source, source_id__in=track_ids).values_list("source_id", flat=True)
        )
        total = len(track_ids)
        done = len(in_library)
        failed = sum(1 for ext, state in states if state == JobState.FAILED and ext not in in_library)
        pending = sum(1 for _ext, state in states if state in ACTIVE_STATES)
        fields: dict[str, Any] = {"percent": round(100.0 * done / total, 1) if total else 100.0}
        if pending == 0:
            fields.update(phase=JobPhase.NONE, finished_at=timezone.now())
            if failed:
                fields.update(
                    state=JobState.FAILED,
                    error_class=ErrorClass.PERMANENT,
                    error_code="tracks_failed",
                    error_message=f"{failed} of {total} tracks failed; retry them from the job's tracks",
                )
            else:
                fields.update(state=JobState.SUCCEEDED, error_class="", error_code="", error_message="")
        DownloadJob.objects.filter(pk=job.pk).update(**fields)
    job.refresh_from_db()
    return job
