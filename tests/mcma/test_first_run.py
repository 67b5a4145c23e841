"""First run with nothing configured: production mode, generated secrets kept in the data dir, LAN hosts, `/`."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import SuspiciousOperation
from django.http import HttpResponse
from django.test import Client, RequestFactory

from accounts.models import User
from mcma import error_pages, instance_secrets
from mcma.hosts import is_lan_host

ROOT = Path(__file__).resolve().parents[2]
SECRET_NAMES = instance_secrets.SECRET_NAMES
PRINT_SETTINGS = (
    "import json; from django.conf import settings; "
    "print(json.dumps({n: getattr(settings, n) for n in ('DEBUG', 'SECRET_KEY', 'SUBSONIC_SECRET_KEY', "
    "'JWT_SIGNING_KEY')}))"
)


def _manage(data_dir: Path, *args: str, **env_overrides: str) -> subprocess.CompletedProcess[str]:
    """A fresh process as a new user starts it: no secret and no DEBUG in the environment."""
    env = {k: v for k, v in os.environ.items() if k not in (*SECRET_NAMES, "DEBUG", "MCMA_TESTING")}
    env.update({"MCMA_DATA_DIR": str(data_dir), **env_overrides})
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def _settings_of(data_dir: Path, **env_overrides: str) -> dict[str, Any]:
    result = _manage(data_dir, "shell", "-c", PRINT_SETTINGS, **env_overrides)
    assert result.returncode == 0, result.stderr
    values: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return values


def _refusal(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_first_start_generates_secrets_and_later_starts_keep_them(tmp_path: Path) -> None:
    first = _settings_of(tmp_path)
    second = _settings_of(tmp_path)

    assert first == second
    assert first["DEBUG"] is False
    keys = [first[name] for name in SECRET_NAMES]
    assert len(set(keys)) == 3
    assert all(instance_secrets.weakness(key) is None for key in keys)
    secrets_file = tmp_path / "secrets.json"
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
    assert json.loads(secrets_file.read_text()) == {name: first[name] for name in SECRET_NAMES}


def test_no_secret_is_logged_on_first_start(tmp_path: Path) -> None:
    result = _manage(tmp_path, "check")
    assert result.returncode == 0, result.stderr
    stored = json.loads((tmp_path / "secrets.json").read_text())
    for value in stored.values():
        assert value not in result.stdout + result.stderr


def test_a_secret_in_the_environment_wins(tmp_path: Path) -> None:
    mine = "an environment secret that is long enough 0123456789"
    values = _settings_of(tmp_path, JWT_SIGNING_KEY=mine)
    assert values["JWT_SIGNING_KEY"] == mine
    assert json.loads((tmp_path / "secrets.json").read_text())["JWT_SIGNING_KEY"] != mine


def test_debug_is_only_on_when_asked_for(tmp_path: Path) -> None:
    assert _settings_of(tmp_path)["DEBUG"] is False
    assert _settings_of(tmp_path, DEBUG="true")["DEBUG"] is True


@pytest.mark.parametrize("name", SECRET_NAMES)
@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("short-but-random-Xq7", "shorter than 32"),
        ("insecure-dev-secret-key-change-me", "published default"),
        ("changeme", "published default"),
        ("s" * 50, "distinct characters"),
    ],
)
def test_a_weak_secret_is_refused_with_its_name(tmp_path: Path, name: str, value: str, reason: str) -> None:
    line = _refusal(_manage(tmp_path, "check", **{name: value}))
    assert name in line
    assert reason in line
    assert value not in line


def test_the_published_dev_defaults_are_refused_even_with_debug(tmp_path: Path) -> None:
    line = _refusal(_manage(tmp_path, "check", DEBUG="true", SECRET_KEY="insecure-dev-secret-key-change-me"))
    assert "SECRET_KEY" in line


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (lambda path: path.write_text('{"SECRET_KEY": "abc'), "damaged"),
        (lambda path: path.write_text("{}"), "incomplete"),
        (lambda path: path.chmod(0o644), "chmod 600"),
        (lambda path: path.write_bytes(b"\xff\xfe\x00garbage"), "damaged"),
    ],
    ids=["truncated", "incomplete", "readable-by-others", "binary"],
)
def test_a_damaged_secrets_file_stops_the_start_and_is_never_replaced(
    tmp_path: Path, damage: Any, expected: str
) -> None:
    _settings_of(tmp_path)
    secrets_file = tmp_path / "secrets.json"
    damage(secrets_file)
    before = secrets_file.read_bytes()

    line = _refusal(_manage(tmp_path, "check"))

    assert str(secrets_file) in line
    assert expected in line
    assert secrets_file.read_bytes() == before


def test_a_weak_value_in_the_secrets_file_is_refused(tmp_path: Path) -> None:
    _settings_of(tmp_path)
    secrets_file = tmp_path / "secrets.json"
    stored = json.loads(secrets_file.read_text())
    secrets_file.write_text(json.dumps({**stored, "SUBSONIC_SECRET_KEY": "changeme"}))

    line = _refusal(_manage(tmp_path, "check"))
    assert "SUBSONIC_SECRET_KEY" in line
    assert str(secrets_file) in line


def test_a_data_dir_that_cannot_be_written_is_one_clear_line(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    line = _refusal(_manage(blocker / "data", "check"))
    assert "data dir" in line
    assert "MCMA_DATA_DIR" in line


# -- Hosts ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "host",
    ["192.168.1.20", "10.0.0.5", "[fd00::2]", "[::1]", "localhost", "nas", "musicbox.local", "pi.lan", "box.home.arpa"],
)
def test_lan_hosts_are_answered(host: str) -> None:
    assert is_lan_host(host)


@pytest.mark.parametrize("host", ["evil.example", "music.example.com", "192.168.1.20.nip.io"])
def test_public_names_are_not_lan_hosts(host: str) -> None:
    assert not is_lan_host(host)


@pytest.mark.django_db
@pytest.mark.parametrize("host", ["192.168.1.20:8000", "musicbox.local:8000", "[fd00::2]:8000", "nas"])
def test_a_player_on_the_lan_reaches_the_subsonic_api(client: Client, host: str) -> None:
    response = client.get("/rest/getOpenSubsonicExtensions", {"f": "json"}, HTTP_HOST=host)
    assert response.status_code == 200
    assert response.json()["subsonic-response"]["status"] == "ok"


@pytest.mark.django_db
@pytest.mark.parametrize("host", ["evil.example", "bad host!", "a" * 300 + ".com", "[zz::1]", "x:y:z"])
def test_a_refused_or_junk_host_is_a_plain_400(client: Client, host: str) -> None:
    response = client.get("/admin/login/", HTTP_HOST=host)
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")
    assert "Traceback" not in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_a_refused_host_under_rest_gets_a_subsonic_document(client: Client, fmt: str) -> None:
    response = client.get("/rest/ping.view", {"f": fmt}, HTTP_HOST="evil.example")
    body = response.content.decode()
    if fmt == "json":
        error = response.json()["subsonic-response"]
        assert error["status"] == "failed"
        assert "ALLOWED_HOSTS" in error["error"]["message"]
    else:
        assert body.startswith("<?xml")
        assert 'status="failed"' in body
    assert response["Access-Control-Allow-Origin"] == "*"


@pytest.mark.django_db
def test_pinned_allowed_hosts_refuse_lan_addresses(client: Client, settings: Any) -> None:
    settings.MCMA_ALLOWED_HOSTS = ["music.example.com"]
    assert client.get("/healthz", HTTP_HOST="music.example.com").status_code == 200
    assert client.get("/healthz", HTTP_HOST="192.168.1.20").status_code == 400
    settings.MCMA_ALLOWED_HOSTS = ["music.example.com", "lan"]
    assert client.get("/healthz", HTTP_HOST="192.168.1.20").status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("handler", ["handler400", "handler403", "handler500"])
def test_django_error_handlers_answer_subsonic_documents_under_rest(rf: RequestFactory, handler: str) -> None:
    request = rf.get("/rest/ping.view", {"f": "json", "c": "Symfonium"})
    if handler == "handler500":
        response = error_pages.handler500(request)
    else:
        response = getattr(error_pages, handler)(request, SuspiciousOperation("bad"))
    assert response.status_code == 200
    assert isinstance(response, HttpResponse)
    assert json.loads(response.content)["subsonic-response"]["status"] == "failed"


# -- Pages ------------------------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_the_landing_page_says_how_to_connect_a_player(client: Client) -> None:
    response = client.get("/", HTTP_HOST="192.168.1.20:8000")
    page = response.content.decode()
    assert response.status_code == 200
    assert "http://192.168.1.20:8000" in page
    assert "app-password" in page
    assert 'href="/admin/"' in page
    assert 'href="/api/docs/"' in page
    assert response["Cache-Control"] == "no-store"


@pytest.mark.django_db
def test_a_signed_in_user_reveals_and_rotates_the_app_password_on_the_landing_page(client: Client) -> None:
    user = User.objects.create_user(username="ada", password="a long pass phrase 42")
    client.force_login(user)
    assert "Signed in as" in client.get("/").content.decode()

    revealed = client.post("/", {"action": "reveal"}).content.decode()
    again = client.post("/", {"action": "reveal"}).content.decode()
    rotated = client.post("/", {"action": "rotate"}).content.decode()

    def shown(page: str) -> str:
        return page.split('id="app-password">', 1)[1].split("<", 1)[0]

    assert shown(revealed) == shown(again)
    assert shown(rotated) != shown(revealed)
    assert client.post("/", {"action": "explode"}).status_code == 400


@pytest.mark.django_db
def test_an_anonymous_password_request_goes_to_the_login(client: Client) -> None:
    response = client.post("/", {"action": "reveal"})
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


@pytest.mark.django_db
@pytest.mark.parametrize(("path", "target"), [("/api/docs/", "/api/docs"), ("/api/schema/", "/api/schema")])
def test_api_docs_with_a_trailing_slash_redirect(client: Client, path: str, target: str) -> None:
    response = client.get(path)
    assert response.status_code == 301
    assert response["Location"] == target


@pytest.mark.django_db
def test_unknown_pages_are_plain_404s_without_debug_details(client: Client) -> None:
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert "URLconf" not in response.content.decode()


@pytest.mark.django_db
def test_a_refused_host_with_a_nul_in_the_client_name_is_still_a_document(client: Client) -> None:
    response = client.get("/rest/ping.view", {"f": "json", "c": "bad\x00client"}, HTTP_HOST="evil.example")
    assert response.status_code == 200
    assert b'status="failed"' in response.content
