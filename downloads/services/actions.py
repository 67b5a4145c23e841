"""What users do with a job: cancel it, retry it, retry every failed one."""

from __future__ import annotations

import contextlib
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from downloads.models import ACTIVE_STATES, DownloadJob, JobKind, JobPhase, JobState
from downloads.services.enqueueing import jobs_send_on_commit
from downloads.services.requesting import check_may_request
from downloads.services.transitions import NO_ERROR, job_finish, job_transition
from mcma.errors import ConflictError, PermissionDeniedError


def _check_actor(job: DownloadJob, actor: User) -> None:
    if not (actor.is_admin or job.requested_by_id == actor.pk):
        raise PermissionDeniedError("only the user who asked for this download, or an admin, may change it")


def download_job_cancel(*, job: DownloadJob, actor: User) -> DownloadJob:
    """Cancel a waiting job at once; ask a running one to stop (its worker removes the temp files)."""
    _check_actor(job, actor)
    with transaction.atomic():
        locked = DownloadJob.objects.select_for_update().get(pk=job.pk)
        if locked.state not in ACTIVE_STATES:
            raise ConflictError(f"this download is already {locked.state}", details={"state": locked.state})
        if locked.state == JobState.RUNNING and locked.kind == JobKind.SONG:
            DownloadJob.objects.filter(pk=locked.pk).update(cancel_requested=True)
        else:
            job_finish(locked, JobState.CANCELLED)
        if locked.kind != JobKind.SONG:
            for child in DownloadJob.objects.select_for_update().filter(parent=locked, state__in=ACTIVE_STATES):
                if child.state == JobState.RUNNING:
                    DownloadJob.objects.filter(pk=child.pk).update(cancel_requested=True)
                else:
                    job_finish(child, JobState.CANCELLED)
    locked.refresh_from_db()
    return locked


def download_job_retry(*, job: DownloadJob, actor: User) -> DownloadJob:
    """Try a failed or cancelled job again with a fresh attempt budget; a waiting retry runs now."""
    _check_actor(job, actor)
    check_may_request(actor)  # a retry downloads again: the same right as asking the first time
    now = timezone.now()
    with transaction.atomic():
        locked = DownloadJob.objects.select_for_update().get(pk=job.pk)
        if locked.state == JobState.RETRYING:
            DownloadJob.objects.filter(pk=locked.pk).update(next_retry_at=now)
            jobs_send_on_commit([locked.pk])
        elif locked.state in (JobState.FAILED, JobState.CANCELLED):
            _requeue(locked)
        else:
            raise ConflictError(f"a {locked.state} download cannot be retried", details={"state": locked.state})
    locked.refresh_from_db()
    return locked


def _requeue(job: DownloadJob) -> None:
    expanded = job.kind != JobKind.SONG and bool(job.meta.get("collection"))
    try:
        with transaction.atomic():
            fresh_budget = job.attempt + int(settings.DOWNLOAD_MAX_ATTEMPTS)
            common: dict[str, Any] = {"cancel_requested": False, "max_attempts": fresh_budget, **NO_ERROR}
            if expanded:
                # Its tracks already exist as jobs: it goes straight back to following them.
                job_transition(job.pk, to=JobState.RUNNING, phase=JobPhase.CHILDREN, enqueued_at=None, **common)
            else:
                job_transition(job.pk, to=JobState.QUEUED, **common)
    except IntegrityError as exc:
        raise ConflictError(
            "another download of this item is already active", details={"external_id": job.external_id}
        ) from exc
    if expanded:
        for child in DownloadJob.objects.filter(parent=job, state__in=[JobState.FAILED, JobState.CANCELLED]):
            with contextlib.suppress(ConflictError):
                _requeue(child)
    else:
        jobs_send_on_commit([job.pk])
    if job.parent_id:
        # A track retried on its own reopens its finished album/playlist, which then follows it again.
        with contextlib.suppress(IntegrityError), transaction.atomic():
            job_transition(
                job.parent_id,
                to=JobState.RUNNING,
                guard=Q(state__in=[JobState.FAILED, JobState.SUCCEEDED], meta__has_key="collection"),
                phase=JobPhase.CHILDREN,
            )


def download_jobs_retry_failed(*, actor: User) -> int:
    """Admin: retry every failed job (children through their parent). Returns how many were requeued."""
    if not actor.is_admin:
        raise PermissionDeniedError("only admins may retry every failed download")
    count = 0
    for job in DownloadJob.objects.filter(state=JobState.FAILED).order_by("created_at"):
        job.refresh_from_db()
        if job.state != JobState.FAILED:
            continue  # requeued with its parent a moment ago
        with contextlib.suppress(ConflictError):
            download_job_retry(job=job, actor=actor)
            count += 1
    return count
