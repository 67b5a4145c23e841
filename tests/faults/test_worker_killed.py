"""The Celery worker is SIGKILLed in the middle of real work; a new worker (with beat) must end with every file
imported once: 0 lost, 0 duplicated, 0 partial files, and the next scan or download allowed."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.fakes.fixtures import FakeYouTube
from tests.faults.conftest import LIBRARY_FILES
from tests.faults.stack import Stack, wait_for

pytestmark = [pytest.mark.faults, pytest.mark.timeout(150)]


def _scan_state(stack: Stack, scan_id: int) -> str:
    return str(stack.query("SELECT state FROM sources_scanrun WHERE id = %s", scan_id)[0][0])


def _start_scan(stack: Stack) -> int:
    answer = stack.request("POST", "/api/v1/sources/local/scan")
    assert answer.status == 202, answer.body
    return int(answer.body["id"])


def _debris(stack: Stack) -> str:
    """What a killed scan left: staging temp files, and files its workers placed whose rows never came."""
    rows = set(stack.track_paths())
    orphans = [path for path in stack.audio_files() if path not in rows]
    return f"{len(stack.partial_files())} staging files, {len(orphans)} files without rows"


def _assert_library_complete(stack: Stack) -> None:
    tracks = stack.track_paths()
    files = stack.audio_files()
    assert len(tracks) == LIBRARY_FILES, f"lost: {LIBRARY_FILES - len(tracks)}"
    assert len(set(tracks)) == len(tracks)
    assert files == tracks, f"files without rows: {sorted(set(files) - set(tracks))[:5]}"
    assert not [path for path in files if " (2)" in path], "a file was stored twice"
    assert stack.partial_files() == []


def test_worker_killed_during_a_scan(stack: Stack) -> None:
    worker = stack.start_worker()
    scan_id = _start_scan(stack)
    wait_for(lambda: _scan_state(stack, scan_id) == "running", seconds=30, what="the scan", diagnostics=stack.logs)
    time.sleep(0.1)
    stack.kill(worker)
    assert _scan_state(stack, scan_id) == "running", "the scan finished before the kill"
    imported_before = len(stack.track_paths())
    debris = _debris(stack)
    print(f"\ninjected: SIGKILL of the worker 0.1 s into scan {scan_id} ({imported_before} tracks written)")

    blocked = stack.request("POST", "/api/v1/sources/local/scan")
    assert blocked.status == 409  # the dead scan still looks alive until its heartbeat is stale
    stack.start_worker()
    wait_for(lambda: _scan_state(stack, scan_id) == "failed", seconds=30, what="the sweep", diagnostics=stack.logs)
    status = stack.subsonic("getScanStatus")
    assert status.body["subsonic-response"]["scanStatus"]["scanning"] is False
    rescan = _start_scan(stack)
    wait_for(lambda: _scan_state(stack, rescan) == "succeeded", seconds=60, what="the rescan", diagnostics=stack.logs)

    _assert_library_complete(stack)
    print(
        f"found: scan {scan_id} failed by the sweep, Subsonic scanning=false, rescan {rescan} succeeded; "
        f"{len(stack.track_paths())}/{LIBRARY_FILES} tracks, 0 duplicates, 0 partial files (the dead scan left "
        f"{debris})"
    )


@pytest.mark.parametrize(
    ("moment", "fault"),
    [
        ("download", ""),
        ("tagging", "downloads.services.pipeline:write_tags:pause"),
        ("final move", "downloads.services.pipeline:track_upsert:pause"),
    ],
)
def test_worker_killed_during_a_download(stack: Stack, fake_youtube: FakeYouTube, moment: str, fault: str) -> None:
    song = fake_youtube.catalog.songs["vidUGCUGC01"]
    if moment == "download":  # bytes arrive slowly, so the kill lands mid-transfer
        song.media, song.media_name, song.seconds = "slow", "long.opus", 30
        fake_youtube.media.slow_chunk, fake_youtube.media.slow_pause = 4096, 0.1
    marker = stack.tmp / "paused"
    worker = stack.start_worker(fault=fault, marker=marker)

    answer = stack.request("POST", "/api/v1/downloads", {"source": "youtube", "external_id": "vidUGCUGC01"})
    assert answer.status == 202, answer.body
    job_id = answer.body["job"]["id"]

    def job() -> tuple[str, int, int]:  # the only job (SQLite stores UUIDs without dashes: no WHERE on the id)
        row = stack.query("SELECT state, bytes_done, attempt FROM downloads_downloadjob")[0]
        return str(row[0]), int(row[1] or 0), int(row[2])

    if fault:
        wait_for(marker.exists, seconds=30, what=f"the worker to reach {moment}", diagnostics=stack.logs)
    else:
        wait_for(lambda: job()[1] > 0, seconds=30, what="bytes to arrive", diagnostics=stack.logs)
    stack.kill(worker)
    print(f"\ninjected: SIGKILL of the worker during {moment} (job {job_id}, state {job()})")

    song.media = "ok"  # recovery must not depend on it; it only saves time
    stack.start_worker()
    wait_for(lambda: job()[0] == "succeeded", seconds=60, what="the sweep to recover", diagnostics=stack.logs)

    tracks = stack.query("SELECT source_id, path FROM library_track")
    assert [row[0] for row in tracks] == ["vidUGCUGC01"]
    assert stack.audio_files() == [tracks[0][1]]
    assert stack.partial_files() == []
    wait_for(
        lambda: not [path for path in stack.media_files() if path.startswith(".incoming/")],
        seconds=10,
        what="the work dir to be removed",
        diagnostics=stack.logs,
    )
    print(f"found: job succeeded on attempt {job()[2]}; 1 track, 1 file, 0 partial files, work dir empty")


def test_worker_killed_with_a_staged_batch(stack: Stack, tmp_path: Path) -> None:
    """A scan killed before any batch committed leaves only staging debris, which the next scan clears."""
    worker = stack.start_worker(fault="sources.scan.pipeline:store_batch:pause", marker=tmp_path / "paused")
    scan_id = _start_scan(stack)
    wait_for((tmp_path / "paused").exists, seconds=30, what="the store to pause", diagnostics=stack.logs)
    # The store starts on a batch while its files are still being read (it takes them as they come), so the
    # first staged files may land after the pause. Looked for while the store is paused: once the worker is
    # killed, its scan workers may tidy up before a look.
    wait_for(stack.media_files, seconds=30, what="the first batch's files to be staged", diagnostics=stack.logs)
    stack.kill(worker)
    assert stack.track_paths() == []
    debris = _debris(stack)
    print(f"\ninjected: SIGKILL of the worker with its first batch staged, before any row ({debris})")

    stack.start_worker()
    wait_for(lambda: _scan_state(stack, scan_id) == "failed", seconds=30, what="the sweep", diagnostics=stack.logs)
    rescan = _start_scan(stack)
    wait_for(lambda: _scan_state(stack, rescan) == "succeeded", seconds=60, what="the rescan", diagnostics=stack.logs)

    _assert_library_complete(stack)
    print(f"found: {LIBRARY_FILES} tracks, 0 duplicates, 0 partial files: staging debris removed, placed files adopted")
