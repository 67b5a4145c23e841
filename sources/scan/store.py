"""Phase 4: put a batch's files under their final names in managed storage, then write its tracks in one
transaction.

Files first, rows second: phase 3's workers stage every file of the batch, durable, under a temp name. Here each
is renamed to its final name -- an update over its stored copy, a new file to its deterministic name with a
rename that never overwrites another file (EEXIST: the next free name "... (2)" is tried) -- and the folders
are synced once for the whole batch. Only then are the rows written. If rows cannot be written, the files this
batch created are removed again, so no file stays in MEDIA_ROOT without a Track and no Track points at a
missing file. A file left behind by a crash between rename and commit is found on its deterministic name with
the same checksum and no track, and adopted by the next scan instead of duplicated.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.db import DatabaseError, IntegrityError, transaction

from library import storage
from library.ingest.identity import ResolveCache
from library.ingest.rows import SavedTrack, TrackFile, track_delete_file, tracks_save
from library.models import Track
from library.tags import TrackTags
from sources.scan.read import Prepared, Read, Touched, Unreadable
from sources.scan.report import Outcome, ScanReport

logger = logging.getLogger(__name__)

_NAME_ATTEMPTS = 50


@dataclass(frozen=True)
class Imported:
    track_id: int
    album_id: int
    album_artist_id: int
    album_has_cover: bool
    album_cover_source: str | None  # where that cover came from (Album.cover_source)
    tags: TrackTags
    source_dir: str  # absolute folder of the source file, for folder covers


@dataclass
class BatchResult:
    imported: list[Imported] = field(default_factory=list)
    album_ids: set[int] = field(default_factory=set)


@dataclass(frozen=True)
class _Stored:
    """A file of the batch under its final name, before its row is written."""

    read: Read
    relative_path: str
    checksum: str
    size: int
    created_file: bool  # False: an update over the track's stored copy, which stays if the row fails


def store_batch(*, source: str, prepared: Iterable[Prepared], report: ScanReport, cache: ResolveCache) -> BatchResult:
    """`prepared` holds each file's reading and, for files to import, the copy staged while it was read."""
    staged: list[tuple[Read, storage.StagedFile]] = []
    touched: list[Touched] = []
    for ready in prepared:
        result = ready.result
        relative = result.change.candidate.relative
        if not isinstance(result, Read):
            if isinstance(result, Unreadable):
                report.count(Outcome.FAILED, path=relative, reason=result.reason)
            else:
                touched.append(result)
            continue
        if ready.stage_error is not None:
            _copy_failed(report, relative, ready.stage_error)
            continue
        assert ready.staged is not None, "phase 3 stages every reading it does not report a stage_error for"
        staged.append((result, ready.staged))
    stored: list[_Stored] = []
    placed: list[str] = []  # the batch's renames, to sync
    claimed: set[str] = set()  # names this batch took: their rows are not written yet, so they are no orphans
    folders: dict[str, Path] = {}
    for read, staged_file in staged:
        try:
            item = _place(read, staged_file, claimed=claimed, folders=folders)
        except (OSError, storage.UnsafePathError) as exc:
            staged_file.discard()
            _copy_failed(report, read.change.candidate.relative, exc)
            continue
        claimed.add(item.relative_path)
        stored.append(item)
        if staged_file.placed_as:
            placed.append(staged_file.location)
    # A row must never point at a name a crash could still take back.
    storage.sync_folders(placed)
    return _write_rows(source=source, stored=stored, touched=touched, report=report, cache=cache)


def _copy_failed(report: ScanReport, relative: str, exc: Exception) -> None:
    reason = getattr(exc, "strerror", None) or str(exc)
    report.count(Outcome.FAILED, path=relative, reason=f"cannot copy into the library: {reason}")


def _place(read: Read, staged: storage.StagedFile, *, claimed: set[str], folders: dict[str, Path]) -> _Stored:
    def stored(relative: str, *, created_file: bool) -> _Stored:
        return _Stored(read, relative, staged.checksum, staged.size, created_file=created_file)

    known = read.change.known
    if known is not None and known.path:
        staged.place(known.path, replace=True, folders=folders)  # an update keeps the track's stored path
        return stored(known.path, created_file=False)
    for relative in itertools.islice(_library_names(read), _NAME_ATTEMPTS):
        try:
            staged.place(relative, replace=False, folders=folders)
        except FileExistsError:
            if relative not in claimed and _is_orphan_copy(relative, staged.checksum):
                staged.discard()
                return stored(relative, created_file=True)  # no row has it: if ours fails, it goes too
            continue  # taken by another track (or another writer just now): try the next name
        return stored(relative, created_file=True)
    raise OSError(f"no free file name for {read.change.candidate.relative!r}")


