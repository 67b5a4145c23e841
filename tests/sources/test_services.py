"""sources.services and the registry: enqueueing, the one-active-scan rule, stale scans, broken brokers."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from kombu.exceptions import OperationalError as KombuOperationalError

from library import storage
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
from sources.scan.report import ScanReport

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


def test_a_scan_requested_while_the_broker_is_down_stays_queued_until_the_sweep_sends_it(
    music_root: Path, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    sent: list[int] = []

    def broker_down(_scan_id: int) -> None:
        raise KombuOperationalError("Timeout reading from socket")

    monkeypatch.setattr(tasks.scan_run_task, "delay", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        scan = services.scan_enqueue(source_name="local")

    scan.refresh_from_db()
    assert (scan.state, scan.enqueued_at, scan.message) == (ScanState.QUEUED, None, "")
    with pytest.raises(ScanAlreadyRunningError):  # kept, so a second request does not queue a twin
        services.scan_enqueue(source_name="local")
    assert services.scans_sweep() == services.ScanSweepReport(abandoned=0, resent=0)  # still down: kept queued

    monkeypatch.setattr(tasks.scan_run_task, "delay", sent.append)  # the broker is back
    assert services.scans_sweep().resent == 1
    assert services.scans_sweep().resent == 0  # sent a moment ago: not twice
    scan.refresh_from_db()
    assert sent == [scan.pk]
    assert scan.state == ScanState.QUEUED
    assert scan.enqueued_at is not None


def test_the_sweep_resends_a_queued_scan_whose_message_was_lost(
    music_root: Path, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    sent: list[int] = []
    monkeypatch.setattr(tasks.scan_run_task, "delay", sent.append)
    old = timezone.now() - timedelta(seconds=settings.SCAN_REENQUEUE_AFTER_SECONDS + 1)
    lost = ScanRun.objects.create(source="local", root="x", enqueued_at=old)  # a Redis restart dropped it

    assert services.scans_sweep().resent == 1
    assert sent == [lost.pk]


def test_the_sweep_fails_a_scan_whose_heartbeat_stopped_and_frees_the_source(
    music_root: Path, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tasks.scan_run_task, "delay", lambda _scan_id: None)
    silent = timezone.now() - timedelta(seconds=settings.SCAN_STALE_AFTER_SECONDS + 1)
    dead = ScanRun.objects.create(
        source="local", root="x", state=ScanState.RUNNING, started_at=silent, heartbeat_at=silent
    )
    alive = ScanRun.objects.create(
        source="other", root="y", state=ScanState.RUNNING, started_at=silent, heartbeat_at=timezone.now()
    )

    assert services.scans_sweep().abandoned == 1

    dead.refresh_from_db()
    alive.refresh_from_db()
    assert dead.state == ScanState.FAILED
    assert dead.message == "The worker running this scan stopped."
    assert alive.state == ScanState.RUNNING
    assert services.scan_enqueue(source_name="local").state == ScanState.QUEUED


def test_a_delivery_of_a_scan_already_running_does_nothing(music_root: Path) -> None:
    now = timezone.now()
    running = ScanRun.objects.create(
        source="local", root="x", state=ScanState.RUNNING, started_at=now, heartbeat_at=now
    )

    result = services.scan_run(scan_id=running.pk)

    assert (result.state, result.started_at, result.found) == (ScanState.RUNNING, running.started_at, 0)


@pytest.mark.django_db(transaction=True)  # the heartbeat thread has its own connection: it must see the row
def test_a_running_scan_writes_its_heartbeat_every_few_seconds(
    music_root: Path, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.SCAN_HEARTBEAT_SECONDS = 0.05
    beats: set[Any] = set()

    def long_phase(options: Any, **_kwargs: Any) -> ScanReport:
        deadline = time.monotonic() + 5
        while len(beats) < 3 and time.monotonic() < deadline:  # no batch ends, yet the heartbeat moves on
            beats.add(ScanRun.objects.values_list("heartbeat_at", flat=True).get())
            time.sleep(0.02)
        return ScanReport()

    monkeypatch.setattr(services, "scan_tree", long_phase)

    scan = services.scan_import_folder(root=music_root)

    assert scan.state == ScanState.SUCCEEDED
    assert len(beats) >= 3


def test_a_scan_given_up_as_lost_stops_without_overwriting_its_row(
    small_library: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_scan_tree = services.scan_tree

    def given_up_midway(options: Any, **kwargs: Any) -> ScanReport:
        def on_batch(report: ScanReport) -> None:
            ScanRun.objects.update(state=ScanState.FAILED, message="The worker running this scan stopped.")
            kwargs["on_batch"](report)

        return real_scan_tree(options, **{**kwargs, "on_batch": on_batch})

    monkeypatch.setattr(services, "scan_tree", given_up_midway)

    scan = services.scan_import_folder(root=small_library)

    assert scan.state == ScanState.FAILED
    assert scan.message == "The worker running this scan stopped."
    assert ScanRun.objects.get().state == ScanState.FAILED


def test_the_next_scan_removes_staging_debris_of_dead_scans_only(music_root: Path, settings: Any) -> None:
    staging = Path(settings.MEDIA_ROOT) / storage.STAGING_DIR
    staging.mkdir(parents=True)
    debris = staging / f"{storage.TEMP_PREFIX}0123456789abcdef{storage.TEMP_SUFFIX}"
    debris.write_bytes(b"half a copy")  # seconds old: a dead scan's, since no other scan runs
    unrelated = staging / "notes.txt"
    unrelated.write_text("not a temp file")

    services.scan_import_folder(root=music_root)

    assert not debris.exists()
    assert unrelated.exists()

    debris.write_bytes(b"a live copy")  # now another source's scan is running and may be writing it
    now = timezone.now()
    ScanRun.objects.create(source="other", root="y", state=ScanState.RUNNING, started_at=now, heartbeat_at=now)

    services.scan_import_folder(root=music_root)

    assert debris.read_bytes() == b"a live copy"


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
