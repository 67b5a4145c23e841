"""Running a job: claim it (and a concurrency slot), run its song pipeline or expand its album/playlist, and
settle the attempt as a success, a retry, a failure or a cancellation."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from downloads.errors import RETRYABLE, Classified, JobCancelledError, classify, retry_delay
from downloads.models import DownloadJob, ErrorClass, JobKind, JobPhase, JobState
from downloads.selectors import source_paused_until
from downloads.services.enqueueing import jobs_send_on_commit
from downloads.services.pipeline import song_pipeline, work_dir_remove
from downloads.services.requesting import active_job, resolvable_source
from downloads.services.transitions import (
    after_slot_release,
    collection_refresh,
    error_fields,
    job_finish,
    job_transition,
    mark_running,
    stray_file_remove,
    worker_lost,
)
from library.models import Track
from sources.base import ResultKind

logger = logging.getLogger(__name__)


class RunStatus(StrEnum):
    SUCCEEDED = "succeeded"
    RETRY = "retry"
    FAILED = "failed"
    CANCELLED = "cancelled"
    DEFERRED = "deferred"  # no slot free, or the source is paused: the job stays queued
    EXPANDED = "expanded"  # an album/playlist created its child jobs
    SKIPPED = "skipped"  # nothing to do: unknown, finished, or running elsewhere


@dataclass(frozen=True)
class RunOutcome:
    status: RunStatus
    delay: float | None = None


def download_job_run(*, job_id: str) -> RunOutcome:
    """Run one attempt of the job (called by the Celery task; safe to call twice or after a crash)."""
    job = DownloadJob.objects.filter(pk=job_id).only("kind").first()
    if job is None:
        return RunOutcome(RunStatus.SKIPPED)
    if job.kind != JobKind.SONG:
        return _collection_run(job_id)
    claimed, deferred = _claim(job_id, with_slot=True)
    if claimed is None:
        return deferred or RunOutcome(RunStatus.SKIPPED)
    try:
        song_pipeline(claimed)
    except JobCancelledError:
        return _after_cancel(claimed)
    except Exception as exc:
        return _after_failure(claimed, exc)
    finally:
        work_dir_remove(claimed)
    return RunOutcome(RunStatus.SUCCEEDED)


def _claimable(now: datetime) -> Q:
    stale = now - timedelta(seconds=settings.DOWNLOAD_STALE_AFTER_SECONDS)
    waiting = Q(state__in=[JobState.QUEUED, JobState.RETRYING], cancel_requested=False) & (
        Q(next_retry_at__isnull=True) | Q(next_retry_at__lte=now)
    )
    lost = Q(state=JobState.RUNNING, cancel_requested=False, heartbeat_at__lt=stale) & ~Q(phase=JobPhase.CHILDREN)
    return waiting | lost


def _claim(job_id: str, *, with_slot: bool) -> tuple[DownloadJob | None, RunOutcome | None]:
    now = timezone.now()
    with transaction.atomic():
        job = DownloadJob.objects.select_for_update().filter(_claimable(now), pk=job_id).first()
        if job is None:
            return None, None
        paused_until = source_paused_until(source=job.source, now=now)
        if paused_until is not None:
            return None, RunOutcome(RunStatus.DEFERRED, delay=(paused_until - now).total_seconds())
        if job.attempt >= job.max_attempts:
            # Only a job that kept losing its worker gets here: claims of exhausted jobs never happen otherwise.
            job_finish(job, JobState.FAILED, classified=worker_lost(job, exhausted=True))
            stray_file_remove(job)
            return None, RunOutcome(RunStatus.FAILED)
        slot: int | None = None
        if with_slot:
            slot = _take_slot(job, now)
            if slot is None:
                return None, RunOutcome(RunStatus.DEFERRED)
        else:
            mark_running(job, now, slot=None)
        job.refresh_from_db()
        return job, None


def _take_slot(job: DownloadJob, now: datetime) -> int | None:
    """One of the source's free concurrency slots, claimed with the job; None when all are busy."""
    taken = set(
        DownloadJob.objects.filter(source=job.source, state=JobState.RUNNING, concurrency_slot__isnull=False)
        .exclude(pk=job.pk)
        .values_list("concurrency_slot", flat=True)
    )
    for slot in range(max(1, settings.DOWNLOAD_CONCURRENCY_PER_SOURCE)):
        if slot in taken:
            continue
        try:
            with transaction.atomic():
                mark_running(job, now, slot=slot)
        except IntegrityError:
            continue  # another worker took this slot between our read and our write
        return slot
    return None


