"""A fixed workload timed beside a bench's figures: this machine's speed changes (up to 2x on the VMs we bench on,
with the guest idle), so a figure means something only next to the speed it was taken at.

The workload is the kind of work the server does per request: Python building dicts and strings, and SQLite
answering an indexed query over 200,000 rows, both in this process. Best of 5 runs, in ms; lower is faster.
"""

from __future__ import annotations

import sqlite3
import time

_ROWS = 200_000


def _python_work() -> None:
    rows = [{"id": str(i), "title": f"Song {i}", "key": str(i * 7919 % 100_003)} for i in range(100_000)]
    rows.sort(key=lambda row: row["key"])
    "".join(row["title"] for row in rows)


def _sqlite_work(db: sqlite3.Connection) -> None:
    db.execute("SELECT count(*), sum(plays) FROM song WHERE album_id BETWEEN 100 AND 15000").fetchone()


def _best(work: object, runs: int = 5) -> float:
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        work()  # type: ignore[operator]
        timings.append((time.perf_counter() - start) * 1000)
    return min(timings)


def host_reference() -> str:
    """One line: how long the fixed Python and SQLite workloads took just now."""
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE song (id INTEGER PRIMARY KEY, album_id INTEGER, plays INTEGER)")
    db.executemany("INSERT INTO song VALUES (?, ?, ?)", ((i, i // 10, i % 7) for i in range(_ROWS)))
    db.execute("CREATE INDEX song_album ON song (album_id)")
    python_ms = _best(_python_work)
    sqlite_ms = _best(lambda: _sqlite_work(db))
    db.close()
    return f"host reference (best of 5, lower is faster): python {python_ms:.1f} ms, sqlite {sqlite_ms:.1f} ms"


if __name__ == "__main__":
    print(host_reference())
