"""The real processes a fault test runs and breaks: Redis, a TCP proxy in front of the database, gunicorn and a
Celery worker (with beat), each on a port or PID of its own and stopped by that PID.

The database is PostgreSQL when the suite's DATABASE_URL names it (a database of its own per test, cloned from
a migrated template, reached through `TcpProxy` so the test can cut or hang it) and an SQLite file otherwise.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from django.conf import settings

BASE_DIR = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
INJECT_DIR = Path(__file__).resolve().parent / "inject"
ADMIN = ("faultadmin", "fault-admin-password-1234")
AUDIO_SUFFIXES = {".mp3", ".ogg", ".opus", ".m4a", ".flac"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(check: Callable[[], Any], *, seconds: float, what: str, diagnostics: Callable[[], str]) -> Any:
    """Poll `check` until it returns something truthy; every wait in the suite is bounded this way."""
    until = time.monotonic() + seconds
    last_error: Exception | None = None
    while time.monotonic() < until:
        try:
            value = check()
        except Exception as exc:  # not there yet (no row, connection refused): keep polling
            last_error = exc
        else:
            if value:
                return value
        time.sleep(0.1)
    raise AssertionError(
        f"timed out after {seconds:.0f} s waiting for {what} (last error: {last_error!r})\n{diagnostics()}"
    )


def children(pid: int) -> list[int]:
    """The PIDs whose parent is `pid` (a worker's embedded beat, a scan's read workers)."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            found += [int(child) for child in task.read_text().split()]
    return found


def stop_process(process: subprocess.Popen[bytes] | None) -> None:
    """Stop one process we started and the children it forked, by PID: SIGCONT (it may be stopped), SIGTERM,
    then SIGKILL; children still there once it is gone (it was killed before it could stop them) get SIGKILL."""
    if process is None or process.poll() is not None:
        return
    forked = children(process.pid)
    with contextlib.suppress(ProcessLookupError):
        os.kill(process.pid, signal.SIGCONT)
        process.terminate()
    try:
        process.wait(timeout=8)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=8)
    _kill_orphans(forked)


