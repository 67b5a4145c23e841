"""Sending download jobs to the workers: after commit, and never fatal (the sweep re-sends what the broker did
not take)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from celery import current_app
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as KombuOperationalError

from downloads.models import DownloadJob

logger = logging.getLogger(__name__)

DOWNLOAD_TASK = "downloads.download"


def jobs_send_on_commit(job_ids: Iterable[Any], *, countdown: float | None = None) -> None:
    ids = [str(i) for i in job_ids]
    if ids:
        transaction.on_commit(lambda: jobs_send(ids, countdown=countdown))


def jobs_send(job_ids: list[str], *, countdown: float | None = None) -> None:
    # Looked up by name: the task module imports the services, so the services never import it.
    download_task = current_app.tasks[DOWNLOAD_TASK]
    sent: list[str] = []
    for job_id in job_ids:
        try:
            # Publish retries follow CELERY_TASK_PUBLISH_RETRY_POLICY (one quick retry), like every other send.
            download_task.apply_async(args=(job_id,), countdown=countdown or 0)
        except (KombuOperationalError, OSError) as exc:
            logger.warning("broker unavailable, %d download job(s) stay queued for the sweep: %s", len(job_ids), exc)
            break
        sent.append(job_id)
    if sent:
        DownloadJob.objects.filter(pk__in=sent).update(enqueued_at=timezone.now())
