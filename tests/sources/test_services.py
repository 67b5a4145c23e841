"""sources.services and the registry: enqueueing, the one-active-scan rule, stale scans, broken brokers."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from mcma.errors import NotFoundError
from sources import services, tasks
from sources.backends.local import LocalSource
from sources.base import Capability, FolderImportable, Source
from sources.errors import (
    CapabilityMissingError,
    ScanAlreadyRunningError,
    SourceUnavailableError,
    UnknownSourceError,
)
from sources.models import ScanRun, ScanState
from sources.registry import all_sources, get_source, reset_sources

pytestmark = pytest.mark.django_db


class SearchOnlySource:
    capabilities = frozenset({Capability.SEARCH})
    enabled = True

    def __init__(self, *, name: str, motto: str = "") -> None:
        self.name = name
        self.motto = motto

    def health(self) -> Any:
        raise RuntimeError("health checks may fail")


def test_registry_builds_backends_lazily_with_options(settings: Any, tmp_path: Path) -> None:
    settings.MCMA_SOURCES = {
        "local": {"BACKEND": "sources.backends.local.LocalSource", "OPTIONS": {"root": str(tmp_path)}},
        "other": {"BACKEND": f"{__name__}.SearchOnlySource", "OPTIONS": {"motto": "hi"}},
    }

    local = get_source("local")

    assert isinstance(local, LocalSource)
    assert isinstance(local, Source)
    assert isinstance(local, FolderImportable)
    assert get_source("local") is local  # cached
    other = get_source("other")
    assert isinstance(other, SearchOnlySource)
    assert other.motto == "hi"
    assert [s.name for s in all_sources()] == ["local", "other"]
    reset_sources()
    assert get_source("local") is not local


def test_unknown_source_lists_the_known_ones(settings: Any) -> None:
    settings.MCMA_SOURCES = {"local": {"BACKEND": "sources.backends.local.LocalSource", "OPTIONS": {}}}

    with pytest.raises(UnknownSourceError) as info:
        get_source("spotify")

    assert info.value.details == {"known": ["local"]}


def test_bad_backend_is_improperly_configured(settings: Any) -> None:
    settings.MCMA_SOURCES = {"broken": {"BACKEND": "sources.backends.nope.Nope"}, "empty": {}}

    with pytest.raises(ImproperlyConfigured, match="cannot import"):
        get_source("broken")
    with pytest.raises(ImproperlyConfigured, match="no BACKEND"):
        get_source("empty")


@pytest.mark.parametrize(
    ("root", "available", "fragment"),
    [("", False, "LOCAL_MEDIA_IMPORT_PATH"), ("missing", False, "does not exist"), ("file", False, "not a directory")],
)
def test_local_health_problems(root: str, available: bool, fragment: str, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    source = LocalSource(name="local", root=str(tmp_path / root) if root else "")

    health = source.health()

    assert health.available is available
    assert fragment in health.message
    with pytest.raises(SourceUnavailableError):
        source.import_root()


def test_local_health_unreadable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sources.backends.local.os.access", lambda *_a: False)

    health = LocalSource(name="local", root=str(tmp_path)).health()

    assert not health.available
    assert "not readable" in health.message


def test_local_health_ok(music_root: Path) -> None:
    health = get_source("local").health()

    assert health.available
    assert health.details == {"root": str(music_root.resolve())}


def test_enqueue_creates_a_queued_scan_and_sends_it_on_commit(
    music_root: Path, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    sent: list[int] = []
    monkeypatch.setattr(tasks.scan_run_task, "delay", lambda scan_id: sent.append(scan_id))

    with django_capture_on_commit_callbacks(execute=True):
        scan = services.scan_enqueue(source_name="local")

    assert scan.state == ScanState.QUEUED
    assert scan.root == str(music_root.resolve())
    assert sent == [scan.pk]


def test_enqueue_refuses_a_second_active_scan(music_root: Path) -> None:
    first = services.scan_enqueue(source_name="local")

    with pytest.raises(ScanAlreadyRunningError) as info:
        services.scan_enqueue(source_name="local")

    assert info.value.details == {"scan_id": first.pk}
    assert ScanRun.objects.count() == 1


def test_a_stale_running_scan_does_not_block_forever(music_root: Path) -> None:
    old = timezone.now() - timedelta(hours=2)
    stale = ScanRun.objects.create(source="local", root="x", state=ScanState.RUNNING, started_at=old, heartbeat_at=old)

    fresh = services.scan_enqueue(source_name="local")

    stale.refresh_from_db()
    assert stale.state == ScanState.FAILED
    assert "stopped" in stale.message
    assert fresh.state == ScanState.QUEUED


def test_enqueue_checks_the_source(settings: Any) -> None:
    settings.MCMA_SOURCES = {
        "local": {"BACKEND": "sources.backends.local.LocalSource", "OPTIONS": {"root": ""}},
        "search": {"BACKEND": f"{__name__}.SearchOnlySource"},
    }

    with pytest.raises(SourceUnavailableError):
        services.scan_enqueue(source_name="local")
    with pytest.raises(CapabilityMissingError):
        services.scan_enqueue(source_name="search")
    with pytest.raises(UnknownSourceError):
        services.scan_enqueue(source_name="nope")
    assert not ScanRun.objects.exists()


def test_unreachable_broker_fails_the_scan_instead_of_leaving_it_queued(
    music_root: Path, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    def broker_down(_scan_id: int) -> None:
        raise ConnectionRefusedError("broker down")

    monkeypatch.setattr(tasks.scan_run_task, "delay", broker_down)

    with django_capture_on_commit_callbacks(execute=True):
        scan = services.scan_enqueue(source_name="local")

    scan.refresh_from_db()
    assert scan.state == ScanState.FAILED
    assert "task queue" in scan.message
    services.scan_enqueue(source_name="local")  # the failed one no longer blocks


def test_scan_run_runs_once_and_ignores_redelivery_of_finished_scans(small_library: Path) -> None:
    scan = services.scan_enqueue(source_name="local")

    done = services.scan_run(scan_id=scan.pk)
    again = services.scan_run(scan_id=scan.pk)

    assert done.state == ScanState.SUCCEEDED
    assert done.added == 7
    assert done.started_at is not None
    assert done.finished_at is not None
    assert again.finished_at == done.finished_at
    assert "7 added" in done.message


def test_scan_run_fails_cleanly_when_the_folder_vanished(music_root: Path) -> None:
    scan = services.scan_enqueue(source_name="local")
    music_root.rmdir()

    result = services.scan_run(scan_id=scan.pk)

    assert result.state == ScanState.FAILED
    assert "does not exist" in result.message


def test_scan_run_records_an_unexpected_crash(small_library: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scan = services.scan_enqueue(source_name="local")

    def crash(*_a: Any, **_k: Any) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(services, "scan_tree", crash)

    result = services.scan_run(scan_id=scan.pk)

    assert result.state == ScanState.FAILED
    assert "disk on fire" in result.message


def test_errors_are_capped(music_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sources.scan.report.MAX_REPORTED_ERRORS", 3)
    for n in range(6):
        (music_root / f"bad{n}.mp3").write_text("not audio")

    scan = services.scan_import_folder(root=music_root)

    assert scan.failed == 6
    assert len(scan.errors) == 4
    assert scan.errors[-1]["error"] == "3 more problems not listed"


def test_an_interrupted_import_frees_the_source(small_library: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupt(*_a: Any, **_k: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(services, "scan_tree", interrupt)

    with pytest.raises(KeyboardInterrupt):
        services.scan_import_folder(root=small_library)

    scan = ScanRun.objects.get()
    assert scan.state == ScanState.FAILED
    assert scan.message == "The scan was interrupted."


def test_task_for_a_deleted_scan_is_dropped(music_root: Path) -> None:
    scan = services.scan_enqueue(source_name="local")
    scan.delete()

    tasks.scan_run_task.run(scan.pk)  # no exception: the message is acknowledged and dropped

    with pytest.raises(NotFoundError):
        services.scan_run(scan_id=scan.pk)


@pytest.mark.parametrize("where", ["media", "media/sub", "."])
def test_a_folder_overlapping_the_library_storage_is_refused(where: str, tmp_path: Path) -> None:
    folder = (tmp_path / where).resolve()
    folder.mkdir(parents=True, exist_ok=True)

    health = LocalSource(name="local", root=str(folder)).health()

    assert not health.available
    assert "overlaps the library storage" in health.message
    with pytest.raises(SourceUnavailableError, match="overlaps"):
        services.scan_import_folder(root=folder)
