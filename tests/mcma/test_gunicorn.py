"""The web server as `make run` starts it: real gunicorn with mcma.gunicorn_config, after migrate and collectstatic.

One server for the module, on a free loopback port, with a data dir of its own (SQLite, generated secrets).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.slow


@dataclass
class Server:
    base_url: str
    port: int
    log: Path

    def log_text(self) -> str:
        # Access-log lines are written after the response; give the worker a moment to flush.
        time.sleep(0.3)
        return self.log.read_text(errors="replace")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp("gunicorn-data")
    port = _free_port()
    drop = ("MCMA_TESTING", "DEBUG", "DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL", "SECRET_KEY")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update({"MCMA_DATA_DIR": str(data_dir), "BIND": "127.0.0.1", "PORT": str(port), "WEB_CONCURRENCY": "1"})
    for step in (["migrate", "--noinput"], ["collectstatic", "--noinput", "--verbosity", "0"]):
        subprocess.run(
            [sys.executable, "manage.py", *step], cwd=ROOT, env=env, check=True, capture_output=True, timeout=300
        )
    log = data_dir / "gunicorn.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(BIN / "gunicorn"), "mcma.wsgi", "--config", "python:mcma.gunicorn_config"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"gunicorn did not start:\n{log.read_text(errors='replace')}")
            time.sleep(0.2)
        yield Server(base_url=base_url, port=port, log=log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_the_banner_prints_the_url_to_use(server: Server) -> None:
    assert f"http://127.0.0.1:{server.port}" in server.log_text()
    assert "mcma is ready" in server.log_text()


def test_admin_css_is_served_compressed_with_a_hashed_name(server: Server) -> None:
    page = requests.get(f"{server.base_url}/admin/login/", timeout=10).text
    stylesheet = re.search(r'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"', page)
    assert stylesheet, page[:2000]

    response = requests.get(server.base_url + stylesheet.group(1), headers={"Accept-Encoding": "gzip"}, timeout=10)

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/css")
    assert response.headers.get("Content-Encoding") == "gzip"
    assert "immutable" in response.headers.get("Cache-Control", "")
    assert "body" in response.text


def test_swagger_ui_is_complete_offline(server: Server) -> None:
    page = requests.get(f"{server.base_url}/api/docs", timeout=10).text
    bundle = re.search(r'src="(/static/[^"]*swagger-ui-bundle[^"]*\.js)"', page)
    assert bundle, page[:2000]
    response = requests.get(server.base_url + bundle.group(1), timeout=10)
    assert response.status_code == 200
    assert len(response.content) > 100_000


def test_a_lan_host_reaches_the_server(server: Server) -> None:
    response = requests.get(
        f"{server.base_url}/rest/getOpenSubsonicExtensions",
        params={"f": "json"},
        headers={"Host": f"192.168.1.20:{server.port}"},
        timeout=10,
    )
    assert response.json()["subsonic-response"]["status"] == "ok"
    landing = requests.get(f"{server.base_url}/", headers={"Host": f"192.168.1.20:{server.port}"}, timeout=10)
    assert f"http://192.168.1.20:{server.port}" in landing.text


@pytest.mark.security
def test_the_access_log_masks_every_credential(server: Server) -> None:
    credentials = {
        "p": "enc:73656372657450617373",
        "t": "26719a1196d2a940705a59634eb18eab",
        "s": "c19b2d",
        "apiKey": "mcma_apikey_Zr8mK2",
        "jwt": "eyJhbGciOiJIUzI1NiJ9.payload.sig",
        "token": "tok_Qv93hsL",
        "password": "hunter2-Plain",
    }
    requests.get(
        f"{server.base_url}/rest/ping.view",
        params={"u": "alice", "v": "1.16.1", "c": "probe", **credentials},
        headers={
            "Authorization": "Bearer header-token-Xy12",
            "Cookie": "sessionid=cookie-value-Jk77",
            "Referer": f"{server.base_url}/rest/stream?id=1&p=referer-pass-Qz5",
        },
        timeout=10,
    )
    log = server.log_text()
    lines = [line for line in log.splitlines() if "/rest/ping.view" in line]
    assert lines, log
    for secret in [*credentials.values(), "header-token-Xy12", "cookie-value-Jk77", "referer-pass-Qz5"]:
        assert secret not in log
        assert quote(secret, safe="") not in log
    assert "u=alice" in lines[-1]
    assert "p=***" in lines[-1]
