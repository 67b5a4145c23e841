"""Phase 6: tracks whose source file vanished are marked missing (kept, never deleted).

Streams the source's present tracks from the database in chunks and checks each file on disk, so memory stays
flat however large the library is.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from library.models import Track

_CHUNK = 500


def mark_missing(*, source: str, root: Path, on_albums: Callable[[set[int]], None]) -> int:
    """Mark the source's tracks whose file is gone under `root`; returns how many. `on_albums` gets the album
    ids of each marked chunk (to recount them)."""
    marked = 0
    gone: list[tuple[int, int]] = []
    rows = (
        Track.objects.filter(source=source, is_missing=False)
        .order_by("pk")
        .values_list("pk", "source_id", "album_id")
        .iterator(chunk_size=_CHUNK)
    )
    for pk, source_id, album_id in rows:
        if not _present(root, source_id):
            gone.append((pk, album_id))
            if len(gone) >= _CHUNK:
                marked += _flush(gone, on_albums)
    if gone:
        marked += _flush(gone, on_albums)
    return marked


def _present(root: Path, source_id: str) -> bool:
    relative = Path(source_id)
    if relative.is_absolute() or ".." in relative.parts:
        return False
    try:
        return os.path.isfile(root / relative)
    except (OSError, ValueError):
        return False


def _flush(gone: list[tuple[int, int]], on_albums: Callable[[set[int]], None]) -> int:
    count = Track.objects.filter(pk__in=[pk for pk, _album in gone]).update(is_missing=True)
    on_albums({album for _pk, album in gone})
    gone.clear()
    return count
