"""Celery tasks of the sources app: thin wrappers around sources.services."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task

from mcma.errors import NotFoundError
from sources import services

logger = logging.getLogger(__name__)


@shared_task(name="sources.scan_run", bind=True, acks_late=True)
def scan_run_task(self: Any, scan_id: int) -> None:
    # Re-delivery after a lost worker re-runs the scan: scans are idempotent, and a finished one is a no-op.
    try:
        services.scan_run(scan_id=scan_id)
    except NotFoundError:
        logger.warning("scan %s was deleted before it ran; nothing to do", scan_id)
