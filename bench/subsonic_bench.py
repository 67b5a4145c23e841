"""Subsonic API benchmark: a generated 10,000-song library, the calls players make most, p50/p95 and queries.

    .venv/bin/python bench/subsonic_bench.py [--tracks 10000] [--runs 40]
    .venv/bin/python bench/subsonic_bench.py --tracks 100000   # the issue-23 targets: every call p95 < 50 ms

Uses a throw-away SQLite database in a temp dir unless DATABASE_URL is set (then that database is migrated and
filled: point it at a scratch database, never at real data). Requests go through Django's test client, so the
figures are server time without network. `--http` serves the library with gunicorn as `make run` does (DEBUG off,
its access log) and sends every request over one keep-alive connection on 127.0.0.1, as a player does: the figures
then include HTTP, the WSGI server and the transfer. Wall-clock figures include waiting for the CPU, so on a busy
machine also read the `cpu` column: CPU time per request of this process (SQLite runs in-process, PostgreSQL does
not), or with `--http` of the gunicorn workers.
Not a test: it prints numbers and exits 0.

`--keep DIR` keeps the database (and media dir) in DIR and reuses it on the next run with the same --tracks and
--seed, so a 100k library is generated once. A host reference figure (`bench/reference.py`) is printed before and
after the measurements: compare figures only at similar reference figures.
"""

from __future__ import annotations

import argparse
import gc
import http.client
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
WORDS = [
    *("love", "night", "day", "heart", "fire", "rain", "blue", "river", "summer", "dream", "light", "road"),
    *("home", "gold", "star", "city", "wild", "moon", "girl", "time", "sun", "black", "white", "song", "dance"),
    *("world", "sky", "ocean", "stone", "ghost", "angel", "paper", "glass", "iron", "silver", "velvet", "echo"),
]


def setup_django(scratch: Path) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mcma.settings")
    os.environ["MCMA_DATA_DIR"] = str(scratch)
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{scratch / 'bench.sqlite3'}")
    os.environ["DEBUG"] = "true"
    os.environ["LOG_LEVEL"] = "WARNING"
    import django

    django.setup()
    from django.core.management import call_command
    from django.test.utils import setup_test_environment

    setup_test_environment()
    call_command("migrate", verbosity=0, interactive=False)
    import mcma.wsgi  # noqa: F401  # the served process's start-up as gunicorn runs it (it freezes the GC heap)


def _words(rng: random.Random, count: int) -> str:
    return " ".join(rng.choice(WORDS).capitalize() for _ in range(count))


# How many of the songs the bench user has played (each 1-9 times), unless --played says otherwise.
PLAYED = 500


