"""The phases chained: walk -> diff -> read -> store -> albums, batch by batch, then mark missing.

The batch being written is in memory (`batch_size` files), plus the readings of the `READ_AHEAD_BATCHES` next
ones; each batch is written in one transaction, then its albums are refreshed, so the library fills up as the
scan goes and a crash loses at most the batches in flight (which the next scan redoes: it is idempotent).

Reading tags and copying files (phase 3) is CPU and I/O work that does not need the database, so it runs in
worker processes ahead of this process, which writes the rows (phases 4-5): on a multi-core machine the two
halves overlap instead of taking turns under one GIL.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from django.db import DatabaseError

from library import lyrics
from library.ingest.identity import ResolveCache
from library.ingest.refresh import albums_refresh
from library.models import Track
from library.storage import StoreMode
from sources.scan.albums import store_artist_images, store_covers
from sources.scan.diff import Change, diff_batch
from sources.scan.missing import mark_missing
from sources.scan.read import Prepared, cover_trimmer, files_prepare, files_prepare_detached
from sources.scan.report import Outcome, ScanReport
from sources.scan.store import store_batch
from sources.scan.walk import Candidate, walk

logger = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 200
PREPARE_PROCESSES = 2
# Files per worker task: with the default batch, one chunk per worker. Each chunk pays its own task overhead
# (pickling, queueing) and one grouped sync of its copies, so chunks stay large.
CHUNK_FILES = 100
# Batches handed to the workers beyond the one being written. With one, a worker whose chunk was done sat idle
# until the other worker's chunk, and then that batch's rows, were done too; with two, the next batch's chunks
# are already queued.
READ_AHEAD_BATCHES = 2
# How often a worker process checks that the process that started it is still alive.
PARENT_CHECK_SECONDS = 1.0
STAGING_THREADS = 4


@dataclass(frozen=True)
class ScanOptions:
    source: str
    root: Path
    mode: StoreMode = "copy"
    batch_size: int = DEFAULT_BATCH_SIZE
    mark_missing: bool = True


ProgressCallback = Callable[[ScanReport], None]


@dataclass
class _Chunk:
    """A few files of a batch, prepared by one worker in one task: per-task costs (pickling, queueing, the
    sync of the staged copies) are paid once per chunk rather than once per file."""

    changes: list[Change]
    future: Future[list[Prepared]]
    prepared: list[Prepared] | None = None  # its result, once collected (files are only prepared once)


@dataclass
class _Pending:
    """A diffed batch whose files are being read and staged."""

    changes: list[Change]
    unchanged: list[Candidate]
    returned: list[int]
    chunks: list[_Chunk]

    def candidates(self) -> Iterator[Candidate]:
        yield from (change.candidate for change in self.changes)
        yield from self.unchanged


class _Preparer:
    """Runs `files_prepare` in forked worker processes when that is safe, else in a thread pool (copying and
    hashing release the GIL there, tag reading does not)."""

    def __init__(self, *, hardlink: bool) -> None:
        self._prepare = partial(files_prepare, hardlink=hardlink)
        self._prepare_detached = partial(files_prepare_detached, hardlink=hardlink)
        self._pool: Executor = _process_pool() or ThreadPoolExecutor(
            max_workers=STAGING_THREADS, thread_name_prefix="mcma-stage"
        )

    def submit(self, changes: list[Change]) -> _Chunk:
        if isinstance(self._pool, ProcessPoolExecutor):
            try:
                return _Chunk(changes, self._pool.submit(self._prepare_detached, changes))
            except Exception as exc:  # workers could not start (e.g. inside a daemonic process) or died
                self._fall_back(exc)
        return _Chunk(changes, self._pool.submit(self._prepare_detached, changes))

    def result(self, chunk: _Chunk) -> list[Prepared]:
        if chunk.prepared is None:
            try:
                detached = chunk.future.result()
                chunk.prepared = [ready.attached(change) for ready, change in zip(detached, chunk.changes, strict=True)]
            except BrokenProcessPool as exc:  # a worker was killed (out of memory, signal): redo its files here
                self._fall_back(exc)
                chunk.prepared = self._prepare(chunk.changes)
        return chunk.prepared

    def _fall_back(self, exc: Exception) -> None:
        if isinstance(self._pool, ProcessPoolExecutor):
            logger.warning("scan: worker processes unavailable (%s); reading files in threads instead", exc)
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = ThreadPoolExecutor(max_workers=STAGING_THREADS, thread_name_prefix="mcma-stage")

    def close(self, *, cancel: bool) -> None:
        self._pool.shutdown(wait=True, cancel_futures=cancel)


def _process_pool() -> ProcessPoolExecutor | None:
    """Forked workers inherit the settings and code as they are (no re-import, no setup); forking is only
    safe from a process's main thread, and only pays with a second core. A daemonic process (a Celery prefork
    child) may not have children: its first `submit` fails and the scan reads in threads instead."""
    if (os.cpu_count() or 1) < 2 or not sys.platform.startswith("linux"):  # macOS: fork breaks system libraries
        return None
    if threading.current_thread() is not threading.main_thread():
        return None
    try:
        return ProcessPoolExecutor(
            max_workers=PREPARE_PROCESSES,
            mp_context=multiprocessing.get_context("fork"),
            initializer=_watch_parent,
            initargs=(os.getpid(),),
        )
    except (OSError, ValueError):
        return None


def _watch_parent(parent_pid: int) -> None:
    """End this worker soon after the process that forked it dies (a SIGKILLed parent would otherwise leave it
    blocked on its task queue forever): a daemon thread compares the parent's pid, portably."""

    def watch() -> None:
        while not _never.wait(PARENT_CHECK_SECONDS):
            if os.getppid() != parent_pid:
                os._exit(1)

    threading.Thread(target=watch, name="mcma-parent-watch", daemon=True).start()


