"""The database cut (connections refused) or hung (connections accepted, never answered): REST answers 503 in
the API error shape, Subsonic an error document saying the database is unavailable, /readyz a 503 naming the
database without its address, all within seconds, and everything works again once the database is back."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.faults.stack import Answer, Stack, wait_for

pytestmark = [pytest.mark.faults, pytest.mark.timeout(120)]

UNAVAILABLE = "The database is unavailable; try again in a moment."


def _probe(stack: Stack) -> list[Answer]:
    """Eight requests at once (more than gunicorn's four threads): REST, Subsonic and readiness."""
    calls: list[Callable[[], Answer]] = [
        lambda: stack.get("/api/v1/tracks"),
        lambda: stack.subsonic("getAlbumList2", type="newest"),
        lambda: stack.get("/readyz"),
    ]
    calls = [*calls, *calls, calls[0], calls[1]]
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(lambda call: call(), calls))


def _assert_fails_fast(stack: Stack, answers: list[Answer], *, limit: float) -> None:
    rest = [a for n, a in enumerate(answers) if n in (0, 3, 6)]
    subsonic = [a for n, a in enumerate(answers) if n in (1, 4, 7)]
    ready = [a for n, a in enumerate(answers) if n in (2, 5)]
    assert max(a.seconds for a in answers) < limit, [round(a.seconds, 1) for a in answers]
    for answer in rest:
        assert answer.status == 503, answer.body
        assert answer.body["error"]["code"] == "service_unavailable"
    for answer in subsonic:
        assert answer.body["subsonic-response"]["error"] == {"code": 0, "message": UNAVAILABLE}
    for answer in ready:
        assert answer.status == 503
        assert set(answer.body["failing"]) == {"database"}
    text = " ".join(str(a.body) for a in answers)
    assert "127.0.0.1" not in text
    assert "Traceback" not in text
    assert "Traceback" not in (stack.tmp / "gunicorn.log").read_text(errors="replace")


def _assert_recovers(stack: Stack) -> None:
    wait_for(lambda: stack.get("/api/v1/tracks").status == 200, seconds=20, what="REST", diagnostics=stack.logs)
    assert stack.get("/readyz").status == 200
    assert stack.subsonic("getAlbumList2", type="newest").body["subsonic-response"]["status"] == "ok"


def _postgres_only(stack: Stack) -> None:
    if stack.database.proxy is None:
        pytest.skip("the database is an SQLite file here: no connection to cut (set DATABASE_URL=postgres://...)")


def test_database_cut(stack: Stack) -> None:
    _postgres_only(stack)
    assert stack.get("/api/v1/tracks").status == 200  # the threads hold live connections
    assert stack.database.proxy is not None
    stack.database.proxy.cut()
    print("\ninjected: the database port closed (live sessions reset, new connections refused)")

    answers = _probe(stack)

    _assert_fails_fast(stack, answers, limit=5)
    print(f"found: REST 503, Subsonic error 0, readyz 503 (database); slowest {max(a.seconds for a in answers):.1f} s")
    stack.database.proxy.restore()
    _assert_recovers(stack)
    print("found after restore: 200 again")


def test_database_hung(stack: Stack) -> None:
    _postgres_only(stack)
    assert stack.get("/api/v1/tracks").status == 200
    assert stack.database.proxy is not None
    stack.database.proxy.hang()
    print("\ninjected: the database hung (live sessions dropped, new connections accepted and never answered)")

    start = time.monotonic()
    answers = _probe(stack)
    wall = time.monotonic() - start

    # connect_timeout 3 s; two rounds of requests on four threads
    _assert_fails_fast(stack, answers, limit=8)
    alone = stack.get("/readyz")
    assert (alone.status, set(alone.body["failing"])) == (503, {"database"})
    assert alone.seconds < 5
    print(
        f"found: REST 503, Subsonic error 0, readyz 503 (database); eight requests answered in {wall:.1f} s; "
        f"readyz alone {alone.seconds:.1f} s"
    )
    stack.database.proxy.restore()
    _assert_recovers(stack)
    print("found after restore: 200 again")


def test_sqlite_writer_stuck(stack: Stack) -> None:
    """SQLite's hang: another process holds the write lock. Reads go on (WAL); a write waits at most the busy
    timeout, then answers 503, instead of holding a web thread for 30 s."""
    if stack.database.proxy is not None:
        pytest.skip("the write-lock fault is SQLite's; PostgreSQL runs test_database_hung")
    path = Path(stack.database.url.removeprefix("sqlite:///"))
    with contextlib.closing(sqlite3.connect(path, timeout=1, isolation_level=None)) as holder:
        holder.execute("BEGIN IMMEDIATE")
        print("\ninjected: another process holds SQLite's write lock")
        write = stack.request("POST", "/api/v1/downloads", {"source": "youtube", "external_id": "vidAAAAAAA1"})
        read = stack.get("/api/v1/tracks")
        holder.execute("ROLLBACK")

    assert write.status == 503, write.body
    assert write.body["error"]["code"] == "service_unavailable"
    assert write.seconds < 8
    assert read.status == 200
    assert stack.query("SELECT COUNT(*) FROM downloads_downloadjob") == [(0,)]  # nothing half-written
    print(f"found: the write answered 503 in {write.seconds:.1f} s, a read 200 in {read.seconds:.1f} s")
    again = stack.request("POST", "/api/v1/downloads", {"source": "youtube", "external_id": "vidAAAAAAA1"})
    assert again.status == 202, again.body
    print("found after release: the same write 202")
