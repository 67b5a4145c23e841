"""A real Celery worker is SIGKILLed mid-download; after recovery there is exactly one track and no stray file.

Everything runs in child processes against a throw-away SQLite file, the filesystem broker and the fake YouTube
Music server of this process (127.0.0.1). The first worker is killed by its PID while bytes arrive; a second
worker with embedded beat runs the periodic sweep, which notices the stale heartbeat and hands the job over.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from tests.fakes.fixtures import FakeYouTube
from tests.faults.stack import worker_command

pytestmark = pytest.mark.slow

BASE_DIR = Path(settings.BASE_DIR)
DEADLINE_SECONDS = 45


def _wait_for(check: Callable[[], Any], *, until: float, what: str, stack: Stack) -> Any:
    while time.monotonic() < until:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}: {stack.diagnostics()}")


class Stack:
    def __init__(self, tmp: Path, fake: FakeYouTube) -> None:
        self.data = tmp / "data"
        self.media = self.data / "media"
        self.db = self.data / "mcma.sqlite3"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "mcma.settings",
            "MCMA_DATA_DIR": str(self.data),
            "MEDIA_ROOT": str(self.media),
            "DATABASE_URL": f"sqlite:///{self.db}",
            "CELERY_BROKER_URL": "filesystem://",
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "YOUTUBE_ENABLED": "true",
            "YOUTUBE_MUSIC_BASE_URL": fake.base_url,
            "YOUTUBE_COOKIES_FILE": "",
            "DOWNLOAD_ALLOWED_EXTRACTORS": "generic",
            "DOWNLOAD_STALE_AFTER_SECONDS": "3",
            "DOWNLOAD_SWEEP_SECONDS": "1",
            "DOWNLOAD_REENQUEUE_AFTER_SECONDS": "2",
            "DOWNLOAD_TEMP_DIR": "",
            "LOG_LEVEL": "WARNING",
        }
        self.env.pop("PYTEST_CURRENT_TEST", None)
        self.workers: list[subprocess.Popen[bytes]] = []

    def manage(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=BASE_DIR,
            env=self.env,
            capture_output=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr.decode()[-2000:]
        return done.stdout.decode()

    def start_worker(self, *, beat: bool) -> subprocess.Popen[bytes]:
        args = worker_command(f"crash{len(self.workers)}@localhost")
        if beat:
            args.append("--beat")
        worker = subprocess.Popen(args, cwd=BASE_DIR, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.workers.append(worker)
        return worker

    def query(self, sql: str, *params: object) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.db, timeout=10) as conn:
            return list(conn.execute(sql, params).fetchall())

    def job(self) -> tuple[Any, ...] | None:
        rows = self.query("SELECT state, bytes_done, attempt, error_code FROM downloads_downloadjob")
        return rows[0] if rows else None

    def diagnostics(self) -> str:
        self.stop()
        logs = [w.stderr.read().decode(errors="replace")[-3000:] for w in self.workers if w.stderr]
        return f"job={self.job()} workers={logs}"

    def stop(self) -> None:
        for worker in self.workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
                try:
                    worker.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    worker.kill()
                    worker.wait(timeout=5)


@pytest.fixture
def stack(tmp_path: Path, fake_youtube: FakeYouTube) -> Iterator[Stack]:
    running = Stack(tmp_path, fake_youtube)
    try:
        yield running
    finally:
        running.stop()


@pytest.mark.timeout(DEADLINE_SECONDS + 12)
def test_worker_killed_mid_download_recovers_to_exactly_one_track(stack: Stack, fake_youtube: FakeYouTube) -> None:
    until = time.monotonic() + DEADLINE_SECONDS
    song = fake_youtube.catalog.songs["vidUGCUGC01"]
    song.media, song.media_name, song.seconds = "slow", "long.opus", 30
    fake_youtube.media.slow_chunk, fake_youtube.media.slow_pause = 4096, 0.1
    stack.manage("migrate", "--noinput")
    for folder in ("queue", "processed"):  # the web process may publish before any worker created them
        (stack.data / "broker" / folder).mkdir(parents=True, exist_ok=True)
    first = stack.start_worker(beat=False)

    stack.manage(
        "shell",
        "-c",
        "from downloads.services import download_request;"
        "download_request(user=None, source='youtube', external_id='vidUGCUGC01', kind='song')",
    )
    _wait_for(
        lambda: (j := stack.job()) and j[0] == "running" and j[1] > 0, until=until, what="bytes to arrive", stack=stack
    )
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=10)

    state, _bytes, attempt, _code = stack.job() or ()
    assert (state, attempt) == ("running", 1)  # the dead worker could not record anything
    assert list(stack.media.rglob("*.part")), "the killed download left its partial file behind"

    song.media = "ok"  # the source is fast again; recovery must not depend on that, it only saves time
    stack.start_worker(beat=True)
    _wait_for(
        lambda: (j := stack.job()) and j[0] == "succeeded",
        until=until,
        what="the sweep to recover the job",
        stack=stack,
    )

    state, _bytes, attempt, _code = stack.job() or ()
    assert attempt == 2
    tracks = stack.query("SELECT source_id, path FROM library_track")
    assert len(tracks) == 1
    assert tracks[0][0] == "vidUGCUGC01"
    audio = [p for p in stack.media.rglob("*") if p.is_file() and p.suffix in (".ogg", ".opus", ".m4a", ".mp3")]
    assert [p.relative_to(stack.media).as_posix() for p in audio] == [tracks[0][1]]
    assert not list(stack.media.rglob("*.part"))
    leftovers = [p for p in (stack.media / ".incoming").rglob("*") if p.is_file()]
    assert leftovers == []
