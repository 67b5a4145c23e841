"""Track.metadata_skips: the metadata a track was left without on purpose, {what: why}, one writer for all.

Each reason has its own key and goes only when its own step succeeds (or its file goes). A rescan of a changed
audio file replaces the reasons about that file's content (its tags; the sweep measures its loudness again) but
keeps those about other files, whose steps do not run again with it: a cover image, a .lrc/.txt sidecar.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import transaction

from library.models import Track

COVER = "cover"


def lyrics_key(kind: str) -> str:
    """The key of a sidecar's reason: "lyrics.lrc", "lyrics.txt"."""
    return f"lyrics{kind}"


def _about_other_files(what: str) -> bool:
    return what == COVER or what.startswith(lyrics_key("."))


def skips_after_file_read(*, current: dict[str, Any] | None, read: Mapping[str, str]) -> dict[str, Any] | None:
    """The skips of a track whose audio file was read again, `read` being what its tags left out."""
    kept = {what: why for what, why in (current or {}).items() if _about_other_files(what)}
    return {**kept, **read} or None


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
