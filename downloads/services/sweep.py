"""The periodic sweep: recover jobs whose worker died, re-send what the broker did not take, settle collections."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from downloads.models import DownloadJob, JobKind, JobPhase, JobState
from downloads.services import enqueueing
from downloads.services.pipeline import work_dir_remove
from downloads.services.transitions import (
    collection_refresh,
    error_fields,
    job_finish,
    job_transition,
    stray_file_remove,
    worker_lost,
)

_RESEND_BATCH = 50


@dataclass(frozen=True)
class SweepReport:
    recovered: int = 0
    resent: int = 0
    parents_finished: int = 0


def download_jobs_sweep() -> SweepReport:
    """Recover jobs whose worker died, re-send due retries and never-sent jobs, settle finished collections."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.DOWNLOAD_STALE_AFTER_SECONDS)
    recovered = 0
    for job_id in (
        DownloadJob.objects.filter(state=JobState.RUNNING, heartbeat_at__lt=stale)
        .exclude(phase=JobPhase.CHILDREN)
        .values_list("pk", flat=True)
    ):
        if _recover_lost(str(job_id), stale):
            recovered += 1

    now = timezone.now()  # recovered jobs are due from the moment they were recovered
    resend_before = now - timedelta(seconds=settings.DOWNLOAD_REENQUEUE_AFTER_SECONDS)
    never_or_long_ago = Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=resend_before)
    due = (
        DownloadJob.objects.filter(
            Q(state=JobState.QUEUED, cancel_requested=False) & never_or_long_ago
            | Q(state=JobState.RETRYING, next_retry_at__lte=now)
            & (never_or_long_ago | Q(enqueued_at__lt=F("next_retry_at")))
        )
        .order_by("created_at")
        .values_list("pk", flat=True)[:_RESEND_BATCH]
    )
    due_ids = [str(pk) for pk in due]
    if due_ids:
        enqueueing.jobs_send(due_ids)

    finished = 0
    for parent_id in DownloadJob.objects.filter(state=JobState.RUNNING, phase=JobPhase.CHILDREN).values_list(
        "pk", flat=True
    ):
        refreshed = collection_refresh(job_id=str(parent_id))
        if refreshed is not None and refreshed.state != JobState.RUNNING:
            finished += 1
    return SweepReport(recovered=recovered, resent=len(due_ids), parents_finished=finished)


def _recover_lost(job_id: str, stale: datetime) -> bool:
    with transaction.atomic():
        job = (
            DownloadJob.objects.select_for_update()
            .filter(pk=job_id, state=JobState.RUNNING, heartbeat_at__lt=stale)
            .first()
        )
        if job is None:
            return False
        if job.cancel_requested:
            job_finish(job, JobState.CANCELLED)
            stray_file_remove(job)
        elif job.attempt >= job.max_attempts:
            job_finish(job, JobState.FAILED, classified=worker_lost(job, exhausted=True))
            stray_file_remove(job)
        else:
            job_transition(
                job.pk,
                to=JobState.RETRYING if job.kind == JobKind.SONG else JobState.QUEUED,
                next_retry_at=timezone.now(),
                **error_fields(worker_lost(job, exhausted=False)),
            )
    work_dir_remove(job)
    return True
