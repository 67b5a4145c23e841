"""Phase 4: put a batch's files under their final names in managed storage, then write its tracks in one
transaction.

Files first, rows second, with group commit: every file of the batch is staged under a temp name by phase 3's
workers, which sync each chunk of copies, move each new file to its deterministic name when that is free and sync
those names (what a worker could not do is done here: one `sync_paths` for the bytes, renames that never overwrite
another file -- the rename fails with EEXIST and the next free name is taken -- and one `sync_paths` for the
names). Only then are the rows written -- new tracks with plain inserts, updates one by one. If rows
cannot be written, the files this batch created are removed again, so no file stays in MEDIA_ROOT without a Track
and no Track points at a missing file. A file left behind by a crash between rename and commit is found on its
deterministic name with the same checksum and no track, and adopted by the next scan instead of duplicated --
unless a worker of this scan placed it there for a later batch.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from django.db import transaction

from library import importing, storage
from library.models import Track
from library.tags import TrackTags
from sources.scan.read import Prepared, Read, Touched, Unreadable, library_names
from sources.scan.report import Outcome, ScanReport

logger = logging.getLogger(__name__)

_NAME_ATTEMPTS = 50


@dataclass(frozen=True)
class Imported:
    track_id: int
    album_id: int
    album_artist_id: int
    album_has_cover: bool
    tags: TrackTags
    source_dir: str  # absolute folder of the source file, for folder covers


@dataclass
class BatchResult:
    imported: list[Imported] = field(default_factory=list)
    album_ids: set[int] = field(default_factory=set)


@dataclass(frozen=True)
class _Stored:
    read: Read
    relative_path: str
    dest: storage.StrPath
    checksum: str
    size: int
    created_file: bool
    synced: bool  # its name is durable already


def store_batch(
    *,
    source: str,
    prepared: Iterable[Prepared],
    report: ScanReport,
    cache: importing.ResolveCache | None = None,
    placed_later: Callable[[], Collection[str]] = frozenset,
) -> BatchResult:
    """`prepared` holds each file's reading and, for files to import, the copy staged while it was read (and
    for most new files already moved to its final name). `placed_later`: the names that the workers preparing
    later batches have taken; asked for (and waited for) only before adopting a file found on a taken name."""
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
    if staged:
        # Bytes first: a final name must only ever hold complete, durable bytes.
        storage.sync_paths(file.location for _read, file in staged if not file.synced and not file.committed)
        # Names this batch took: their rows are not committed yet, so they are no crashed scan's orphans.
        claimed = {file.committed for _read, file in staged if file.committed}
        folders: dict[str, Path] = {}
        for read, staged_file in staged:
            try:
                item = _commit(read, staged_file, claimed=claimed, placed_later=placed_later, folders=folders)
            except (OSError, storage.UnsafePathError) as exc:
                staged_file.discard()
                _copy_failed(report, read.change.candidate.relative, exc)
                continue
            claimed.add(item.relative_path)
            stored.append(item)
        # The renames: a row must never point at a name a crash could still take back.
        storage.sync_paths(item.dest for item in stored if not item.synced)
    return _write_rows(source=source, stored=stored, touched=touched, report=report, cache=cache)


def _copy_failed(report: ScanReport, relative: str, exc: Exception) -> None:
    reason = getattr(exc, "strerror", None) or str(exc)
    report.count(Outcome.FAILED, path=relative, reason=f"cannot copy into the library: {reason}")


def _commit(
    read: Read,
    staged: storage.StagedFile,
    *,
    claimed: set[str],
    placed_later: Callable[[], Collection[str]],
    folders: dict[str, Path],
) -> _Stored:
    def stored(relative: str, dest: storage.StrPath, *, created_file: bool = True, synced: bool = False) -> _Stored:
        return _Stored(read, relative, dest, staged.checksum, staged.size, created_file=created_file, synced=synced)

    if staged.committed:  # moved to its deterministic name by the worker
        return stored(staged.committed, staged.location, synced=staged.synced)
    known = read.change.known
    if known is not None and known.path:
        dest = staged.commit(known.path, replace=True, folders=folders)  # an update keeps the track's stored path
        return stored(known.path, dest, created_file=False)
    for relative in itertools.islice(library_names(read), _NAME_ATTEMPTS):
        try:
            dest = staged.commit(relative, replace=False, folders=folders)
        except FileExistsError:
            if (
                relative not in claimed
                and _is_orphan_copy(relative, staged.checksum)
                and relative not in placed_later()
            ):
                staged.discard()
                return stored(relative, storage.media_path(relative))
            continue  # taken by another track (or another writer just now): try the next name
        return stored(relative, dest)
    raise OSError(f"no free file name for {read.change.candidate.relative!r}")


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
    cache: importing.ResolveCache | None,
) -> BatchResult:
    result = BatchResult()
    saved: list[tuple[_Stored, Outcome, Track | importing.CreatedTrack]] = []
    failed_rows: list[tuple[_Stored, str]] = []
    new = [item for item in stored if item.read.change.known is None]
    one_by_one = [item for item in stored if item.read.change.known is not None]
    try:
        with transaction.atomic():
            try:
                tracks = importing.tracks_create(source=source, items=[_new_track(item) for item in new], cache=cache)
                saved.extend((item, Outcome.ADDED, track) for item, track in zip(new, tracks, strict=True))
            except Exception:  # one bad row or a concurrent insert: retry those rows one at a time
                logger.info("scan: bulk insert of %d tracks failed; saving them one by one", len(new), exc_info=True)
                one_by_one = new + one_by_one
            for item in one_by_one:
                candidate = item.read.change.candidate
                try:
                    upserted, created = importing.track_upsert(
                        source=source,
                        source_id=candidate.relative,
                        tags=item.read.tags,
                        stored_path=item.relative_path,
                        size_bytes=item.size,
                        checksum=item.checksum,
                        source_mtime_ns=candidate.mtime_ns,
                        cache=cache,
                    )
                except Exception as exc:  # a bad row must not sink the other rows of the batch
                    logger.warning("scan: cannot save %s: %s", candidate.relative, exc, exc_info=True)
                    failed_rows.append((item, f"cannot save the track: {exc}"))
                    continue
                saved.append((item, Outcome.ADDED if created else Outcome.UPDATED, upserted))
            for touch in touched:
                candidate = touch.change.candidate
                assert touch.change.known is not None
                Track.objects.filter(pk=touch.change.known.track_id).update(
                    source_size=candidate.size, source_mtime_ns=candidate.mtime_ns, is_missing=False
                )
    except Exception as exc:  # the commit itself failed: nothing of this batch is in the database
        logger.exception("scan: a batch of %d files could not be saved", len(stored) + len(touched))
        if cache is not None:
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
    for item, outcome, track in saved:
        report.count(outcome)
        result.imported.append(
            Imported(
                track_id=track.pk,
                album_id=track.album.pk,
                album_artist_id=track.album.album_artist_id,
                album_has_cover=bool(track.album.cover_path),
                tags=item.read.tags,
                source_dir=str(item.read.change.candidate.path.parent),
            )
        )
        result.album_ids.add(track.album.pk)
        if item.read.change.known is not None:
            # An update may have moved the track to another album: the old one needs recounting too.
            result.album_ids.add(item.read.change.known.album_id)
    for touch in touched:
        report.count(Outcome.UNCHANGED)
        assert touch.change.known is not None
        if touch.change.known.is_missing:
            result.album_ids.add(touch.change.known.album_id)
    return result


def _new_track(item: _Stored) -> importing.NewTrack:
    candidate = item.read.change.candidate
    return importing.NewTrack(
        source_id=candidate.relative,
        tags=item.read.tags,
        stored_path=item.relative_path,
        size_bytes=item.size,
        checksum=item.checksum,
        source_mtime_ns=candidate.mtime_ns,
    )


def _undo(item: _Stored) -> None:
    if item.created_file:
        importing.track_delete_file(stored_path=item.relative_path)
