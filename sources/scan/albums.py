"""Phase 5: refresh the albums a batch touched (counts, genres, artists), give each album a cover once and each
album artist an image once.

Covers are tried in COVER_ART_PRIORITY order among what a scan can see: "embedded" (the first track's picture)
and "folder" (cover, folder, front; .jpg or .png beside the track or one folder up, for multi-disc "Disc N"
layouts). The Cover Art Archive is asked later by the metadata sweep; a source's thumbnail comes with its
download. An album whose cover came from an origin ranked below what the scan finds (the archive, by default)
takes the scan's. A picture that is not a usable image is skipped with the reason on the track. An album artist's image
is an `artist.*` file in the folder above the album (or the album folder itself).
"""

from __future__ import annotations

import logging
import mimetypes
import os
from collections.abc import Iterable
from pathlib import Path

from django.conf import settings

from library import covers, storage
from library.ingest.covers import album_covers_store, cover_rank
from library.models import Album, Artist
from library.skips import COVER, track_skip_set
from library.tags import image_mime
from sources.scan.store import Imported
from sources.scan.walk import ARTIST_IMAGE_NAMES, COVER_NAMES, COVER_SUFFIXES

logger = logging.getLogger(__name__)

_MAX_COVER_BYTES = 20 * 1024 * 1024


def store_covers(*, imported: Iterable[Imported], root: Path) -> int:
    """Extract covers for albums of this batch that have none yet, or one ranked below what a scan can find;
    returns how many were stored."""
    best = min(cover_rank("embedded"), cover_rank("folder"))
    items = [item for item in imported if not item.album_has_cover or cover_rank(item.album_cover_source) > best]
    # One query for the batch's albums: another scan may have given some a cover since their rows were read.
    albums = Album.objects.in_bulk({item.album_id for item in items}) if items else {}
    done: set[int] = set()
    covers: list[tuple[Album, bytes, str, str]] = []
    for item in items:
        if item.album_id in done:
            continue
        done.add(item.album_id)
        album = albums.get(item.album_id)
        if album is None:
            continue
        cover = _album_cover(item, root=root, album=album)
        if cover is not None:
            covers.append((album, *cover))
    try:
        return album_covers_store(covers)
    except OSError as exc:  # one unwritable cover must not cost the others theirs
        logger.warning("scan: cannot store %d covers together (%s); storing them one by one", len(covers), exc)
    stored = 0
    for album, image, mime, origin in covers:
        try:
            stored += album_covers_store([(album, image, mime, origin)])
        except OSError as exc:
            logger.warning("scan: cannot store the cover of album %s: %s", album.pk, exc)
    return stored


def _album_cover(item: Imported, *, root: Path, album: Album) -> tuple[bytes, str, str] | None:
    """(image, mime, origin) of the best cover the scan can see that ranks above the album's own, if any."""
    problems: list[str] = []
    found: tuple[bytes, str] | None = None
    for name in settings.COVER_ART_PRIORITY:
        if album.cover_path and cover_rank(name) >= cover_rank(album.cover_source):
            break  # what follows is no better than the cover the album has
        if name == "folder":
            found = folder_cover(Path(item.source_dir), root=root, problems=problems)
        elif name == "embedded" and item.tags.cover:
            found = _usable(item.tags.cover, "the embedded picture", problems)
        if found is not None:
            break
    if problems:
        track_skip_set(track_id=item.track_id, what=COVER, reason="; ".join(problems))
    return None if found is None else (*found, name)


def _usable(data: bytes, what: str, problems: list[str]) -> tuple[bytes, str] | None:
    problem = covers.image_problem(data)
    if problem:
        problems.append(f"{what}: {problem}")
        return None
    return data, image_mime(data) or "image/jpeg"


def folder_cover(folder: Path, *, root: Path, problems: list[str]) -> tuple[bytes, str] | None:
    for candidate_dir in (folder, folder.parent):
        if candidate_dir != root and root not in candidate_dir.parents:
            break
        found = _image_in(candidate_dir, COVER_NAMES, root=root, problems=problems)
        if found is not None:
            return found
    return None


def store_artist_images(*, imported: Iterable[Imported], root: Path) -> int:
    """An `artist.*` image for album artists of this batch that have none yet; returns how many were stored."""
    by_folder = {item.album_artist_id: Path(item.source_dir) for item in imported if item.album_artist_id}
    without = set(Artist.objects.filter(pk__in=list(by_folder), image_path="").values_list("pk", flat=True))
    stored = 0
    for artist_id in sorted(without):
        folder = by_folder[artist_id]
        found = None
        for candidate_dir in (folder.parent, folder):
            if candidate_dir == root or root in candidate_dir.parents:
                found = _image_in(candidate_dir, ARTIST_IMAGE_NAMES, root=root, problems=[])
            if found is not None:
                break
        if found is None:
            continue
        relative = f"covers/artists/{artist_id}{mimetypes.guess_extension(found[1]) or '.jpg'}"
        try:
            storage.store_many_bytes([(found[0], relative)])
        except OSError as exc:
            logger.warning("scan: cannot store the image of artist %s: %s", artist_id, exc)
            continue
        stored += Artist.objects.filter(pk=artist_id, image_path="").update(image_path=relative)
    return stored


def _image_in(folder: Path, stems: tuple[str, ...], *, root: Path, problems: list[str]) -> tuple[bytes, str] | None:
    try:
        with os.scandir(folder) as entries:
            names = {entry.name.lower(): entry for entry in entries}
    except OSError:
        return None
    for stem in stems:
        for suffix in COVER_SUFFIXES:
            entry = names.get(stem + suffix)
            if entry is None or not entry.is_file():
                continue
            resolved = Path(entry.path).resolve()
            if resolved != root and root not in resolved.parents:
                continue  # a cover symlinked from outside the root is refused like any other file
            try:
                if resolved.stat().st_size > _MAX_COVER_BYTES:
                    problems.append(f"{entry.name}: larger than {_MAX_COVER_BYTES:,} bytes")
                    continue
                data = resolved.read_bytes()
            except OSError:
                continue
            usable = _usable(data, entry.name, problems)
            if usable is not None:
                return usable
    return None
