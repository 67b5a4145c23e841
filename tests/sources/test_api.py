"""/api/v1/sources: listing, health, starting scans (admins only) and reading their reports."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sources import services, tasks
from sources.models import ScanRun, ScanState
from tests.factories.accounts import AdminFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def sent_scans(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    sent: list[int] = []
    monkeypatch.setattr(tasks.scan_run_task, "delay", lambda scan_id: sent.append(scan_id))
    return sent


def test_sources_need_a_login(api_client_for: Any) -> None:
    assert api_client_for(None).get("/api/v1/sources").status_code == 401


def test_list_sources_with_availability(music_root: Path, api_client_for: Any) -> None:
    response = api_client_for(UserFactory.create()).get("/api/v1/sources")

    assert response.status_code == 200
    assert response.json() == [
        {"name": "local", "capabilities": ["import"], "available": True, "message": f"Importing from {music_root}."}
    ]


def test_admins_also_see_details(music_root: Path, api_client_for: Any) -> None:
    response = api_client_for(AdminFactory.create()).get("/api/v1/sources/local/health")

    assert response.status_code == 200
    assert response.json()["details"] == {"root": str(music_root.resolve())}


def test_health_of_an_unconfigured_local_source(settings: Any, api_client_for: Any) -> None:
    settings.MCMA_SOURCES = {"local": {"BACKEND": "sources.backends.local.LocalSource", "OPTIONS": {"root": ""}}}

    body = api_client_for(UserFactory.create()).get("/api/v1/sources/local/health").json()

    assert body["available"] is False
    assert "LOCAL_MEDIA_IMPORT_PATH" in body["message"]
    assert "details" not in body


def test_unknown_source_is_404_with_known_names(music_root: Path, api_client_for: Any) -> None:
    response = api_client_for(UserFactory.create()).get("/api/v1/sources/napster/health")

    assert response.status_code == 404
    assert response.json()["error"]["details"] == {"known": ["local"]}


def test_only_admins_start_scans(music_root: Path, api_client_for: Any) -> None:
    assert api_client_for(None).post("/api/v1/sources/local/scan").status_code == 401
    assert api_client_for(UserFactory.create()).post("/api/v1/sources/local/scan").status_code == 403
    assert not ScanRun.objects.exists()


def test_admin_starts_a_scan_and_reads_it(
    music_root: Path, api_client_for: Any, django_capture_on_commit_callbacks: Any, sent_scans: list[int]
) -> None:
    admin = AdminFactory.create()
    client = api_client_for(admin)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/v1/sources/local/scan")

    assert response.status_code == 202
    body = response.json()
    assert body["state"] == "queued"
    assert body["requested_by"] == admin.username
    assert sent_scans == [body["id"]]

    detail = client.get(f"/api/v1/sources/local/scans/{body['id']}")
    assert detail.status_code == 200
    assert detail.json()["id"] == body["id"]
    listing = client.get("/api/v1/sources/local/scans").json()
    assert [s["id"] for s in listing["results"]] == [body["id"]]


def test_second_scan_is_409_with_the_active_scan(music_root: Path, api_client_for: Any) -> None:
    client = api_client_for(AdminFactory.create())
    first = client.post("/api/v1/sources/local/scan").json()

    response = client.post("/api/v1/sources/local/scan")

    assert response.status_code == 409
    assert response.json()["error"]["details"] == {"scan_id": first["id"]}


def test_scan_of_an_unavailable_source_is_409(settings: Any, api_client_for: Any) -> None:
    settings.MCMA_SOURCES = {"local": {"BACKEND": "sources.backends.local.LocalSource", "OPTIONS": {"root": "/nope"}}}

    response = api_client_for(AdminFactory.create()).post("/api/v1/sources/local/scan")

    assert response.status_code == 409
    assert "does not exist" in response.json()["error"]["message"]


def test_finished_scan_reports_counts_and_file_errors(small_library: Path, api_client_for: Any) -> None:
    scan = services.scan_enqueue(source_name="local")
    services.scan_run(scan_id=scan.pk)

    body = api_client_for(AdminFactory.create()).get(f"/api/v1/sources/local/scans/{scan.pk}").json()

    assert body["state"] == ScanState.SUCCEEDED
    counts = {k: body[k] for k in ("found", "added", "updated", "unchanged", "removed", "skipped", "failed")}
    assert counts == {"found": 8, "added": 7, "updated": 0, "unchanged": 0, "removed": 0, "skipped": 2, "failed": 1}
    assert {"path": "empty.mp3", "error": "the file is empty (0 bytes)", "kind": "failed"} in body["errors"]


def test_scan_detail_errors(music_root: Path, api_client_for: Any) -> None:
    client = api_client_for(AdminFactory.create())
    scan = ScanRun.objects.create(source="elsewhere", root="/x", state=ScanState.SUCCEEDED)

    assert client.get("/api/v1/sources/local/scans/999999").status_code == 404
    assert client.get(f"/api/v1/sources/local/scans/{scan.pk}").status_code == 404  # another source's scan
    assert client.get("/api/v1/sources/local/scans/abc").status_code == 404
    assert api_client_for(UserFactory.create()).get(f"/api/v1/sources/local/scans/{scan.pk}").status_code == 403
