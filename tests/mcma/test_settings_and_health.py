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


def test_check_deploy_is_clean_over_https(tmp_path: Path) -> None:
    env = dict(os.environ)
    env.update(
        {
            "HTTPS": "true",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "SUBSONIC_SECRET_KEY": secrets.token_urlsafe(50),
            "MCMA_DATA_DIR": str(tmp_path),
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
