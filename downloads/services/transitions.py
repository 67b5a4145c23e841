"""Every change of a job's state, and what follows it: a freed slot goes to the next waiting job, a finished
track refreshes its album or playlist."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from downloads.errors import Classified
from downloads.models import ACTIVE_STATES, DownloadJob, ErrorClass, JobKind, JobPhase, JobState
from downloads.services.enqueueing import jobs_send_on_commit
from library.enrichment.services import enrichment_enqueue
from library.ingest.rows import track_delete_file
from library.models import Track
from library.services import pending_references_apply
from library.storage import media_path
from mcma.errors import InvalidInputError


class _Now:
    """Stands in the table for the moment of the transition."""

    def __repr__(self) -> str:
        return "NOW"


NOW = _Now()
NO_ERROR: Mapping[str, str] = {"error_class": ErrorClass.NONE, "error_code": "", "error_message": ""}
_IDLE: Mapping[str, Any] = {"phase": JobPhase.NONE, "concurrency_slot": None, "speed": None, "eta": None}

# What a job must not carry into each state, reset on entering it; a transition's own fields come on top. Waiting
# states hold no slot and no transfer figures, and have not been sent for their new wait yet; a running job has no
# wait and no end; a final state stamps its end. The error fields describe the last failure: only success clears
# them (a user's retry clears them too, by passing NO_ERROR).
ENTRY_RESETS: Mapping[JobState, Mapping[str, Any]] = {
    JobState.QUEUED: {**_IDLE, "next_retry_at": None, "enqueued_at": None, "finished_at": None},
    JobState.RETRYING: {**_IDLE, "enqueued_at": None},
    JobState.RUNNING: {"next_retry_at": None, "finished_at": None, "speed": None, "eta": None},
    JobState.SUCCEEDED: {**_IDLE, "next_retry_at": None, "finished_at": NOW, **NO_ERROR},
    JobState.FAILED: {**_IDLE, "next_retry_at": None, "finished_at": NOW},
    JobState.CANCELLED: {**_IDLE, "next_retry_at": None, "finished_at": NOW},
}


def job_transition(job_id: Any, *, to: JobState, guard: Q | None = None, **fields: Any) -> bool:
    """Move the job to state `to`: the state's entry resets, then `fields`. Every state change goes through here.

    `guard` narrows the UPDATE to rows still in the state the caller expects; without it the caller holds the
    row's lock. Returns whether the row changed.
    """
    now = timezone.now()
    values = {field: now if value is NOW else value for field, value in ENTRY_RESETS[to].items()}
    rows = DownloadJob.objects.filter(pk=job_id)
    if guard is not None:
        rows = rows.filter(guard)
    return bool(rows.update(state=to, **{**values, **fields}))


def mark_running(job: DownloadJob, now: datetime, *, slot: int | None) -> None:
    """Start a new attempt: the claim holds `slot` (None for an album/playlist) and counts the attempt."""
    job_transition(
        job.pk,
        to=JobState.RUNNING,
        phase=JobPhase.RESOLVING,
        concurrency_slot=slot,
        attempt=F("attempt") + 1,
        heartbeat_at=now,
        started_at=job.started_at or now,
        bytes_done=0,
        percent=0.0,
    )


def job_complete(job: DownloadJob, track: Track) -> None:
    """The job succeeded with `track`: what users did with the song while it downloaded now points at it."""
    pending_references_apply(track=track)
    enrichment_enqueue(track_ids=[track.pk])
    job_transition(job.pk, to=JobState.SUCCEEDED, track=track, percent=100.0, heartbeat_at=timezone.now())
    after_slot_release(job)


def error_fields(classified: Classified) -> dict[str, Any]:
    return {
        "error_class": classified.error_class,
        "error_code": classified.code,
        "error_message": classified.message,
    }


def job_finish(job: DownloadJob, state: JobState, *, classified: Classified | None = None) -> None:
    """Move a job (locked by the caller) to a final state and let its parent and waiting jobs know."""
    job_transition(job.pk, to=state, **(error_fields(classified) if classified is not None else {}))
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
        percent = round(100.0 * done / total, 1) if total else 100.0
        if pending:
            DownloadJob.objects.filter(pk=job.pk).update(percent=percent)
        elif failed:
            job_transition(
                job.pk,
                to=JobState.FAILED,
                percent=percent,
                error_class=ErrorClass.PERMANENT,
                error_code="tracks_failed",
                error_message=f"{failed} of {total} tracks failed; retry them from the job's tracks",
            )
        else:
            job_transition(job.pk, to=JobState.SUCCEEDED, percent=percent)
    job.refresh_from_db()
    return job
