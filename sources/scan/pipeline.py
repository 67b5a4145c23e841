"""The phases chained: walk -> diff -> read -> store -> albums, batch by batch, then mark missing.

Only one batch of candidates (`batch_size` files) is in memory at a time; each batch is written in one
transaction, then its albums are refreshed, so the library fills up as the scan goes and a crash loses at most
one batch (which the next scan redoes: it is idempotent).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from library import storage
from library.importing import ResolveCache
from library.models import Track
from library.storage import StoreMode
from sources.scan.albums import refresh_albums, store_covers
from sources.scan.diff import diff_batch
from sources.scan.missing import mark_missing
from sources.scan.read import read_batch
from sources.scan.report import Outcome, ScanReport
from sources.scan.store import store_batch
from sources.scan.walk import Candidate, walk

DEFAULT_BATCH_SIZE = 200
STAGING_THREADS = 4


@dataclass(frozen=True)
class ScanOptions:
    source: str
    root: Path
    mode: StoreMode = "copy"
    batch_size: int = DEFAULT_BATCH_SIZE
    mark_missing: bool = True


ProgressCallback = Callable[[ScanReport], None]


def scan_tree(
    options: ScanOptions,
    *,
    report: ScanReport | None = None,
    on_file: ProgressCallback | None = None,
    on_batch: ProgressCallback | None = None,
) -> ScanReport:
    """Import everything under `options.root` (already resolved and checked) and return the counts."""
    report = report or ScanReport()
    storage.temp_files_sweep(older_than_seconds=3600, folder=storage.STAGING_DIR)  # left by a crashed scan
    cache = ResolveCache()  # artists/albums/genres seen so far; bounded, so memory stays flat
    batch: list[Candidate] = []
    for entry in walk(options.root):
        if isinstance(entry, Candidate):
            report.found += 1
            batch.append(entry)
            if len(batch) >= options.batch_size:
                _process(options, batch, report, on_file, cache)
                batch = []
                if on_batch:
                    on_batch(report)
        else:
            outcome = Outcome.FAILED if entry.failed else Outcome.SKIPPED
            report.count(outcome, path=entry.relative, reason=entry.reason)
    if batch:
        _process(options, batch, report, on_file, cache)
    if options.mark_missing:
        report.removed += mark_missing(source=options.source, root=options.root, on_albums=refresh_albums)
    if on_batch:
        on_batch(report)
    return report


def _process(
    options: ScanOptions,
    batch: list[Candidate],
    report: ScanReport,
    on_file: ProgressCallback | None,
    cache: ResolveCache,
) -> None:
    changes, unchanged, returned = diff_batch(source=options.source, batch=batch)
    album_ids: set[int] = set()
    if returned:
        # Back where it was: the stored copy never went away, so only the flag changes.
        Track.objects.filter(pk__in=returned).update(is_missing=False)
        album_ids.update(Track.objects.filter(pk__in=returned).values_list("album_id", flat=True))
    for _candidate in unchanged:
        report.count(Outcome.UNCHANGED)
        if on_file:
            on_file(report)
    hardlink = options.mode == "hardlink"
    # Copying and hashing release the GIL: new files are staged by threads while this one reads the tags.
    with ThreadPoolExecutor(max_workers=STAGING_THREADS, thread_name_prefix="mcma-stage") as pool:
        prestaged = {
            change.candidate.relative: pool.submit(
                storage.stage_file, change.candidate.path, storage.STAGING_DIR, hardlink=hardlink
            )
            for change in changes
            if change.known is None and change.candidate.size > 0
        }
        results = list(read_batch(changes))
        stored = store_batch(
            source=options.source,
            results=results,
            mode=options.mode,
            report=report,
            cache=cache,
            prestaged=prestaged,
        )
    if on_file:
        for _result in results:
            on_file(report)
    album_ids |= stored.album_ids
    store_covers(imported=stored.imported, root=options.root)
    refresh_albums(album_ids)