def _after_cancel(job: DownloadJob) -> RunOutcome:
    with transaction.atomic():
        locked = DownloadJob.objects.select_for_update().filter(pk=job.pk).first()
        if locked is None or locked.state != JobState.RUNNING or locked.attempt != job.attempt:
            return RunOutcome(RunStatus.SKIPPED)  # taken over by a newer attempt: not ours to finish
        job_finish(locked, JobState.CANCELLED)
        stray_file_remove(locked)
    return RunOutcome(RunStatus.CANCELLED)


def _after_failure(job: DownloadJob, exc: Exception) -> RunOutcome:
    classified = classify(exc)
    if classified.code == "unexpected":
        logger.exception("download job %s failed unexpectedly", job.pk)
    else:
        logger.info("download job %s: %s (%s)", job.pk, classified.code, classified.message)
    return _fail_or_retry(job, classified)


def _fail_or_retry(job: DownloadJob, classified: Classified) -> RunOutcome:
    with transaction.atomic():
        locked = DownloadJob.objects.select_for_update().filter(pk=job.pk).first()
        if locked is None or locked.state != JobState.RUNNING or locked.attempt != job.attempt:
            return RunOutcome(RunStatus.SKIPPED)
        if locked.cancel_requested:
            job_finish(locked, JobState.CANCELLED)
            return RunOutcome(RunStatus.CANCELLED)
        limit = min(locked.max_attempts, classified.max_attempts or locked.max_attempts)
        if classified.error_class in RETRYABLE and locked.attempt < limit:
            delay = retry_delay(
                classified=classified,
                attempt=locked.attempt,
                base=settings.DOWNLOAD_RETRY_BASE_SECONDS,
                cap=settings.DOWNLOAD_RETRY_CAP_SECONDS,
                pause=settings.DOWNLOAD_RATE_LIMIT_PAUSE_SECONDS,
            )
            job_transition(
                locked.pk,
                to=JobState.RETRYING,
                next_retry_at=timezone.now() + timedelta(seconds=delay),
                **error_fields(classified),
            )
            if delay <= settings.DOWNLOAD_MAX_COUNTDOWN_SECONDS:
                jobs_send_on_commit([locked.pk], countdown=delay)
            after_slot_release(locked)
            return RunOutcome(RunStatus.RETRY, delay=delay)
        job_finish(locked, JobState.FAILED, classified=classified)
        stray_file_remove(locked)
    return RunOutcome(RunStatus.FAILED)


def _collection_run(job_id: str) -> RunOutcome:
    job, deferred = _claim(job_id, with_slot=False)
    if job is None:
        return deferred or RunOutcome(RunStatus.SKIPPED)
    try:
        source = resolvable_source(job.source, check_health=False)
        collection = source.resolve_collection(kind=ResultKind(job.kind), external_id=job.external_id)
    except Exception as exc:
        return _after_failure(job, exc)
    if not collection.track_ids:
        return _fail_or_retry(
            job,
            Classified(
                error_class=ErrorClass.PERMANENT,
                code="empty_collection",
                message=f"this {job.kind} has no downloadable tracks",
            ),
        )
    with transaction.atomic():
        locked = DownloadJob.objects.select_for_update().filter(pk=job.pk, state=JobState.RUNNING).first()
        if locked is None or locked.attempt != job.attempt or locked.cancel_requested:
            return RunOutcome(RunStatus.SKIPPED)
        in_library = set(
            Track.objects.filter(source=job.source, source_id__in=collection.track_ids).values_list(
                "source_id", flat=True
            )
        )
        created: list[Any] = []
        attached: list[str] = []
        for external_id in collection.track_ids:
            if external_id in in_library:
                continue
            existing = active_job(job.source, external_id)
            if existing is None:
                try:
                    with transaction.atomic():
                        child = DownloadJob.objects.create(
                            source=job.source,
                            external_id=external_id,
                            kind=JobKind.SONG,
                            parent=locked,
                            requested_by=locked.requested_by,
                            max_attempts=locked.max_attempts,
                        )
                    created.append(child.pk)
                    continue
                except IntegrityError:
                    existing = active_job(job.source, external_id)
            if existing is not None:
                attached.append(str(existing.pk))
        meta = {
            **locked.meta,
            "collection": {
                "title": collection.title,
                "artists": list(collection.artists),
                "year": collection.year,
                "track_ids": list(collection.track_ids),
            },
            "attached_job_ids": attached,
        }
        DownloadJob.objects.filter(pk=locked.pk).update(
            title=collection.title[:500], phase=JobPhase.CHILDREN, heartbeat_at=timezone.now(), meta=meta
        )
        jobs_send_on_commit(created)
    collection_refresh(job_id=str(job.pk))
    return RunOutcome(RunStatus.EXPANDED)
