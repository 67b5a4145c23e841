"""Cover-resize memory benchmark: issue 19's probe against a live gunicorn on 127.0.0.1.

    .venv/bin/python bench/cover_bench.py [--workers 2] [--threads 4] [--clients 8] [--side 9000] [--legit 4000]

Starts gunicorn (`mcma.wsgi`, gthread, like scripts/run.sh) on a free loopback port over a throw-away SQLite
database and MEDIA_ROOT in a temp dir, with two album covers: the probe's decompression bomb (a `--side` square
RGB PNG of zeros, about 240 KB on disk and 243 MB decoded for 9000) and a legitimate large JPEG (`--legit`
square). For each cover, `--clients` threads ask `getCoverArt` at once for sizes 1000, 1001, ... and the script
prints every worker's resident memory before the burst and its peak (VmHWM) after it, the answers' codes, and
the wall time. Each cover runs in a fresh server, so one burst's peak does not hide the next.
Not a test: it prints numbers and exits 0.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.images import bomb_png  # noqa: E402  # the same hostile file the tests use


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _environment(scratch: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "mcma.settings",
        "MCMA_DATA_DIR": str(scratch),
        "MEDIA_ROOT": str(scratch / "media"),
        "DATABASE_URL": f"sqlite:///{scratch / 'bench.sqlite3'}",
        "DEBUG": "true",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }


def _prepare(scratch: Path, env: dict[str, str], side: int, legit: int) -> dict[str, Any]:
    """Migrate, then make a user and two albums with covers; returns the ids and the credentials."""
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
    bomb_png(scratch / "media" / "covers" / "bomb.png", side)
    script = f"""
import django, json
django.setup()
from PIL import Image
from accounts.services import subsonic_password_reveal, user_create
from library.models import Album, Artist
Image.new("RGB", ({legit}, {legit}), (30, 90, 160)).save({str(scratch / "media" / "covers" / "legit.jpg")!r})
user = user_create(username="bench", password="bench-password-123")
artist = Artist.objects.create(name="Bench", name_key="bench", sort_name="bench")
ids = {{}}
for name, cover in (("bomb", "covers/bomb.png"), ("legit", "covers/legit.jpg")):
    ids[name] = Album.objects.create(
        name=name, name_key=name, sort_name=name, album_artist=artist, cover_path=cover
    ).pk
print(json.dumps({{"ids": ids, "password": subsonic_password_reveal(user=user)}}))
"""
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(child) for child in text.split()]


def _memory_mb(pid: int) -> dict[str, float]:
    fields: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _sep, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) / 1024
    return fields


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=300) as response:  # noqa: S310 - a loopback URL we built
        body = response.read()
        kind = response.headers.get("Content-Type", "")
    if kind.startswith("application/json"):
        error = json.loads(body)["subsonic-response"].get("error", {})
        return int(error.get("code", -1)), str(error.get("message", ""))[:80]
    return 200, f"{kind}, {len(body)} bytes"


def _burst(scratch: Path, env: dict[str, str], args: argparse.Namespace, album_id: int, password: str) -> None:
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "mcma.wsgi", "--bind", f"127.0.0.1:{port}", "--workers",
         str(args.workers), "--threads", str(args.threads), "--timeout", "300", "--log-level", "warning"],
        cwd=ROOT, env=env, start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}/rest"
    auth = f"u=bench&p={password}&v=1.16.1&c=bench&f=json"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                _get(f"{base}/ping?{auth}")
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("gunicorn did not start") from None
                time.sleep(0.2)
        for _ in range(args.workers * 4):  # every worker has answered once: its start-up memory is in
            _get(f"{base}/ping?{auth}")
        workers = _children(server.pid)
        before = {pid: _memory_mb(pid) for pid in workers}
        started = time.monotonic()
        urls = [f"{base}/getCoverArt?{auth}&id=al-{album_id}&size={1000 + n}" for n in range(args.clients)]
        with ThreadPoolExecutor(args.clients) as pool:
            answers = list(pool.map(_get, urls))
        wall = time.monotonic() - started
        after = {pid: _memory_mb(pid) for pid in workers}
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    for (code, text), url in zip(answers, urls, strict=True):
        print(f"    size={url.rsplit('=', 1)[1]}: {code} {text}")
    for pid in workers:
        print(
            f"    worker {pid}: RSS before {before[pid]['VmRSS']:.0f} MB, "
            f"peak after {after[pid]['VmHWM']:.0f} MB (+{after[pid]['VmHWM'] - before[pid]['VmRSS']:.0f} MB)"
        )
    print(f"    wall {wall:.2f} s; peak of all workers {max(m['VmHWM'] for m in after.values()):.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--side", type=int, default=9000, help="Side of the bomb PNG in pixels.")
    parser.add_argument("--legit", type=int, default=4000, help="Side of the legitimate JPEG in pixels.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mcma-cover-bench-") as temp:
        scratch = Path(temp)
        env = _environment(scratch)
        prepared = _prepare(scratch, env, args.side, args.legit)
        size_kb = (scratch / "media" / "covers" / "bomb.png").stat().st_size / 1024
        print(f"gunicorn {args.workers}x{args.threads}, {args.clients} clients asking sizes 1000..{999 + args.clients}")
        for name, label in (("bomb", f"{args.side}x{args.side} PNG, {size_kb:.0f} KB"), ("legit", f"{args.legit}x"
                            f"{args.legit} JPEG")):  # fmt: skip
            print(f"  {name} cover ({label}):")
            _burst(scratch, env, args, prepared["ids"][name], prepared["password"])


if __name__ == "__main__":
    main()
