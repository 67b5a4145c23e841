"""Concurrent requests for one item make one job: the partial unique constraint decides, not Python."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection

from downloads.models import DownloadJob
from downloads.services import DownloadRequestResult, download_request
from tests.fakes.fixtures import FakeYouTube


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_for_one_item_make_one_job(fake_youtube: FakeYouTube, monkeypatch: Any) -> None:
    if connection.vendor == "sqlite":
        pytest.skip(
            "the in-memory test SQLite (shared cache) cannot run concurrent writers; CI runs this on PostgreSQL"
        )
    monkeypatch.setattr("downloads.services.enqueueing.jobs_send", lambda ids, countdown=None: None)
    barrier = threading.Barrier(4)
    results: list[DownloadRequestResult] = []
    errors: list[BaseException] = []

    def request() -> None:
        try:
            barrier.wait(timeout=10)
            results.append(download_request(user=None, source="youtube", external_id="vidAAAAAAA1", kind="song"))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=request) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert DownloadJob.objects.count() == 1
    job = DownloadJob.objects.get()
    assert {r.job.pk for r in results if r.job} == {job.pk}
    assert sum(r.created for r in results) == 1
