"""Redis (broker and cache) stopped, or hung by SIGSTOP: every request answers within seconds, downloads and
scans are kept queued in the database, and the sweeps send them once Redis is back."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.faults.conftest import LIBRARY_FILES
from tests.faults.stack import Answer, Stack, wait_for

pytestmark = [pytest.mark.faults, pytest.mark.timeout(150)]

SONGS = ("vidAAAAAAA1", "vidAAAAAAA2", "vidUGCUGC01")


def _download(stack: Stack, external_id: str) -> Answer:
    return stack.request("POST", "/api/v1/downloads", {"source": "youtube", "external_id": external_id}, timeout=30)


def _states(stack: Stack) -> tuple[list[str], list[str]]:
    jobs = sorted(str(row[0]) for row in stack.query("SELECT state FROM downloads_downloadjob"))
    scans = [str(row[0]) for row in stack.query("SELECT state FROM sources_scanrun ORDER BY id")]
    return jobs, scans


def _assert_everything_ran_once(stack: Stack) -> None:
    wait_for(
        lambda: _states(stack) == (["succeeded"] * len(SONGS), ["succeeded"]),
        seconds=90,
        what="the sweeps to send the kept jobs and scan",
        diagnostics=lambda: f"{_states(stack)}\n{stack.logs()}",
    )
    sources = sorted(str(row[0]) for row in stack.query("SELECT source_id FROM library_track WHERE source = 'youtube'"))
    assert sources == sorted(SONGS)  # each download once
    assert len(stack.track_paths()) == LIBRARY_FILES + len(SONGS)
    assert stack.audio_files() == stack.track_paths()
    assert stack.partial_files() == []


def test_broker_stopped(stack: Stack) -> None:
    stack.redis.stop()
    print("\ninjected: redis-server (broker and cache) stopped")

    answers = [_download(stack, song) for song in SONGS]
    scan = stack.request("POST", "/api/v1/sources/local/scan")
    ready = stack.get("/readyz")
    status = stack.subsonic("getScanStatus")

    assert [a.status for a in answers] == [202] * len(SONGS), [a.body for a in answers]
    assert all(a.seconds < 5 for a in [*answers, scan, ready]), [a.seconds for a in [*answers, scan, ready]]
    assert scan.status == 202
    assert scan.body["state"] == "queued"
    assert ready.status == 503
    assert set(ready.body["failing"]) == {"broker", "cache"}
    # Subsonic auth reads its failure counters from the cache, so with Redis down it cannot say more than an
    # error document; what matters here is that it says so within seconds.
    assert status.status == 200
    assert status.seconds < 5
    assert _states(stack) == (["queued"] * len(SONGS), ["queued"])  # kept, not failed
    slowest = max(a.seconds for a in [*answers, scan, ready])
    subsonic = status.body["subsonic-response"]
    print(
        f"found: downloads 202 and scan 202 (kept queued), readyz 503 {ready.body['failing']}, Subsonic "
        f"{subsonic.get('error') or subsonic['status']} in {status.seconds:.1f} s, slowest {slowest:.1f} s"
    )

    stack.redis.start()  # a fresh, empty Redis on the same port: every message sent before is gone
    stack.start_worker()
    _assert_everything_ran_once(stack)
    assert stack.subsonic("getScanStatus").body["subsonic-response"]["scanStatus"]["scanning"] is False
    print(f"found after restart: {len(SONGS)} downloads and the scan ran once each; 0 partial files")


def test_broker_hung(stack: Stack) -> None:
    stack.redis.pause()
    print("\ninjected: SIGSTOP of redis-server (broker and cache accept connections, never answer)")
    calls: list[Callable[[], Answer]] = [functools.partial(_download, stack, song) for song in SONGS]
    calls.append(functools.partial(stack.request, "POST", "/api/v1/sources/local/scan"))
    calls += [functools.partial(stack.get, "/readyz")] * 4  # eight at once: more than gunicorn's four threads

    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        answers = list(pool.map(lambda call: call(), calls))
    wall = time.monotonic() - start

    downloads, scan, readiness = answers[: len(SONGS)], answers[len(SONGS)], answers[len(SONGS) + 1 :]
    assert [a.status for a in downloads] == [202] * len(SONGS), [a.body for a in downloads]
    assert scan.status == 202
    assert [a.status for a in readiness] == [503] * 4
    assert all(set(a.body["failing"]) == {"broker", "cache"} for a in readiness), [a.body for a in readiness]
    assert all(a.seconds < 5 for a in readiness), [a.seconds for a in readiness]
    assert wall < 20
    # Queued: what the hung broker may have buffered is a duplicate message at worst, claimed only once.
    assert _states(stack) == (["queued"] * len(SONGS), ["queued"])
    print(
        f"found: 8 concurrent requests answered in {wall:.1f} s (slowest {max(a.seconds for a in answers):.1f} s): "
        f"downloads 202, scan 202 queued, readyz 503 {readiness[0].body['failing']} in "
        f"{max(a.seconds for a in readiness):.1f} s"
    )

    stack.redis.resume()
    stack.start_worker()
    _assert_everything_ran_once(stack)
    print(f"found after SIGCONT: {len(SONGS)} downloads and the scan ran once each; 0 partial files")
