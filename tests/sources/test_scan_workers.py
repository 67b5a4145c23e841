"""The scan's worker processes: available inside a Celery prefork child, and gone when their parent dies; and
the garbage collector settings a scan changes for its own process only."""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import billiard
import pytest

from sources.scan import pipeline

BASE_DIR = Path(__file__).resolve().parent.parent.parent
needs_process_pool = pytest.mark.skipif(
    (os.cpu_count() or 1) < 2 or not sys.platform.startswith("linux"), reason="scans use threads here"
)


def _worker_pids_from_a_fresh_pool(_: object) -> tuple[bool, list[int], int]:
    pool = pipeline._process_pool()
    if pool is None:
        return False, [], os.getpid()
    with pool:
        pids = sorted(set(pool.map(_pid_after_a_while, range(8))))
    return True, pids, os.getpid()


def _pid_after_a_while(_: int) -> int:
    time.sleep(0.05)  # so that both workers get some of the tasks
    return os.getpid()


@needs_process_pool
def test_a_celery_prefork_child_still_gets_worker_processes() -> None:
    # Celery's prefork pool runs tasks in daemonic billiard processes, which the standard library forbids
    # to have children.
    with billiard.Pool(1) as celery_like:
        (got_pool, worker_pids, child_pid), *_ = celery_like.map(_worker_pids_from_a_fresh_pool, [None])

    assert got_pool
    assert worker_pids
    assert child_pid not in worker_pids


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"  # a zombie has exited; only its parent's reaping is pending


@needs_process_pool
def test_scan_workers_die_with_the_process_that_started_them() -> None:
    script = textwrap.dedent(
        """
        import os, time
        import django
        django.setup()
        from sources.scan import pipeline
        from tests.sources.test_scan_workers import _pid_after_a_while
        pool = pipeline._process_pool()
        print(" ".join(str(pid) for pid in sorted(set(pool.map(_pid_after_a_while, range(8))))), flush=True)
        time.sleep(60)
        """
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "mcma.settings"}
    env.pop("PYTEST_CURRENT_TEST", None)
    parent = subprocess.Popen([sys.executable, "-c", script], cwd=BASE_DIR, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        worker_pids = [int(pid) for pid in parent.stdout.readline().split()]
        assert worker_pids
        assert all(_alive(pid) for pid in worker_pids)

        parent.send_signal(signal.SIGKILL)  # no clean-up runs: only the kernel can take the workers down
        parent.wait(timeout=10)

        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in worker_pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(_alive(pid) for pid in worker_pids)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(timeout=10)


def test_a_scan_gives_the_garbage_collector_back_as_it_found_it() -> None:
    thresholds = gc.get_threshold()
    assert gc.get_freeze_count() == 0

    during: list[tuple[int, int]] = []

    @pipeline._fewer_collections()
    def failing_scan() -> None:
        during.append((gc.get_threshold()[0], gc.get_freeze_count()))
        raise RuntimeError("the scan failed")

    with pytest.raises(RuntimeError):
        failing_scan()

    assert during[0][0] == max(thresholds[0], pipeline.SCAN_GC_THRESHOLD)
    assert during[0][1] > 0

    assert gc.get_threshold() == thresholds
    assert gc.get_freeze_count() == 0


def test_a_process_frozen_before_the_scan_stays_frozen() -> None:
    gc.freeze()  # as mcma.wsgi does at start-up
    try:
        frozen = gc.get_freeze_count()
        with pipeline._fewer_collections():
            pass
        # Frozen objects can still be freed, so the count may drop a little; an unfreeze would empty it, and a
        # second freeze would add the objects made since the first.
        assert 0 < gc.get_freeze_count() <= frozen
    finally:
        gc.unfreeze()


@needs_process_pool
def test_scan_workers_collect_garbage_as_often_as_usual() -> None:
    thresholds = gc.get_threshold()
    with pipeline._fewer_collections():
        pool = pipeline._process_pool()
        assert pool is not None
        with pool:
            in_worker = pool.submit(gc.get_threshold).result()

    assert in_worker == thresholds
