"""The library's disk fills up during a scan's copies: the files that fit are imported whole, the rest are
per-file failures, no partial file stays behind, and a rescan once there is room imports the rest exactly once.

MEDIA_ROOT is a 4 MB tmpfs (root may mount one here) for a library of about 11 MB; where mounting is not
allowed, the worker's storage door raises ENOSPC after its first copies instead (inject/sitecustomize.py)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from tests.faults.conftest import LIBRARY_FILES
from tests.faults.stack import Stack, stop_process, wait_for

pytestmark = [pytest.mark.faults, pytest.mark.timeout(150)]

FAKE_FULL_DISK = "library.storage:stage_file:enospc-after-40"


@pytest.fixture
def small_media(stack: Stack) -> Iterator[str]:
    """ "tmpfs" with MEDIA_ROOT mounted on a 4 MB tmpfs, or "fake" when mounting is refused."""
    stack.media.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(stack.media)], capture_output=True, timeout=10
    )
    if mounted.returncode != 0:
        yield "fake"
        return
    try:
        yield "tmpfs"
    finally:
        for worker in stack.workers:  # nothing may hold the mount when it goes
            stop_process(worker)
        subprocess.run(["umount", "-l", str(stack.media)], capture_output=True, timeout=10, check=False)


def _scan(stack: Stack) -> tuple[str, int, int]:
    answer = stack.request("POST", "/api/v1/sources/local/scan")
    assert answer.status == 202, answer.body
    scan_id = answer.body["id"]

    def finished() -> tuple[str, int, int] | None:
        state, added, failed = stack.query("SELECT state, added, failed FROM sources_scanrun WHERE id = %s", scan_id)[0]
        return (str(state), int(added), int(failed)) if state in ("succeeded", "failed") else None

    result: tuple[str, int, int] = wait_for(finished, seconds=90, what="the scan", diagnostics=stack.logs)
    return result


def _assert_no_partial_or_orphan(stack: Stack) -> None:
    assert stack.partial_files() == []
    assert stack.audio_files() == stack.track_paths()  # every stored file has its row, every row its file
    assert not [path for path in stack.audio_files() if " (2)" in path]


def test_disk_full_during_a_scan(stack: Stack, small_media: str) -> None:
    worker = stack.start_worker(fault=FAKE_FULL_DISK if small_media == "fake" else "")
    print(f"\ninjected: disk full under MEDIA_ROOT ({'4 MB tmpfs' if small_media == 'tmpfs' else 'ENOSPC fake'})")

    state, added, failed = _scan(stack)

    assert stack.get("/readyz").status == 200  # the web tier is fine
    assert state == "succeeded"  # a full disk fails files, not the scan
    assert 0 < added < LIBRARY_FILES
    assert added + failed == LIBRARY_FILES
    errors = stack.query("SELECT errors FROM sources_scanrun")[0][0]
    assert "No space left on device" in str(errors)
    _assert_no_partial_or_orphan(stack)
    print(f"found: {added} files imported whole, {failed} failed with ENOSPC, 0 partial files, 0 orphans")

    stack.kill(worker)
    if small_media == "tmpfs":
        subprocess.run(["mount", "-o", "remount,size=64m", str(stack.media)], check=True, timeout=10)
    stack.start_worker()
    state, added_later, failed = _scan(stack)

    assert (state, failed) == ("succeeded", 0)
    assert added + added_later == LIBRARY_FILES
    assert len(stack.track_paths()) == LIBRARY_FILES
    _assert_no_partial_or_orphan(stack)
    print(f"found after making room: the rescan added the other {added_later}; {LIBRARY_FILES} tracks, 0 duplicates")
