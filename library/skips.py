"""Track.metadata_skips: the metadata a track was left without on purpose, {what: why}, one writer for all."""

from __future__ import annotations

from django.db import transaction

from library.models import Track


def track_skip_set(*, track_id: int, what: str, reason: str | None) -> None:
    """Record why `what` was skipped for the track, or clear it (reason None), under a row lock."""
    with transaction.atomic():
        track = Track.objects.select_for_update().only("metadata_skips").filter(pk=track_id).first()
        if track is None:
            return
        skips = dict(track.metadata_skips or {})
        if reason is None:
            if skips.pop(what, None) is None:
                return
        else:
            skips[what] = reason
        Track.objects.filter(pk=track_id).update(metadata_skips=skips or None)