def _kill_orphans(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


class RedisServer:
    """A private redis-server on a free port, without persistence (a restart empties it, as in CI)."""

    def __init__(self, log: Path) -> None:
        self.port = free_port()
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        wait_for(self.ping, seconds=10, what="redis-server to answer", diagnostics=lambda: self.log.read_text())

    def ping(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")

    def stop(self) -> None:
        stop_process(self.process)
        self.process = None

    def pause(self) -> None:
        """Hung: the kernel still accepts connections, nobody reads or answers."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGCONT)


class TcpProxy:
    """Forwards 127.0.0.1:`port` to the database. `hang()`: established sessions are dropped and new
    connections are accepted but never answered (a server that stopped answering); `cut()`: the port refuses
    connections; `restore()`: forwarding again, on the same port."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self.mode = "pass"
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._listen()

    def _listen(self) -> None:
        listener = socket.create_server(("127.0.0.1", self.port), reuse_port=False)
        listener.settimeout(0.2)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True, name="fault-proxy").start()

    def _accept(self, listener: socket.socket) -> None:
        while self._listener is listener:
            try:
                client, _address = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._track(client)
            if self.mode == "hang":
                continue  # held open, never read, never answered
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                client.close()
                continue
            self._track(upstream)
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _track(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        source.settimeout(None)
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def _drop_all(self) -> None:
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def hang(self) -> None:
        self.mode = "hang"
        self._drop_all()

    def cut(self) -> None:
        self.mode = "cut"
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        self._drop_all()

    def restore(self) -> None:
        self._drop_all()  # sockets held by hang() go; clients reconnect
        self.mode = "pass"
        if self._listener is None:
            self._listen()

    def close(self) -> None:
        self.cut()


@dataclass
class Database:
    """The stack's database: `url` for the processes, `query` for the test (never through the proxy)."""

    url: str
    query: Callable[..., list[tuple[Any, ...]]]  # (sql with %s placeholders, *params)
    proxy: TcpProxy | None
    drop: Callable[[], None]


class DatabaseTemplate:
    """Migrated once per session; each test gets a copy (a file, or `CREATE DATABASE ... TEMPLATE`)."""

    def __init__(self, suite_url: str, tmp: Path) -> None:
        self.postgres = suite_url.startswith(("postgres://", "postgresql://", "pgsql://"))
        self.suite_url = suite_url
        self.tmp = tmp
        self.name = f"faults_tmpl_{uuid.uuid4().hex[:8]}"
        self.sqlite_file = tmp / "template.sqlite3"

    def _admin(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self._url_for("postgres"), autocommit=True, connect_timeout=5)

    def _url_for(self, name: str) -> str:
        parts = urllib.parse.urlsplit(self.suite_url)
        return urllib.parse.urlunsplit(("postgresql", parts.netloc, f"/{name}", parts.query, ""))

    def server_port(self) -> int:
        return urllib.parse.urlsplit(self.suite_url).port or 5432

    def create(self, env: dict[str, str]) -> None:
        if self.postgres:
            with self._admin() as conn:
                conn.execute(f'CREATE DATABASE "{self.name}"')
            url = self._url_for(self.name)
        else:
            url = f"sqlite:///{self.sqlite_file}"
        run_manage({**env, "DATABASE_URL": url}, "migrate", "--noinput")

    def clone(self) -> Database:
        if not self.postgres:
            path = self.tmp / f"stack-{uuid.uuid4().hex[:8]}.sqlite3"
            shutil.copyfile(self.sqlite_file, path)

            def sqlite_query(sql: str, *params: Any) -> list[tuple[Any, ...]]:
                with contextlib.closing(sqlite3.connect(path, timeout=10)) as conn:
                    return list(conn.execute(sql.replace("%s", "?"), params).fetchall())

            return Database(f"sqlite:///{path}", sqlite_query, None, lambda: None)
        name = f"faults_{uuid.uuid4().hex[:8]}"
        with self._admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.name}"')
        proxy = TcpProxy(self.server_port())
        direct = self._url_for(name)

        def pg_query(sql: str, *params: Any) -> list[tuple[Any, ...]]:
            with psycopg.connect(direct, connect_timeout=5) as conn:
                return list(conn.execute(sql, params).fetchall())

        def drop() -> None:
            proxy.close()
            with self._admin() as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

        return Database(_with_address(direct, "127.0.0.1", proxy.port), pg_query, proxy, drop)

    def destroy(self) -> None:
        if self.postgres:
            with self._admin() as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def _with_address(url: str, host: str, port: int) -> str:
    parts = urllib.parse.urlsplit(url)
    credentials = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    return urllib.parse.urlunsplit((parts.scheme, f"{credentials}{host}:{port}", parts.path, parts.query, ""))


def base_env(data: Path) -> dict[str, str]:
    """Production settings (DEBUG off), fast recovery timings, no traffic beyond 127.0.0.1."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "mcma.settings",
        "PYTHONPATH": os.pathsep.join([str(INJECT_DIR), str(BASE_DIR)]),
        "MCMA_TESTING": "false",
        "DEBUG": "false",
        "SECRET_KEY": "fault-suite-secret-key-" + "s" * 40,
        "SUBSONIC_SECRET_KEY": "fault-suite-subsonic-key-" + "k" * 40,
        "JWT_SIGNING_KEY": "fault-suite-jwt-key-" + "j" * 40,
        "SECURE_SSL_REDIRECT": "false",
        "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false",
        "SECURE_HSTS_SECONDS": "0",
        "MCMA_DATA_DIR": str(data),
        "MEDIA_ROOT": str(data / "media"),
        "LOG_LEVEL": "WARNING",
        "DOWNLOAD_STALE_AFTER_SECONDS": "3",
        "DOWNLOAD_SWEEP_SECONDS": "1",
        "DOWNLOAD_REENQUEUE_AFTER_SECONDS": "2",
        "DOWNLOAD_SOCKET_TIMEOUT": "2",
        "DOWNLOAD_ALLOWED_EXTRACTORS": "generic",
        "SCAN_HEARTBEAT_SECONDS": "0.5",
        "SCAN_STALE_AFTER_SECONDS": "3",
        "SCAN_SWEEP_SECONDS": "1",
        "SCAN_REENQUEUE_AFTER_SECONDS": "2",
        "YOUTUBE_REQUESTS_PER_SECOND": "1000",
        "YOUTUBE_REQUEST_TIMEOUT": "2",
    }
    for name in ("PYTEST_CURRENT_TEST", "CELERY_TASK_ALWAYS_EAGER", "MCMA_FAULT", "MCMA_FAULT_MARKER"):
        env.pop(name, None)
    return env


def run_manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, capture_output=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-3000:]
    return done.stdout.decode()


@dataclass
class Answer:
    status: int
    body: Any
    seconds: float


def worker_command(hostname: str) -> list[str]:
    """A solo-pool Celery worker consuming the default queue and the scans' own, as one process."""
    args = [str(VENV_BIN / "celery"), "-A", "mcma", "worker", "--pool=solo", "--loglevel=WARNING"]
    args += ["--queues", f"celery,{settings.SCAN_QUEUE}", "--without-gossip", "--without-mingle"]
    return [*args, "--hostname", hostname]


class Stack:
    """gunicorn (1 worker x 4 threads) + a Celery worker with beat + Redis + the database, for one test."""

    def __init__(self, tmp: Path, database: Database, redis: RedisServer, env: dict[str, str]) -> None:
        self.tmp = tmp
        self.data = tmp / "data"
        self.media = self.data / "media"
        self.database = database
        self.redis = redis
        self.web_port = free_port()
        self.env = {
            **env,
            "DATABASE_URL": database.url,
            "CELERY_BROKER_URL": f"redis://127.0.0.1:{redis.port}/0",
            "CACHE_URL": f"redis://127.0.0.1:{redis.port}/1",
        }
        self.web: subprocess.Popen[bytes] | None = None
        self.workers: list[subprocess.Popen[bytes]] = []
        self.token = ""
        self.api_key = ""

    # -- processes ----------------------------------------------------------------------------------------
    def _log(self, name: str) -> Path:
        return self.tmp / f"{name}.log"

    def start_web(self) -> None:
        args = [str(VENV_BIN / "gunicorn"), "mcma.wsgi:application", "-b", f"127.0.0.1:{self.web_port}"]
        args += ["-w", "1", "-k", "gthread", "--threads", "4", "--timeout", "60", "--graceful-timeout", "2"]
        with self._log("gunicorn").open("ab") as out:
            self.web = subprocess.Popen(args, cwd=BASE_DIR, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        wait_for(lambda: self.get("/healthz").status == 200, seconds=30, what="gunicorn", diagnostics=self.logs)

    def start_worker(self, *, fault: str = "", marker: Path | None = None) -> subprocess.Popen[bytes]:
        """A solo-pool worker with embedded beat (the sweeps); `fault`: see inject/sitecustomize.py."""
        number = len(self.workers)
        args = [*worker_command(f"fault{number}@localhost"), "--beat"]
        args += ["--schedule", str(self.data / f"beat-{number}")]
        env = {**self.env, "MCMA_FAULT": fault, "MCMA_FAULT_MARKER": str(marker or "")}
        with self._log(f"worker{number}").open("ab") as out:
            worker = subprocess.Popen(args, cwd=BASE_DIR, env=env, stdout=out, stderr=subprocess.STDOUT)
        self.workers.append(worker)
        return worker

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        """SIGKILL of the whole worker (its embedded beat too): no cleanup, no ack, no last database write."""
        forked = children(process.pid)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        _kill_orphans(forked)

    def stop(self) -> None:
        for worker in self.workers:
            stop_process(worker)
        stop_process(self.web)

    def logs(self) -> str:
        tails = []
        for log in sorted(self.tmp.glob("*.log")):
            tails.append(f"--- {log.name}\n{log.read_text(errors='replace')[-2500:]}")
        return "\n".join(tails)

    # -- HTTP -----------------------------------------------------------------------------------------------
    def request(self, method: str, path: str, body: Any = None, *, timeout: float = 30) -> Answer:
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.web_port}{path}", data=data, method=method, headers=headers
        )
        start = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        took = time.monotonic() - start
        try:
            parsed: Any = json.loads(raw)
        except ValueError:
            parsed = raw.decode(errors="replace")
        return Answer(status, parsed, took)

    def get(self, path: str, *, timeout: float = 30) -> Answer:
        return self.request("GET", path, timeout=timeout)

    def subsonic(self, method: str, **params: str) -> Answer:
        query = urllib.parse.urlencode({"apiKey": self.api_key, "v": "1.16.1", "c": "faults", "f": "json", **params})
        return self.get(f"/rest/{method}?{query}")

    def login_admin(self) -> None:
        printed = run_manage(
            self.env,
            "shell",
            "-c",
            "from accounts.models import User; from accounts.services import api_key_create;"
            f"user = User.objects.create_superuser(username={ADMIN[0]!r}, password={ADMIN[1]!r}, email='a@x.org');"
            "print(api_key_create(user=user, name='faults')[1])",
        )
        self.api_key = printed.strip().splitlines()[-1]
        answer = self.request("POST", "/api/v1/auth/token", {"username": ADMIN[0], "password": ADMIN[1]})
        assert answer.status == 200, answer.body
        self.token = answer.body["access"]

    # -- what is on disk and in the database --------------------------------------------------------------
    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        return self.database.query(sql, *params)

    def media_files(self) -> list[str]:
        """Every file under MEDIA_ROOT, relative; os.walk skips folders a worker removes meanwhile."""
        return sorted(
            Path(folder, name).relative_to(self.media).as_posix()
            for folder, _dirs, names in os.walk(self.media)
            for name in names
        )

    def audio_files(self) -> list[str]:
        return [p for p in self.media_files() if Path(p).suffix in AUDIO_SUFFIXES and not Path(p).name.startswith(".")]

    def partial_files(self) -> list[str]:
        return [path for path in self.media_files() if path.endswith(".part")]

    def track_paths(self) -> list[str]:
        return sorted(row[0] for row in self.query("SELECT path FROM library_track"))


@contextlib.contextmanager
def running_stack(tmp: Path, template: DatabaseTemplate, env: dict[str, str]) -> Iterator[Stack]:
    """Everything started here is stopped here, by PID, whatever the test did."""
    database = template.clone()
    redis = RedisServer(tmp / "redis.log")
    stack = Stack(tmp, database, redis, env)
    try:
        redis.start()
        stack.start_web()
        stack.login_admin()
        yield stack
    finally:
        stack.stop()
        redis.stop()
        database.drop()
