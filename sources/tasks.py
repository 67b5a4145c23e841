"""Celery tasks of the sources app: thin wrappers around sources.services."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from celery import shared_task

from mcma.errors import NotFoundError
from sources import services

logger = logging.getLogger(__name__)


@shared_task(name=services.SCAN_RUN_TASK, bind=True, acks_late=True)
def scan_run_task(self: Any, scan_id: int) -> None:
    # A second delivery (re-sent by the sweep, or redelivered after a lost worker) finds the scan no longer
    # queued and does nothing; a scan whose worker died is failed by the sweep, and the next one starts clean.
    try:
        services.scan_run(scan_id=scan_id)
    except NotFoundError:
        logger.warning("scan %s was deleted before it ran; nothing to do", scan_id)


@shared_task(name="sources.sweep", ignore_result=True)
def scans_sweep_task() -> dict[str, int]:
    """Periodic (CELERY_BEAT_SCHEDULE): fail scans whose worker died, send scans the broker did not take."""
    return dataclasses.asdict(services.scans_sweep())
