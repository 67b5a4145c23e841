"""The ScanRun admin: the "scan now" button and action queue scans through the service; runs are read-only."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from sources import tasks
from sources.models import ScanRun, ScanState
from tests.factories.accounts import AdminFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_broker_sends(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tasks.scan_run_task, "delay", lambda scan_id: None)


@pytest.fixture
def staff(client: Client) -> Client:
    client.force_login(AdminFactory.create())
    return client


def test_scan_now_button_queues_a_scan(music_root: Path, staff: Client) -> None:
    changelist = staff.get(reverse("admin:sources_scanrun_changelist"))
    assert "Scan the local folder now" in changelist.content.decode()

    response = staff.post(reverse("admin:sources_scanrun_scan_now"), follow=True)

    scan = ScanRun.objects.get()
    assert scan.state == ScanState.QUEUED
    assert f"Scan #{scan.pk} of {music_root.resolve()} queued." in response.content.decode()


def test_scan_now_reports_a_conflict(music_root: Path, staff: Client) -> None:
    ScanRun.objects.create(source="local", root=str(music_root), state=ScanState.RUNNING)

    response = staff.post(reverse("admin:sources_scanrun_scan_now"), follow=True)

    assert "already running" in response.content.decode()
    assert ScanRun.objects.count() == 1


def test_scan_now_needs_post(music_root: Path, staff: Client) -> None:
    assert staff.get(reverse("admin:sources_scanrun_scan_now")).status_code == 405


def test_scan_now_action_on_selected_runs(music_root: Path, staff: Client) -> None:
    old = ScanRun.objects.create(source="local", root=str(music_root), state=ScanState.SUCCEEDED, errors=[])

    staff.post(
        reverse("admin:sources_scanrun_changelist"),
        {"action": "scan_now", "_selected_action": [old.pk]},
    )

    assert ScanRun.objects.filter(state=ScanState.QUEUED).count() == 1


def test_scan_run_page_lists_problems(music_root: Path, staff: Client) -> None:
    scan = ScanRun.objects.create(
        source="local",
        root=str(music_root),
        state=ScanState.SUCCEEDED,
        errors=[{"path": "a/<b>.mp3", "error": "the file is empty (0 bytes)", "kind": "failed"}],
    )

    page = staff.get(reverse("admin:sources_scanrun_change", args=[scan.pk])).content.decode()

    assert "the file is empty (0 bytes)" in page
    assert "a/&lt;b&gt;.mp3" in page
    assert staff.get(reverse("admin:sources_scanrun_add")).status_code == 403
