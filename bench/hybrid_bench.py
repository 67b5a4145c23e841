"""Hybrid-library benchmark (issue 21): search3 with external hits, and the first audio byte of an external song.

    .venv/bin/python bench/hybrid_bench.py [--latency 0.1] [--runs 40] [--tracks 2000] [--origin-kbps 1000]

Starts the fake YouTube Music origin of the tests on 127.0.0.1, answering every API call after `--latency`
seconds, and points the `youtube` source at it with EXTERNAL_SEARCH_IN_SUBSONIC on, over a throw-away SQLite
database (a `--tracks` library) in a temp dir. Requests go through Django's test client (server time, no
network to the client). Prints:
- search3 p50/p95 with external search on, every query new to the source (its search cache cleared each run),
  and repeated (answered from that cache); the issue's target is p95 < 300 ms with a 100 ms origin;
- search3 on the library alone (the setting off), for comparison;
- time to the first audio byte of `stream` on an external song not in the library, two ways: relayed while a
  real Celery worker (a separate process, sharing the data dir) downloads it from an origin sending
  `--origin-kbps`, next to the time that download takes to land; and without a relay, the download run
  in-process before the answer (CELERY_TASK_ALWAYS_EAGER), so the file is served once it has landed.
Not a test: it prints numbers and exits 0.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SONG_SECONDS = 200.0
sys.path.insert(0, str(ROOT))

from tests.audio import AudioMaker  # noqa: E402
from tests.fakes.media_server import MediaStore  # noqa: E402
from tests.fakes.ytmusic_server import demo_catalog, ytmusic_server  # noqa: E402


def _setup_django(scratch: Path, base_url: str) -> None:
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "mcma.settings",
            "MCMA_DATA_DIR": str(scratch),
            "MEDIA_ROOT": str(scratch / "media"),
            "DATABASE_URL": f"sqlite:///{scratch / 'bench.sqlite3'}",
            "CACHE_URL": "locmemcache://",
            "DEBUG": "true",
            "LOG_LEVEL": "WARNING",
            "YOUTUBE_ENABLED": "true",
            "YOUTUBE_MUSIC_BASE_URL": base_url,
            "YOUTUBE_REQUESTS_PER_SECOND": "1000",
            "DOWNLOAD_ALLOWED_EXTRACTORS": "generic",
            "EXTERNAL_SEARCH_IN_SUBSONIC": "true",
            "CELERY_TASK_ALWAYS_EAGER": "true",
        }
    )
    import django

    django.setup()
    from django.core.management import call_command
    from django.test.utils import setup_test_environment

    setup_test_environment()
    call_command("migrate", verbosity=0, interactive=False)


def _library(tracks: int) -> dict[str, str]:
    from accounts.services import subsonic_password_reveal
    from tests.factories.accounts import UserFactory
    from tests.factories.library import AlbumFactory, ArtistFactory, TrackFactory

    artist = ArtistFactory.create(name="Local Band")
    for number in range(tracks):
        if number % 10 == 0:
            album = AlbumFactory.create(name=f"Local Album {number // 10}", album_artist=artist)
        TrackFactory.create(album=album, artist=artist, title=f"Localhost Song {number}")
    user = UserFactory.create(username="bench")
    return {"u": user.username, "p": subsonic_password_reveal(user=user)}


def _timed(call: Callable[[], Any], runs: int, before: Callable[[], None] = lambda: None) -> list[float]:
    figures = []
    for _ in range(runs):
        before()
        started = time.perf_counter()
        call()
        figures.append((time.perf_counter() - started) * 1000)
    return figures


def _report(label: str, figures: list[float]) -> None:
    ordered = sorted(figures)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    print(f"{label:<52} p50 {statistics.median(ordered):7.1f} ms   p95 {p95:7.1f} ms   (n={len(ordered)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.1, help="seconds the fake origin waits per API call")
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--tracks", type=int, default=2000)
    parser.add_argument("--origin-kbps", type=float, default=1000.0, help="how fast the origin sends media (KB/s)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="mcma-hybrid-bench-") as tmp:
        scratch = Path(tmp)
        (scratch / "audio").mkdir()
        media = MediaStore()
        song = AudioMaker(scratch / "audio").make(scratch / "song.opus", "opus", seconds=SONG_SECONDS)
        media.add_file("tone.opus", song)
        catalog = demo_catalog()
        catalog.songs["vidAAAAAAA1"].seconds = int(SONG_SECONDS)  # a song of a usual length, as a 64 kb/s opus
        with ytmusic_server(catalog, media) as server:
            server.latency_seconds = args.latency
            _setup_django(scratch, server.base_url)
            from django.conf import settings
            from django.core.cache import cache
            from django.test import Client

            credentials = _library(args.tracks)
            client = Client()
            auth = {**credentials, "v": "1.16.1", "c": "bench", "f": "json"}

            def search() -> None:
                response = client.get("/rest/search3", {**auth, "query": "localhost"})
                body = response.json()["subsonic-response"]
                assert body["status"] == "ok", body
                assert any(s["id"].startswith("ext-") for s in body["searchResult3"].get("song", [])) or (
                    not settings.EXTERNAL_SEARCH_IN_SUBSONIC
                ), "no external hit"

            print(f"fake origin latency {args.latency * 1000:.0f} ms per API call, library of {args.tracks} songs")
            _report("search3, external on, new query each time", _timed(search, args.runs, before=cache.clear))
            _report("search3, external on, repeated query (cached)", _timed(search, args.runs))
            settings.EXTERNAL_SEARCH_IN_SUBSONIC = False
            _report("search3, library only", _timed(search, args.runs))
            settings.EXTERNAL_SEARCH_IN_SUBSONIC = True

            first_byte, size = _first_byte(client, auth, "vidAAAAAAA1")
            print(f"{'stream, no relay (download in-process): first byte':<52} {first_byte:7.1f} ms", end="")
            print(f" (a {size / 1e6:.1f} MB, {SONG_SECONDS:.0f} s file)")
            started = time.perf_counter()
            again = client.get("/rest/stream", {**auth, "id": "ext-yt-vidAAAAAAA1"})
            next(iter(again.streaming_content))  # type: ignore[attr-defined]
            print(f"{'the same song again (now in the library)':<52} {(time.perf_counter() - started) * 1000:7.1f} ms")

            media.slow_chunk = 16 * 1024
            media.slow_pause = media.slow_chunk / (args.origin_kbps * 1024)
            catalog.songs["vidAAAAAAA2"].media = "slow"
            catalog.songs["vidAAAAAAA2"].seconds = int(SONG_SECONDS)
            _relay_figures(client, auth, scratch, args.origin_kbps)


def _first_byte(client: Any, auth: dict[str, str], video_id: str) -> tuple[float, int]:
    """Milliseconds to the first audio byte of `stream` on the external song, and the library file's size."""
    from django.conf import settings

    from library.models import Track

    started = time.perf_counter()
    response = client.get("/rest/stream", {**auth, "id": f"ext-yt-{video_id}"})
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"].startswith("audio/"), response.content
    chunks = iter(response.streaming_content)
    next(chunks)
    first_byte = (time.perf_counter() - started) * 1000
    for _chunk in chunks:
        pass
    track = Track.objects.get(source_id=video_id)
    return first_byte, Path(settings.MEDIA_ROOT, track.path).stat().st_size


