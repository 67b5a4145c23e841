"""Reads of identification state: which tracks to work on, and the counts the dashboard shows."""

from __future__ import annotations

from collections.abc import Sequence

from django.db.models import Count

from library.enrichment import acoustid, musicbrainz
from library.models import MetadataStatus, Track
from library.ratelimit import service_paused_until
from mcma.errors import InvalidInputError, NotFoundError


def tracks_to_enrich(*, pending: bool = False, every: bool = False, track_ids: Sequence[int] = ()) -> list[int]:
    """The ids `manage.py enrich` works through: the given ones (each must exist), every pending one, or all."""
    if track_ids:
        found = set(Track.objects.filter(pk__in=track_ids).values_list("pk", flat=True))
        if missing := sorted(set(track_ids) - found):
            raise NotFoundError(f"No track with id {', '.join(map(str, missing))}.", details={"missing": missing})
        return list(dict.fromkeys(track_ids))
    present = Track.objects.filter(is_missing=False)
    if every:
        return list(present.order_by("pk").values_list("pk", flat=True))
    if pending:
        return list(present.filter(metadata_status=MetadataStatus.PENDING).order_by("pk").values_list("pk", flat=True))
    raise InvalidInputError("Say which tracks: --pending, --all or track ids.")


def enrichment_status_counts() -> dict[str, int]:
    """Present tracks per `metadata_status`, every status named (0 when none)."""
    counts = dict(
        Track.objects.filter(is_missing=False)
        .values_list("metadata_status")
        .annotate(count=Count("pk"))
        .values_list("metadata_status", "count")
    )
    return {status.value: counts.get(status.value, 0) for status in MetadataStatus}


def enrichment_services_paused() -> dict[str, object]:
    """Services that asked us to back off, with the moment every worker may call them again."""
    return {
        service: until
        for service in (musicbrainz.SERVICE, acoustid.SERVICE)
        if (until := service_paused_until(service=service)) is not None
    }
