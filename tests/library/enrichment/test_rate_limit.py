"""The MusicBrainz limit holds across processes: two worker processes share one slot row in the database."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from tests.fakes.metadata_server import RECORDING_ID, FakeMetadataServices

INTERVAL = 0.3
CALLS_PER_WORKER = 3

_WORKER = textwrap.dedent(
    f"""
    import django
    django.setup()
    from django.core.management import call_command
    from library.enrichment import musicbrainz
    if "--migrate" in __import__("sys").argv:
        call_command("migrate", "library", verbosity=0)
    else:
        for _ in range({CALLS_PER_WORKER}):
            musicbrainz.recording_get("{RECORDING_ID}")
    """
)


def _database_url(tmp_path: Path) -> tuple[str, bool]:
    """A database both workers can open: the test database itself on PostgreSQL; on SQLite (an in-memory test
    database no other process can see) a file of its own, migrated first."""
    if connection.vendor == "postgresql":
        params = connection.settings_dict
        return f"postgres://{params['USER']}@{params['HOST']}:{params['PORT']}/{params['NAME']}", False
    return f"sqlite:///{tmp_path / 'shared.sqlite3'}", True


@pytest.mark.django_db(transaction=True)
def test_two_worker_processes_never_call_musicbrainz_faster_than_the_interval(
    fake_metadata: FakeMetadataServices, tmp_path: Path, settings: Any
) -> None:
    url, needs_migrate = _database_url(tmp_path)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "mcma.settings",
        "DATABASE_URL": url,
        "MCMA_DATA_DIR": str(tmp_path),
        "MUSICBRAINZ_URL": fake_metadata.base_url,
        "MUSICBRAINZ_MIN_INTERVAL_SECONDS": str(INTERVAL),
    }
    run = [sys.executable, "-c", _WORKER]
    if needs_migrate:
        subprocess.run([*run, "--migrate"], env=env, check=True, timeout=300, cwd=settings.BASE_DIR)

    workers = [subprocess.Popen(run, env=env, cwd=settings.BASE_DIR) for _ in range(2)]
    assert [worker.wait(timeout=120) for worker in workers] == [0, 0]

    times = sorted(at for at, _, _ in fake_metadata.hits("/ws/2/recording/"))
    assert len(times) == 2 * CALLS_PER_WORKER
    # Turns are reserved one interval apart; each arrival lags its turn by the time the request takes to leave
    # (a worker's first connection is slower, up to ~0.25 s here), so the check is on windows, not on pairs: no
    # two intervals ever hold more than two requests' worth, and the run after the first request keeps pace.
    for start in times:
        assert sum(start <= at < start + 2 * INTERVAL for at in times) <= 3, times
    assert times[-1] - times[1] >= (len(times) - 2) * INTERVAL * 0.9, times
