"""Phase 2: compare a batch of candidates with what the library holds, on (source_id, size, mtime).

One query per batch; a file whose size and mtime match its track is unchanged and is not even opened.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from library.models import Track
from sources.scan.walk import Candidate


@dataclass(frozen=True)
class Known:
    track_id: int
    path: str
    size: int | None
    mtime_ns: int | None
    checksum: str
    is_missing: bool
    album_id: int


@dataclass(frozen=True)
class Change:
    candidate: Candidate
    known: Known | None  # None: a new file


def diff_batch(*, source: str, batch: Sequence[Candidate]) -> tuple[list[Change], list[Candidate], list[int]]:
    """(new or changed files, unchanged files, ids of unchanged tracks that were marked missing)."""
    rows = Track.objects.filter(source=source, source_id__in=[c.relative for c in batch]).values_list(
        "source_id", "pk", "path", "source_size", "source_mtime_ns", "checksum", "is_missing", "album_id"
    )
    known = {row[0]: Known(*row[1:]) for row in rows}
    changes: list[Change] = []
    unchanged: list[Candidate] = []
    returned: list[int] = []
    for candidate in batch:
        entry = known.get(candidate.relative)
        if entry is not None and entry.size == candidate.size and entry.mtime_ns == candidate.mtime_ns:
            unchanged.append(candidate)
            if entry.is_missing:
                returned.append(entry.track_id)
        else:
            changes.append(Change(candidate=candidate, known=entry))
    return changes, unchanged, returned