def _library_names(read: Read) -> Iterator[str]:
    """The names a new file may take in the library, best first: its deterministic name, then "... (2)"..."""
    suffix = read.change.candidate.path.suffix or f".{read.tags.suffix}"
    return storage.library_relative_paths(read.tags, suffix)


def _is_orphan_copy(relative: str, checksum: str) -> bool:
    path = storage.media_path(relative)
    if not path.is_file() or Track.objects.filter(path=relative).exists():
        return False
    try:
        return storage.file_checksum(path) == checksum
    except OSError:
        return False


def _write_rows(
    *,
    source: str,
    stored: list[_Stored],
    touched: list[Touched],
    report: ScanReport,
    cache: ResolveCache,
) -> BatchResult:
    result = BatchResult()
    saved: list[tuple[_Stored, SavedTrack]] = []
    failed_rows: list[tuple[_Stored, str]] = []
    try:
        with transaction.atomic():
            try:  # tracks_save is a savepoint of its own: a conflict leaves the batch's transaction usable
                tracks = tracks_save(source=source, files=[_track_file(item) for item in stored], cache=cache)
                saved.extend(zip(stored, tracks, strict=True))
            except IntegrityError as exc:  # a row that conflicts (e.g. a concurrent import's): retry rows alone
                logger.warning("scan: %d tracks saved one by one after a conflict: %s", len(stored), exc)
                report.rows_retried += len(stored)
                for item in stored:
                    try:
                        (track,) = tracks_save(source=source, files=[_track_file(item)], cache=cache)
                    except IntegrityError as row_exc:
                        failed_rows.append((item, f"cannot save the track: {row_exc}"))
                        continue
                    saved.append((item, track))
            for touch in touched:
                candidate = touch.change.candidate
                assert touch.change.known is not None
                Track.objects.filter(pk=touch.change.known.track_id).update(
                    source_size=candidate.size, source_mtime_ns=candidate.mtime_ns, is_missing=False
                )
    except DatabaseError as exc:  # the commit itself failed: nothing of this batch is in the database
        logger.exception("scan: a batch of %d files could not be saved", len(stored) + len(touched))
        cache.clear()
        for item in stored:
            _undo(item)
            report.count(Outcome.FAILED, path=item.read.change.candidate.relative, reason=f"database error: {exc}")
        for touch in touched:
            report.count(Outcome.FAILED, path=touch.change.candidate.relative, reason=f"database error: {exc}")
        return result
    for item, reason in failed_rows:
        _undo(item)
        report.count(Outcome.FAILED, path=item.read.change.candidate.relative, reason=reason)
    for item, track in saved:
        report.count(Outcome.ADDED if track.created else Outcome.UPDATED)
        album = track.album
        result.imported.append(
            Imported(
                track_id=track.pk,
                album_id=album.pk,
                album_artist_id=album.album_artist_id,
                album_has_cover=bool(album.cover_path),
                album_cover_source=album.cover_source,
                tags=item.read.tags,
                source_dir=str(item.read.change.candidate.path.parent),
            )
        )
        result.album_ids.add(album.pk)
        if item.read.change.known is not None:
            # An update may have moved the track to another album: the old one needs recounting too.
            result.album_ids.add(item.read.change.known.album_id)
    for touch in touched:
        report.count(Outcome.UNCHANGED)
        assert touch.change.known is not None
        if touch.change.known.is_missing:
            result.album_ids.add(touch.change.known.album_id)
    return result


def _track_file(item: _Stored) -> TrackFile:
    candidate = item.read.change.candidate
    return TrackFile(
        source_id=candidate.relative,
        tags=item.read.tags,
        stored_path=item.relative_path,
        size_bytes=item.size,
        checksum=item.checksum,
        source_mtime_ns=candidate.mtime_ns,
    )


def _undo(item: _Stored) -> None:
    if item.created_file:
        track_delete_file(stored_path=item.relative_path)