_never = threading.Event()  # never set: its timed wait is the watcher's sleep


def scan_tree(
    options: ScanOptions,
    *,
    report: ScanReport | None = None,
    on_file: ProgressCallback | None = None,
    on_batch: ProgressCallback | None = None,
) -> ScanReport:
    """Import everything under `options.root` (already resolved and checked) and return the counts."""
    report = report or ScanReport()
    cache = ResolveCache()  # artists/albums/genres seen so far; bounded, so memory stays flat
    preparer = _Preparer(hardlink=options.mode == "hardlink")
    in_flight: list[_Pending] = []  # this batch, being written, and the next ones, being read

    def advance(batch: list[Candidate], *, last: bool) -> None:
        if batch:
            in_flight.append(_start(options, batch, preparer))
        while in_flight and (last or len(in_flight) > READ_AHEAD_BATCHES):
            _finish(options, in_flight[0], preparer, report, on_file, cache)
            in_flight.pop(0)
            if on_batch and not last:
                on_batch(report)

    try:
        batch: list[Candidate] = []
        for entry in walk(options.root):
            if isinstance(entry, Candidate):
                report.found += 1
                batch.append(entry)
                if len(batch) >= options.batch_size:
                    advance(batch, last=False)
                    batch = []
            else:
                outcome = Outcome.FAILED if entry.failed else Outcome.SKIPPED
                report.count(outcome, path=entry.relative, reason=entry.reason)
        advance(batch, last=True)
    except BaseException:
        preparer.close(cancel=True)
        for position, pending in enumerate(in_flight):
            _discard(pending, rows_possible=position == 0)
        raise
    preparer.close(cancel=False)
    if options.mark_missing:
        report.removed += mark_missing(source=options.source, root=options.root, on_albums=albums_refresh)
    if on_batch:
        on_batch(report)
    return report


def _start(options: ScanOptions, batch: list[Candidate], preparer: _Preparer) -> _Pending:
    changes, unchanged, returned = diff_batch(source=options.source, batch=batch)
    size = max(1, min(CHUNK_FILES, -(-len(changes) // PREPARE_PROCESSES)))  # small batches: every worker gets some
    chunks = [preparer.submit(changes[start : start + size]) for start in range(0, len(changes), size)]
    return _Pending(changes, unchanged, returned, chunks)


def _prepared(pending: _Pending, preparer: _Preparer) -> Iterator[Prepared]:
    trim = cover_trimmer()
    for chunk in pending.chunks:
        for prepared in preparer.result(chunk):
            yield trim(prepared)


def _discard(pending: _Pending, *, rows_possible: bool) -> None:
    """Copies of a batch that will not be stored (the scan stopped), staged or already under their final
    names (the batch being stored): none is left behind without a row. `rows_possible`: the batch was being
    stored, so some of its files may have their rows already; those stay."""
    files = []
    for chunk in pending.chunks:
        future, results = chunk.future, chunk.prepared
        if results is None and future.done() and not future.cancelled() and future.exception() is None:
            results = future.result()  # detached: only their files matter here
        files += [prepared.staged for prepared in results or () if prepared.staged is not None]
    keep: set[str] = set()
    if rows_possible:
        placed = [file.placed_as for file in files if file.placed_as]
        try:
            keep = set(Track.objects.filter(path__in=placed).values_list("path", flat=True))
        except DatabaseError:
            keep = set(placed)  # cannot tell: the next scan adopts those that have no row
    for file in files:
        if not file.placed_as or file.placed_as not in keep:
            file.discard()


def _finish(
    options: ScanOptions,
    pending: _Pending,
    preparer: _Preparer,
    report: ScanReport,
    on_file: ProgressCallback | None,
    cache: ResolveCache,
) -> None:
    album_ids: set[int] = set()
    if pending.returned:
        # Back where it was: the stored copy never went away, so only the flag changes.
        Track.objects.filter(pk__in=pending.returned).update(is_missing=False)
        album_ids.update(Track.objects.filter(pk__in=pending.returned).values_list("album_id", flat=True))
    for _candidate in pending.unchanged:
        report.count(Outcome.UNCHANGED)
        if on_file:
            on_file(report)
    stored = store_batch(
        source=options.source,
        prepared=_prepared(pending, preparer),
        report=report,
        cache=cache,
    )
    if on_file:
        for _change in pending.changes:
            on_file(report)
    album_ids |= stored.album_ids
    # After the rows: a new track's sidecar needs its row; an unchanged track's sidecar may have changed alone.
    lyrics.sidecars_sync(
        source=options.source,
        found=[(candidate.relative, candidate.sidecars) for candidate in pending.candidates()],
    )
    store_covers(imported=stored.imported, root=options.root)
    store_artist_images(imported=stored.imported, root=options.root)
    albums_refresh(album_ids)
