"""manage.py import_folder (synchronous, progress bar, summary, exit status) and manage.py scan (enqueue)."""

from __future__ import annotations

from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from library.models import Track
from sources import tasks
from sources.models import ScanRun, ScanState

pytestmark = pytest.mark.django_db


def test_import_folder_imports_and_summarises(small_library: Path) -> None:
    out, err = StringIO(), StringIO()

    # A broken file is reported, but the import ran to the end: exit status 0, so `import_folder ~/Music && …` goes on.
    call_command("import_folder", str(small_library), stdout=out, stderr=err)

    assert "8 audio files found: 7 added" in out.getvalue()
    assert "failed: empty.mp3: the file is empty" in err.getvalue()
    assert "1 files could not be imported" in err.getvalue()
    assert "Importing" in err.getvalue()  # the progress bar
    assert Track.objects.count() == 7
    assert ScanRun.objects.get().state == ScanState.SUCCEEDED


def test_import_folder_strict_exits_two_when_a_file_failed(small_library: Path) -> None:
    with pytest.raises(CommandError, match="1 files could not be imported") as info:
        call_command("import_folder", str(small_library), "--strict", stdout=StringIO(), stderr=StringIO())

    assert info.value.returncode == 2
    assert Track.objects.count() == 7


def test_import_folder_exit_status_one_when_it_cannot_run(tmp_path: Path) -> None:
    with pytest.raises(CommandError) as info:
        call_command("import_folder", str(tmp_path / "nope"), stdout=StringIO(), stderr=StringIO())

    assert info.value.returncode == 1


def test_import_folder_of_a_clean_folder_exits_zero(music_root: Path, audio_maker: Any) -> None:
    audio_maker.make(music_root / "a.flac", "flac", tags={"title": "A"})
    out = StringIO()

    call_command("import_folder", str(music_root), "--no-progress", stdout=out, stderr=StringIO())

    assert "1 added" in out.getvalue()


def test_import_folder_refuses_a_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="is not a folder"):
        call_command("import_folder", str(tmp_path / "nope"), stdout=StringIO(), stderr=StringIO())


def test_import_folder_refuses_while_a_scan_runs(music_root: Path) -> None:
    ScanRun.objects.create(source="local", root=str(music_root), state=ScanState.RUNNING)

    with pytest.raises(CommandError, match="already running"):
        call_command("import_folder", str(music_root), stdout=StringIO(), stderr=StringIO())


def test_scan_command_enqueues_the_configured_folder(
    music_root: Path, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    sent: list[int] = []
    monkeypatch.setattr(tasks.scan_run_task, "delay", lambda scan_id: sent.append(scan_id))
    out = StringIO()

    with django_capture_on_commit_callbacks(execute=True):
        call_command("scan", stdout=out)

    scan = ScanRun.objects.get()
    assert sent == [scan.pk]
    assert f"Scan #{scan.pk} of {music_root.resolve()} queued." in out.getvalue()


def test_scan_command_without_a_folder_fails(settings: Any) -> None:
    settings.MCMA_SOURCES = {"local": {"BACKEND": "sources.backends.local.LocalSource", "OPTIONS": {"root": ""}}}

    with pytest.raises(CommandError, match="LOCAL_MEDIA_IMPORT_PATH"):
        call_command("scan", stdout=StringIO())
