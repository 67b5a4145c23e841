"""Management UI benchmark: every page of the admin on a generated 10,000-track library, p50/p95 and queries.

    .venv/bin/python bench/admin_bench.py [--tracks 10000] [--runs 20]

The same library and database choice as bench/subsonic_bench.py (a throw-away SQLite database unless
DATABASE_URL names a scratch database). Pages are rendered through Django's test client as a signed-in admin:
server time without network. Target: every page under 300 ms. Not a test: it prints numbers and exits 0.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from subsonic_bench import generate, measure, setup_django

TARGET_MS = 300.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tracks", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="mcma-admin-bench-") as scratch:
        setup_django(Path(scratch))
        from django.test import Client

        from accounts.models import User
        from downloads.models import DownloadJob, JobKind, JobState
        from library.models import Track

        rng = random.Random(args.seed)
        started = time.perf_counter()
        data = generate(args.tracks, rng)
        admin = User.objects.create_superuser(username="boss", password="bench-password-123")
        DownloadJob.objects.bulk_create(
            [
                DownloadJob(
                    source="youtube",
                    external_id=f"vid{i:08d}",
                    kind=JobKind.SONG,
                    title=f"Song {i}",
                    state=rng.choice(list(JobState)),
                    requested_by=admin,
                )
                for i in range(500)
            ]
        )
        print(f"library: {args.tracks} tracks, 500 download jobs; generated in {time.perf_counter() - started:.1f} s")
        print(f"{args.runs} runs per page; target p95 < {TARGET_MS:.0f} ms\n")
        client = Client()
        client.force_login(admin)
        track = Track.objects.order_by("pk")[args.tracks // 2]
        album = data["albums"][len(data["albums"]) // 2]
        pages = {
            "dashboard /admin/": "/admin/",
            "search ?q=love (library only)": "/admin/search/?q=love",
            "downloads": "/admin/downloads/",
            "track page": f"/admin/music/track/{track.pk}/",
            "album page": f"/admin/music/album/{album.pk}/",
            "artist page": f"/admin/music/artist/{album.album_artist_id}/",
            "tracks list": "/admin/library/track/",
            "tracks list ?q=love": "/admin/library/track/?q=love",
            "albums list": "/admin/library/album/",
            "artists list": "/admin/library/artist/",
            "download jobs list": "/admin/downloads/downloadjob/",
            "users list": "/admin/accounts/user/",
        }
        from django.core.cache import cache

        def dashboard_uncached() -> object:
            cache.clear()  # the figures are recomputed: the first view after the 30 s cache runs out
            return client.get("/admin/")

        slow = []
        if (
            measure("dashboard, figures not cached", dashboard_uncached, args.runs, expect=b"</html>")["p95"]
            > TARGET_MS
        ):
            slow.append("dashboard, figures not cached")
        for label, url in pages.items():
            result = measure(label, lambda url=url: client.get(url), args.runs, expect=b"</html>")  # type: ignore[misc]
            if result["p95"] > TARGET_MS:
                slow.append(label)
        print(
            f"\n{len(pages) - len(slow)} of {len(pages)} pages under {TARGET_MS:.0f} ms at p95"
            + (f"; over: {', '.join(slow)}" if slow else "")
        )


if __name__ == "__main__":
    main()