def _relay_figures(client: Any, auth: dict[str, str], scratch: Path, origin_kbps: float) -> None:
    """The first byte of a song relayed while a Celery worker process downloads it, and when the download lands."""
    from celery import current_app

    from library.models import Track

    current_app.conf.task_always_eager = False
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "mcma", "worker", "--pool", "solo", "--loglevel", "INFO"],
        cwd=ROOT,
        env={**os.environ, "CELERY_TASK_ALWAYS_EAGER": "false", "LOG_LEVEL": "INFO"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert worker.stderr is not None
        for line in worker.stderr:  # the worker says when it takes tasks
            if " ready." in line:
                break
        started = time.perf_counter()
        response = client.get("/rest/stream", {**auth, "id": "ext-yt-vidAAAAAAA2"})
        assert response.status_code == 200, response.status_code
        assert response["Content-Type"].startswith("audio/"), response.content
        chunks = iter(response.streaming_content)
        next(chunks)
        first_byte = (time.perf_counter() - started) * 1000
        relayed = sum(len(chunk) for chunk in chunks)
        whole = (time.perf_counter() - started) * 1000
        while not Track.objects.filter(source_id="vidAAAAAAA2").exists():
            time.sleep(0.05)
        landed = (time.perf_counter() - started) * 1000
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    label = f"stream, relayed ({origin_kbps:.0f} KB/s origin): first byte"
    print(f"{label:<52} {first_byte:7.1f} ms   (whole relay {whole:.0f} ms, {relayed / 1e6:.1f} MB;", end="")
    print(f" library copy landed at {landed:.0f} ms)")


if __name__ == "__main__":
    main()