def generate(tracks: int, rng: random.Random, *, played: int = PLAYED) -> dict[str, Any]:
    from accounts.models import User
    from accounts.services import subsonic_password_reveal
    from library.models import Album, AlbumAnnotation, Artist, Genre, Track, TrackAnnotation
    from library.text import fold, sort_name

    albums_count = max(1, tracks // 10)
    artists_count = max(1, albums_count // 3)
    genres = Genre.objects.bulk_create([Genre(name=f"Genre {i}", name_key=fold(f"Genre {i}")) for i in range(20)])
    artists = []
    for i in range(artists_count):
        name = f"{_words(rng, 2)} {i}"
        artists.append(Artist(name=name, name_key=fold(name), sort_name=sort_name(name), album_count=3, track_count=30))
    artists = Artist.objects.bulk_create(artists, batch_size=500)
    albums = []
    for i in range(albums_count):
        name = f"{_words(rng, 3)} {i}"
        albums.append(
            Album(
                name=name,
                name_key=fold(name),
                sort_name=sort_name(name),
                album_artist=artists[i % len(artists)],
                year=rng.randint(1960, 2025),
                track_count=10,
                duration_ms=10 * 200_000,
                size_bytes=10 * 8_000_000,
            )
        )
    albums = Album.objects.bulk_create(albums, batch_size=500)
    track_rows = []
    for i in range(tracks):
        album = albums[i // 10]
        title = f"{_words(rng, 3)} {i}"
        track_rows.append(
            Track(
                source="local",
                source_id=f"music/{i}.flac",
                title=title,
                title_key=fold(title),
                artist=album.album_artist,
                artist_display=album.album_artist.name,
                album=album,
                track_number=i % 10 + 1,
                year=album.year,
                duration_ms=200_000,
                bitrate=900,
                sample_rate=44100,
                channels=2,
                codec="flac",
                suffix="flac",
                content_type="audio/flac",
                path=f"library/{i}.flac",
                size_bytes=8_000_000,
            )
        )
    track_objs = Track.objects.bulk_create(track_rows, batch_size=1000)
    Track.genres.through.objects.bulk_create(
        [Track.genres.through(track_id=t.pk, genre_id=genres[t.album_id % 20].pk) for t in track_objs],
        batch_size=2000,
    )
    Album.genres.through.objects.bulk_create(
        [Album.genres.through(album_id=a.pk, genre_id=genres[a.pk % 20].pk) for a in albums], batch_size=2000
    )
    user = User.objects.create_user(username="bench", password="bench-password-123")
    TrackAnnotation.objects.bulk_create(
        [TrackAnnotation(user=user, track=t, play_count=rng.randint(1, 9)) for t in rng.sample(track_objs, played)],
        batch_size=2000,
    )
    AlbumAnnotation.objects.bulk_create(
        [AlbumAnnotation(user=user, album=a, rating=rng.randint(1, 5)) for a in rng.sample(albums, 100)]
    )
    # Only ids leave: a served process holds none of the generator's model instances, and every live object
    # here would lengthen each garbage collection during the measurements.
    return {"password": subsonic_password_reveal(user=user), "album_ids": [f"al-{a.pk}" for a in albums]}


@dataclass(frozen=True)
class Answer:
    status_code: int
    content: bytes

    def json(self) -> Any:
        return json.loads(self.content)


class KeepAliveClient:
    """GETs over one HTTP/1.1 connection, kept open between requests as a player keeps it."""

    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)

    def get(self, path: str, params: dict[str, Any]) -> Answer:
        self.connection.request("GET", f"{path}?{urlencode(params)}")
        response = self.connection.getresponse()
        return Answer(response.status, response.read())


@contextmanager
def served(scratch: Path) -> Iterator[tuple[int, list[Any]]]:
    """gunicorn serving the library as `make run` starts it, on a free loopback port: its port and workers."""
    import psutil

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    env = {**os.environ, "BIND": "127.0.0.1", "PORT": str(port), "DEBUG": "false", "PYTHONPATH": str(ROOT)}
    with (scratch / "gunicorn.log").open("ab") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "mcma.wsgi", "--config", "python:mcma.gunicorn_config"],
            cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:  # any answer: the workers are up (the master binds the port before it starts them)
                KeepAliveClient(port).get("/rest/ping", {})
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit(f"gunicorn did not start: see {scratch / 'gunicorn.log'}") from None
                time.sleep(0.2)
        yield port, psutil.Process(server.pid).children()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def measure(
    label: str,
    call: Callable[[], Any],
    runs: int,
    *,
    workers: Sequence[Any] = (),
    expect: bytes = b'"status":"ok"',
) -> dict[str, float]:
    """Time `call` `runs` times after a warm-up; every answer must be a 200 whose body contains `expect`. CPU time
    is this process's, or the `workers`' when a served process answers (then no queries are counted here)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def cpu_seconds() -> float:
        # The kernel counts a process's CPU time in clock ticks (10 ms): only a mean over the runs resolves it.
        return sum(sum(worker.cpu_times()[:2]) for worker in workers) if workers else time.process_time()

    call()  # warm-up: caches, prepared statements
    timings = []
    queries = 0
    start_cpu = cpu_seconds()
    for _ in range(runs):
        with CaptureQueriesContext(connection) as captured:
            start = time.perf_counter()
            response = call()
            elapsed = time.perf_counter() - start
        assert response.status_code == 200, (label, response.status_code)
        assert expect in response.content, (label, response.content[:300])
        timings.append(elapsed * 1000)
        queries = len(captured)
    cpu_mean = (cpu_seconds() - start_cpu) * 1000 / runs
    timings.sort()
    p95 = timings[min(len(timings) - 1, round(0.95 * (len(timings) - 1)))]
    result = {"p50": statistics.median(timings), "p95": p95, "cpu_mean": cpu_mean, "queries": queries}
    print(
        f"{label:<42} p50 {result['p50']:6.1f} ms  p95 {result['p95']:6.1f} ms  "
        f"(cpu mean {cpu_mean:6.1f} ms)" + ("" if workers else f"  queries {queries}")
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tracks", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", type=Path, help="keep the generated library in this directory and reuse it")
    parser.add_argument("--http", action="store_true", help="measure a gunicorn over HTTP (see above)")
    parser.add_argument(
        "--played", type=int, default=PLAYED, help="songs the bench user has played: a long-time listener has many"
    )
    args = parser.parse_args()

    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        bench(args, args.keep.resolve())
    else:
        with tempfile.TemporaryDirectory(prefix="mcma-bench-") as scratch:
            bench(args, Path(scratch))


def _library(args: argparse.Namespace, scratch: Path) -> dict[str, Any]:
    """The generated library's ids and password: made now, or read back from a kept library made alike."""
    from django.db import connection

    described = scratch / "library.json"
    wanted = {"tracks": args.tracks, "seed": args.seed, "database": os.environ["DATABASE_URL"], "played": args.played}
    if described.exists():
        kept = json.loads(described.read_text())
        if {"played": PLAYED, **kept["made"]} == wanted:  # libraries kept before --played had the default
            print(f"library: reusing the one kept in {scratch}")
            return kept["data"]
        raise SystemExit(f"{scratch} keeps a library made with {kept['made']}: use another --keep directory")
    started = time.perf_counter()
    data = generate(args.tracks, random.Random(args.seed), played=args.played)
    if connection.vendor == "postgresql":
        # Autovacuum would soon analyze a live database; right after a bulk load the planner has no statistics
        # and picks plans (full sorts spilling to disk) no real server would run.
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    print(f"library: generated in {time.perf_counter() - started:.1f} s")
    if args.keep:
        described.write_text(json.dumps({"made": wanted, "data": data}))
    return data


def bench(args: argparse.Namespace, scratch: Path) -> None:
    from reference import host_reference

    print(host_reference())
    setup_django(scratch)
    from django.db import connection
    from django.test import Client

    data = _library(args, scratch)
    gc.collect()
    print(
        f"library: {args.tracks} songs, {len(data['album_ids'])} albums on {connection.vendor}; "
        f"{args.runs} runs per call\n"
    )
    if args.http:
        with served(scratch) as (port, workers):
            print(f"served by gunicorn on 127.0.0.1:{port}, over one keep-alive connection\n")
            _measure_calls(args, data, KeepAliveClient(port), workers)
    else:
        _measure_calls(args, data, Client(), [])
    print(host_reference())


def _measure_calls(args: argparse.Namespace, data: dict[str, Any], client: Any, workers: list[Any]) -> None:
    rng = random.Random(args.seed)
    auth = {"u": "bench", "p": data["password"], "f": "json", "c": "bench", "v": "1.16.1"}

    def get(method: str, **params: Any) -> Any:
        return client.get(f"/rest/{method}", {**auth, **params})

    album_ids = data["album_ids"]
    for list_type in ("alphabeticalByName", "newest", "random"):
        measure(
            f"getAlbumList2 {list_type} 500",
            lambda list_type=list_type: get("getAlbumList2", type=list_type, size=500),  # type: ignore[misc]
            args.runs,
            workers=workers,
        )
    measure("getArtists", lambda: get("getArtists"), args.runs, workers=workers)
    measure("getIndexes", lambda: get("getIndexes"), args.runs, workers=workers)
    measure("getRandomSongs 50", lambda: get("getRandomSongs", size=50), args.runs, workers=workers)
    measure("getAlbum", lambda: get("getAlbum", id=rng.choice(album_ids)), args.runs, workers=workers)
    measure("search3 'love'", lambda: get("search3", query="love"), args.runs, workers=workers)
    measure("search3 'river gold'", lambda: get("search3", query="river gold"), args.runs, workers=workers)
    measure("search3 'ilve' (fragment)", lambda: get("search3", query="ilve"), args.runs, workers=workers)
    measure(
        "search3 '' songCount=500 (one sync page)",
        lambda: get(
            "search3",
            query="",
            songCount=500,
            songOffset=rng.randrange(0, args.tracks, 500),
            albumCount=0,
            artistCount=0,
        ),
        args.runs,
        workers=workers,
    )

    # The player's side (decoding each page) runs in this process too: it is timed apart from the requests.
    songs = 0
    serving = 0.0
    started = time.perf_counter()
    offset = 0
    while True:
        request_started = time.perf_counter()
        response = get("search3", query='""', songCount=500, songOffset=offset, albumCount=0, artistCount=0)
        serving += time.perf_counter() - request_started
        page = response.json()["subsonic-response"]["searchResult3"].get("song", [])
        songs += len(page)
        if len(page) < 500:
            break
        offset += 500
    elapsed = time.perf_counter() - started
    print(
        f'\nfull sync: search3 query="" songCount=500 paged {songs} songs: server {serving:.2f} s '
        f"({elapsed:.2f} s with this client decoding the pages)"
    )
    assert songs == args.tracks, (songs, args.tracks)


if __name__ == "__main__":
    main()
