"""Liveness and readiness probes.

`/readyz` checks the database, the broker and the cache at once, each in its own thread, and answers within
`READY_DEADLINE_SECONDS` even if one of them hangs. The answer names the parts that are down and nothing else:
hosts, ports and driver messages go to the server log, never to an anonymous caller. A part the server works
without is named under "degraded" with a 200: without ffmpeg nothing is transcoded and players get the files.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait

from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse

from library.transcoding import transcoding_status
from mcma.celery import app as celery_app

logger = logging.getLogger(__name__)

READY_DEADLINE_SECONDS = 3.0
_CACHE_PROBE_KEY = "mcma:readyz"


def healthz(_request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _check_database() -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    finally:
        connection.close()  # this thread's own connection: never left open by a probe


def _check_broker() -> None:
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=int(READY_DEADLINE_SECONDS) // 2 or 1)


def _check_cache() -> None:
    cache.set(_CACHE_PROBE_KEY, "ok", timeout=10)
    if cache.get(_CACHE_PROBE_KEY) != "ok":
        raise RuntimeError("the cache did not return what was just stored")


CHECKS: dict[str, Callable[[], None]] = {
    "database": _check_database,
    "broker": _check_broker,
    "cache": _check_cache,
}


def readiness_failures() -> dict[str, str]:
    """The parts that are down, each with "unavailable" or "timeout"; the reason is logged."""
    pool = ThreadPoolExecutor(max_workers=len(CHECKS), thread_name_prefix="mcma-readyz")
    futures = {name: pool.submit(check) for name, check in CHECKS.items()}
    wait(futures.values(), timeout=READY_DEADLINE_SECONDS)
    pool.shutdown(wait=False)  # a hung check ends on its own socket timeout; the answer does not wait for it
    failures: dict[str, str] = {}
    for name, future in futures.items():
        if not future.done():
            logger.warning("readiness: %s did not answer within %.0f s", name, READY_DEADLINE_SECONDS)
            failures[name] = "timeout"
        elif (error := future.exception()) is not None:
            logger.warning("readiness: %s is unavailable: %s: %s", name, type(error).__name__, error)
            failures[name] = "unavailable"
    return failures


def readyz(_request: HttpRequest) -> JsonResponse:
    failures = readiness_failures()
    degraded = {} if transcoding_status().available else {"degraded": {"transcoding": "unavailable"}}
    if failures:
        return JsonResponse({"status": "unavailable", "failing": failures, **degraded}, status=503)
    return JsonResponse({"status": "ok", **degraded})
