from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

from library.text import fold, sort_name

ROOT = Path(__file__).resolve().parents[2]


def _run_check(env_overrides: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "SUBSONIC_SECRET_KEY", "JWT_SIGNING_KEY")}
    env.update({"MCMA_DATA_DIR": "/tmp/mcma-settings-test", **env_overrides})
    return subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("missing", ["SECRET_KEY", "SUBSONIC_SECRET_KEY"])
def test_production_refuses_to_start_without_a_secret(missing: str) -> None:
    secrets = {"SECRET_KEY": "s" * 50, "SUBSONIC_SECRET_KEY": "k" * 50}
    secrets[missing] = "changeme"
    result = _run_check({"DEBUG": "false", **secrets})
    assert result.returncode != 0
    assert missing in result.stderr
    assert "Traceback" not in result.stderr


def test_production_starts_with_real_secrets() -> None:
    result = _run_check({"DEBUG": "false", "SECRET_KEY": "s" * 50, "SUBSONIC_SECRET_KEY": "k" * 50})
    assert result.returncode == 0, result.stderr


def test_check_deploy_is_clean() -> None:
    env = dict(os.environ)
    env.update(
        {
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "SUBSONIC_SECRET_KEY": secrets.token_urlsafe(50),
            "MCMA_DATA_DIR": "/tmp/mcma-c",
        }
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.django_db
def test_healthz_and_readyz(client: Client) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_names_the_failing_broker(client: Client, settings: object) -> None:
    from mcma.celery import app

    original = app.conf.broker_write_url
    # Nothing listens on port 1; readiness must name the broker, not crash or hang.
    app.conf["broker_write_url"] = "redis://127.0.0.1:1/0"
    try:
        response = client.get("/readyz")
    finally:
        app.conf["broker_write_url"] = original
    assert response.status_code == 503
    assert "broker" in response.json()["failing"]
    assert "database" not in response.json()["failing"]


def test_name_folding_and_sort_names() -> None:
    assert fold("  Beyoncé  Knowles ") == "beyonce knowles"
    # ASCII names take a shortcut that must fold exactly like the Unicode path (taken here because of the é).
    for name in ("  The  BEATLES ", "AC/DC", "tab\there", "Mr. Big\x1c", "", "   "):
        assert fold(name + " é") == f"{fold(name)} e".strip()
    assert sort_name("The Beatles") == "beatles"
    assert sort_name("Les Négresses Vertes") == "negresses vertes"
    assert sort_name("The") == "the"
    assert sort_name("Theory of a Deadman") == "theory of a deadman"
