"""A scan queued through the API's service runs in a real Celery worker over the configured broker."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
from celery.contrib.testing.worker import start_worker

from library.models import Track
from mcma.celery import app
from sources import services
from sources.models import ScanRun, ScanState


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_scan_runs_in_a_real_worker(small_library: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The suite maps the embedded filesystem broker to memory:// (tests/conftest.py); in CI this is Redis, shared
    # with other tests, so the scan goes through a queue of its own that only this worker consumes.
    queue = f"mcma-test-scan-{uuid.uuid4().hex[:8]}"
    monkeypatch.setitem(app.conf, "task_routes", {"sources.scan_run": {"queue": queue}})
    # The router is built once, on the first publish in this process, from the routes of that moment: give
    # this test a router over its own table (monkeypatch puts the original back afterwards).
    monkeypatch.setattr(app.amqp, "_rtable", None)
    monkeypatch.setitem(vars(app.amqp), "router", app.amqp.Router())
    with start_worker(
        app, perform_ping_check=False, pool="solo", loglevel="WARNING", shutdown_timeout=30, queues=[queue]
    ):
        scan = services.scan_enqueue(source_name="local")  # autocommit: on_commit sends at once
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            scan.refresh_from_db()
            if scan.state in (ScanState.SUCCEEDED, ScanState.FAILED):
                break
            time.sleep(0.2)

    assert scan.state == ScanState.SUCCEEDED, scan.message
    assert scan.added == 7
    assert Track.objects.count() == 7
    assert not ScanRun.objects.filter(state__in=[ScanState.QUEUED, ScanState.RUNNING]).exists()
