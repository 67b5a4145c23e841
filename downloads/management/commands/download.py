"""`manage.py download QUERY_OR_URL [--kind album]`: request a download and follow it with a progress bar."""

from __future__ import annotations

import time
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from accounts.models import User
from downloads.models import FINAL_STATES, DownloadJob, JobKind, JobState
from downloads.services import collection_refresh, download_job_run, download_request_lookup
from mcma.errors import ApplicationError


class Command(BaseCommand):
    help = "Search a source (or take a link), enqueue the download and follow it until it is done."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("query_or_url", help="Search words, or a link of the source (watch, playlist, album).")
        parser.add_argument("--kind", choices=JobKind.values, default=JobKind.SONG, help="What to search for.")
        parser.add_argument("--source", default="youtube", help="Source alias (default: youtube).")
        parser.add_argument("--user", default="", help="Username recorded as the requester.")
        parser.add_argument(
            "--inline", action="store_true", help="Run the download in this process instead of a Celery worker."
        )
        parser.add_argument("--timeout", type=float, default=3600.0, help="Give up following after this many seconds.")

    def handle(self, *args: Any, **options: Any) -> None:
        user = None
        if options["user"]:
            user = User.objects.filter(username=options["user"]).first()
            if user is None:
                raise CommandError(f"no user {options['user']!r}")
        try:
            result = download_request_lookup(
                user=user, source=options["source"], query_or_url=options["query_or_url"], kind=options["kind"]
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        if result.track is not None:
            self.stdout.write(f"Already in the library: {result.track.artist_display} - {result.track.title}")
            return
        assert result.job is not None
        job = result.job
        verb = "Queued" if result.created else "Already queued"
        self.stdout.write(f"{verb}: {job.kind} {job.source}:{job.external_id} (job {job.pk})")
        job = self._follow(job, inline=options["inline"], timeout=options["timeout"])
        if job.state != JobState.SUCCEEDED:
            raise CommandError(f"download {job.state}: {job.error_message or 'no details'}")
        summary = f"{job.track.artist_display} - {job.track.title} -> {job.track.path}" if job.track else job.title
        self.stdout.write(self.style.SUCCESS(f"Done: {summary}"))

    def _follow(self, job: DownloadJob, *, inline: bool, timeout: float) -> DownloadJob:
        deadline = time.monotonic() + timeout
        with tqdm(total=100.0, unit="%", desc=job.title or job.external_id, bar_format="{l_bar}{bar}| {n:.0f}%") as bar:
            while True:
                if inline:
                    self._run_due(job)
                job.refresh_from_db()
                bar.set_description_str((job.title or job.external_id)[:40])
                bar.set_postfix_str(f"{job.state} {job.phase}".strip())
                bar.update(max(0.0, job.percent - bar.n))
                if job.state in FINAL_STATES:
                    return job
                if time.monotonic() > deadline:
                    raise CommandError(f"still {job.state} after {timeout:.0f} s; follow it in the API (job {job.pk})")
                time.sleep(0.5)

    def _run_due(self, job: DownloadJob) -> None:
        """Inline mode: run the job (and, for albums and playlists, each track) whenever it is due."""
        download_job_run(job_id=str(job.pk))
        children = list(job.children.exclude(state__in=FINAL_STATES).values_list("pk", flat=True))
        for child_id in children:
            download_job_run(job_id=str(child_id))
        if children:
            collection_refresh(job_id=str(job.pk))
