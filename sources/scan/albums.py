"""Phase 5: refresh the albums a batch touched (counts, genres, artists) and give each album a cover once.

Cover priority follows common practice (Navidrome's default): a folder image (cover, folder, front; .jpg or
.png) beside the track or one folder up (multi-disc "Disc N" layouts), else the first embedded picture.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path

from library.ingest.covers import album_covers_store
from library.models import Album
from library.tags import image_mime
from sources.scan.store import Imported
from sources.scan.walk import COVER_NAMES, COVER_SUFFIXES

logger = logging.getLogger(__name__)

_MAX_COVER_BYTES = 20 * 1024 * 1024


def store_covers(*, imported: Iterable[Imported], root: Path) -> int:
    """Extract covers for albums of this batch that have none yet; returns how many were stored."""
    items = [item for item in imported if not item.album_has_cover]
    # One query for the batch's albums: another scan may have given some a cover since their rows were read.
    albums = Album.objects.in_bulk({item.album_id for item in items}) if items else {}
    done: set[int] = set()
    covers: list[tuple[Album, bytes, str]] = []
    for item in items:
        if item.album_id in done:
            continue
        done.add(item.album_id)
        album = albums.get(item.album_id)
        if album is None or album.cover_path:
            continue
        cover = folder_cover(Path(item.source_dir), root=root)
        if cover is None and item.tags.cover:
            cover = (item.tags.cover, item.tags.cover_mime or image_mime(item.tags.cover) or "image/jpeg")
        if cover is not None:
            covers.append((album, *cover))
    try:
        return album_covers_store(covers)
    except OSError as exc:  # one unwritable cover must not cost the others theirs
        logger.warning("scan: cannot store %d covers together (%s); storing them one by one", len(covers), exc)
    stored = 0
    for album, image, mime in covers:
        try:
            stored += album_covers_store([(album, image, mime)])
        except OSError as exc:
            logger.warning("scan: cannot store the cover of album %s: %s", album.pk, exc)
    return stored


def folder_cover(folder: Path, *, root: Path) -> tuple[bytes, str] | None:
    for candidate_dir in (folder, folder.parent):
        if candidate_dir != root and root not in candidate_dir.parents:
            break
        found = _cover_in(candidate_dir, root=root)
        if found is not None:
            return found
    return None


def _cover_in(folder: Path, *, root: Path) -> tuple[bytes, str] | None:
    try:
        with os.scandir(folder) as entries:
            names = {entry.name.lower(): entry for entry in entries}
    except OSError:
        return None
    for stem in COVER_NAMES:
        for suffix in COVER_SUFFIXES:
            entry = names.get(stem + suffix)
            if entry is None or not entry.is_file():
                continue
            resolved = Path(entry.path).resolve()
            if resolved != root and root not in resolved.parents:
                continue  # a cover symlinked from outside the root is refused like any other file
            try:
                if resolved.stat().st_size > _MAX_COVER_BYTES:
                    continue
                data = resolved.read_bytes()
            except OSError:
                continue
            mime = image_mime(data)
            if mime:
                return data, mime
    return None
