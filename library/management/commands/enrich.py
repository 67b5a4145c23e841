"""Identify tracks now: `python manage.py enrich [--pending|--all|TRACK_ID…] [--revert TRACK_ID…]`."""

from __future__ import annotations

from typing import Any, TextIO, cast

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from library.enrichment import selectors, services
from library.enrichment.errors import MetadataServiceUnavailableError
from library.enrichment.services import EnrichmentOutcome
from library.models import MetadataStatus
from mcma.errors import ApplicationError


class Command(BaseCommand):
    help = (
        "Identify tracks with AcoustID and MusicBrainz now (needs MUSICBRAINZ_ENABLED=true), with a progress bar "
        "and a summary; or revert the latest identification of some tracks. Exits 1 when a service stays "
        "unavailable (the tracks not reached stay pending)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("track_ids", nargs="*", type=int, help="Tracks to identify (or to revert with --revert).")
        which = parser.add_mutually_exclusive_group()
        which.add_argument("--pending", action="store_true", help="Every track not identified yet.")
        which.add_argument("--all", dest="every", action="store_true", help="Every present track, again.")
        which.add_argument(
            "--revert", action="store_true", help="Put back what the tracks' latest identification changed."
        )
        parser.add_argument("--no-progress", action="store_true", help="No progress bar (e.g. in logs).")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["revert"]:
                return self._revert(options["track_ids"])
            ids = selectors.tracks_to_enrich(
                pending=options["pending"], every=options["every"], track_ids=options["track_ids"]
            )
            if ids and not services.enrichment_enabled():
                raise CommandError("Identification is off: set MUSICBRAINZ_ENABLED=true.")
            self._enrich(ids, progress=not options["no_progress"])
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc

    def _enrich(self, ids: list[int], *, progress: bool) -> None:
        # Straight to the underlying stream: OutputWrapper.write would end each of tqdm's "\r" redraws with "\n".
        stream = cast(TextIO, self.stderr._out)
        bar = tqdm(
            total=len(ids),
            unit=" tracks",
            desc="Identifying",
            disable=not progress,
            file=stream,
        )
        counts = dict.fromkeys(MetadataStatus, 0)

        def on_track(outcome: EnrichmentOutcome) -> None:
            counts[outcome.status] += 1
            bar.update(1)
            bar.set_postfix(enriched=counts[MetadataStatus.ENRICHED], refresh=False)
            if outcome.status != MetadataStatus.ENRICHED:
                bar.write(f"  track {outcome.track_id}: {outcome.status}: {outcome.reason}", file=stream)

        try:
            services.tracks_enrich(track_ids=ids, on_track=on_track)
        except MetadataServiceUnavailableError as exc:
            raise CommandError(f"{exc.message}; {len(ids) - bar.n} tracks not reached stay as they were.") from exc
        finally:
            bar.close()
        self.stdout.write(
            self.style.SUCCESS(
                f"{len(ids)} tracks: {counts[MetadataStatus.ENRICHED]} enriched, "
                f"{counts[MetadataStatus.UNMATCHED]} unmatched, {counts[MetadataStatus.FAILED]} failed."
            )
        )

    def _revert(self, track_ids: list[int]) -> None:
        if not track_ids:
            raise CommandError("--revert needs the ids of the tracks to revert.")
        for track_id in track_ids:
            enrichment = services.enrichment_revert(track_id=track_id)
            fields = ", ".join(enrichment.changes) or "nothing had changed"
            self.stdout.write(f"track {track_id}: reverted ({fields})")
        self.stdout.write(self.style.SUCCESS(f"{len(track_ids)} tracks reverted."))
