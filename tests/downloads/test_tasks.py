"""The Celery tasks are thin: ids in, one service call, the outcome out."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings

from downloads.models import DownloadJob, JobState
from downloads.services import download_request
from downloads.tasks import download_task, downloads_sweep_task
from mcma.celery import app
from tests.fakes.fixtures import FakeYouTube

pytestmark = pytest.mark.django_db


def test_download_task_runs_the_job(fake_youtube: FakeYouTube) -> None:
    job = download_request(user=None, source="youtube", external_id="vidAAAAAAA1", kind="song").job
    assert job is not None

    assert download_task.run(str(job.pk)) == "succeeded"
    assert download_task.run(str(job.pk)) == "skipped"
    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED


def test_download_task_survives_unknown_ids() -> None:
    assert download_task.run("00000000-0000-0000-0000-000000000000") == "skipped"


def test_sweep_task_reports(monkeypatch: pytest.MonkeyPatch) -> None:
    DownloadJob.objects.create(source="youtube", external_id="x", state=JobState.FAILED)
    sent: list[Any] = []
    monkeypatch.setattr("downloads.services.enqueueing.jobs_send", lambda ids, countdown=None: sent.append(ids))

    assert downloads_sweep_task.run() == {"recovered": 0, "resent": 0, "parents_finished": 0}
    assert sent == []


def test_tasks_are_registered_reliably() -> None:
    assert download_task.acks_late is True
    assert download_task.reject_on_worker_lost is True
    assert settings.CELERY_BEAT_SCHEDULE["downloads.sweep"]["task"] == downloads_sweep_task.name
    assert app.conf.worker_prefetch_multiplier == 1
