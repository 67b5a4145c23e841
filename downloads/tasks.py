"""Celery entry points for downloads: ids in, one service call, outcome out. No business rules here."""

from __future__ import annotations

import dataclasses

from celery import shared_task
from django.conf import settings

from downloads.services import download_job_run, download_jobs_sweep
from downloads.services.enqueueing import DOWNLOAD_TASK


@shared_task(
    name=DOWNLOAD_TASK,
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    time_limit=settings.DOWNLOAD_TASK_TIME_LIMIT,
)
def download_task(job_id: str) -> str:
    """Run one attempt of a download job. Retries are scheduled by the service (DB + sweep), not by Celery."""
    return str(download_job_run(job_id=job_id).status)


@shared_task(name="downloads.sweep", ignore_result=True)
def downloads_sweep_task() -> dict[str, int]:
    """Periodic (CELERY_BEAT_SCHEDULE): recover lost jobs, re-send due ones, settle albums and playlists."""
    return dataclasses.asdict(download_jobs_sweep())
