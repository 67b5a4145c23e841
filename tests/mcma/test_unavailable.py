"""A broker, cache or database that is down or hung costs a request seconds, never a hung thread, and the client
learns which part is down without the hosts, ports or driver text (those go to the log)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import OperationalError, connection
from django.test import Client

from library import selectors
from mcma import health
from mcma.celery import app as celery_app

ROOT = Path(__file__).resolve().parents[2]
DRIVER_TEXT = 'connection to server at "10.9.8.7", port 6543 failed: timeout expired'

# Publishes one task and reads the cache against the address given, and prints how long each took to fail.
_PROBE = """
import json, time, django
django.setup()
from django.core.cache import cache
from mcma.celery import app
took = {}
for name, call in (("publish", lambda: app.send_task("sources.sweep")), ("cache", lambda: cache.get("k"))):
    start = time.monotonic()
    try:
        call()
        took[name] = ["answered", time.monotonic() - start]
    except Exception as exc:
        took[name] = [type(exc).__name__, time.monotonic() - start]
print(json.dumps(took))
"""


@pytest.fixture
def hung_port() -> Iterator[int]:
    """A port whose kernel completes every connection but nobody ever reads or answers: a SIGSTOPped server."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield listener.getsockname()[1]


def test_a_hung_redis_fails_a_publish_and_a_cache_call_within_seconds(hung_port: int, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "mcma.settings",
        "MCMA_TESTING": "false",
        "MCMA_DATA_DIR": str(tmp_path),
        "CELERY_BROKER_URL": f"redis://127.0.0.1:{hung_port}/0",
        "CACHE_URL": f"redis://127.0.0.1:{hung_port}/1",
    }
    env.pop("PYTEST_CURRENT_TEST", None)
    done = subprocess.run(
        [sys.executable, "-c", _PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=True
    )
    took = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"hung Redis on port {hung_port}: {took}")
    assert took["publish"][0] == "OperationalError"  # what the enqueue paths catch, keeping their rows queued
    assert took["publish"][1] < 6  # socket timeout 2 s, one retry
    assert took["cache"][0] == "TimeoutError"
    assert took["cache"][1] < 3


@pytest.mark.django_db
def test_readyz_answers_503_within_five_seconds_when_the_broker_hangs(
    client: Client, hung_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(celery_app.conf, "broker_write_url", f"redis://127.0.0.1:{hung_port}/0")
    start = time.monotonic()

    response = client.get("/readyz")

    assert time.monotonic() - start < 5
    assert response.status_code == 503
    assert set(response.json()["failing"]) == {"broker"}


@pytest.mark.django_db
def test_readyz_names_the_part_that_is_down_but_not_its_address(
    client: Client, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def database_down() -> None:
        raise OperationalError(DRIVER_TEXT)

    monkeypatch.setitem(health.CHECKS, "database", database_down)
    monkeypatch.setitem(celery_app.conf, "broker_write_url", "redis://127.0.0.1:1/0")  # nothing listens there

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "failing": {"database": "unavailable", "broker": "unavailable"}}
    assert "10.9.8.7" in caplog.text  # the detail is for the operator's log
    assert "127.0.0.1:1" in caplog.text


@pytest.mark.django_db
def test_a_database_that_cannot_answer_is_a_503_in_the_api_error_shape(
    api_client_for: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.factories.accounts import UserFactory

    client = api_client_for(UserFactory())

    def database_gone(**_kwargs: Any) -> Any:
        raise OperationalError(DRIVER_TEXT)

    monkeypatch.setattr(selectors, "tracks_list", database_gone)

    response = client.get("/api/v1/tracks")

    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "service_unavailable"
    assert "database" in error["message"]
    assert "10.9.8.7" not in response.content.decode()
    assert "Traceback" not in caplog.text
    assert "10.9.8.7" in caplog.text


@pytest.mark.django_db
def test_database_timeouts_are_set_on_postgresql() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only (DATABASE_URL=postgres://...)")
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone() == ("30s",)
    assert connection.settings_dict["OPTIONS"]["connect_timeout"] == 3
    # The server itself cancels a statement past the limit: the driver error that becomes a 503.
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL statement_timeout = 50")
        with pytest.raises(OperationalError):
            cursor.execute("SELECT pg_sleep(2)")
