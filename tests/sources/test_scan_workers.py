"""The scan's worker processes: gone when their parent dies, and replaced by threads where a process may not
have children (a Celery prefork child)."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from sources.scan import pipeline
from sources.scan.read import Prepared

BASE_DIR = Path(__file__).resolve().parent.parent.parent
needs_process_pool = pytest.mark.skipif(
    (os.cpu_count() or 1) < 2 or not sys.platform.startswith("linux"), reason="scans use threads here"
)


def _pid_after_a_while(_: int) -> int:
    time.sleep(0.05)  # so that both workers get some of the tasks
    return os.getpid()


def _prepare_nothing_in_a_daemonic_process(results: multiprocessing.Queue[tuple[bool, list[Prepared]]]) -> None:
    preparer = pipeline._Preparer(hardlink=False)
    chunk = preparer.submit([])
    results.put((isinstance(preparer._pool, ThreadPoolExecutor), preparer.result(chunk)))
    preparer.close(cancel=False)


@needs_process_pool
def test_a_process_that_may_not_have_children_reads_in_threads() -> None:
    # Celery's prefork pool runs tasks in daemonic processes, which the standard library forbids to have children.
    context = multiprocessing.get_context("fork")
    results: multiprocessing.Queue[tuple[bool, list[Prepared]]] = context.Queue()
    child = context.Process(target=_prepare_nothing_in_a_daemonic_process, args=(results,), daemon=True)
    child.start()
    threads, prepared = results.get(timeout=30)
    child.join(timeout=30)

    assert (threads, prepared) == (True, [])


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

        parent.send_signal(signal.SIGKILL)  # no clean-up runs: the workers must notice on their own
        parent.wait(timeout=10)

        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in worker_pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(_alive(pid) for pid in worker_pids)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(timeout=10)
