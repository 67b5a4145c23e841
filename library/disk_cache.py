"""The one rule for the folders of rebuildable files under MCMA_CACHE_DIR (transcodes, remote covers): kept up to
a size, the least recently used dropped first. "Used" is the file's mtime, which readers bump on every hit."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def cache_file_used(path: Path) -> None:
    """Mark a cached file as just used, so a trim drops it last."""
    with contextlib.suppress(OSError):
        os.utime(path)


def cache_trim(folder: Path, *, max_bytes: int) -> int:
    """Delete the least recently used files under `folder` until the rest fit in `max_bytes`; files being written
    (dot-named temporaries) are left alone. Returns how many were deleted."""
    entries = []
    for entry in folder.rglob("*"):
        if entry.name.startswith("."):
            continue
        with contextlib.suppress(OSError):
            info = entry.stat()
            if entry.is_file():
                entries.append((info.st_mtime, info.st_size, entry))
    total = sum(size for _mtime, size, _entry in entries)
    deleted = 0
    for _mtime, size, entry in sorted(entries, key=lambda item: item[0]):
        if total <= max_bytes:
            break
        with contextlib.suppress(OSError):
            entry.unlink()
            total -= size
            deleted += 1
    return deleted
