"""Source writes: enqueueing and running scans.

Two scans of one source never run at once: the `one_active_scan_per_source` constraint allows a single queued or
running ScanRun per source, so a second request fails in the database, not in a racy check.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from library.storage import StoreMode
from mcma.errors import NotFoundError
from sources.backends.local import LocalSource, storage_overlap
from sources.base import Capability, FolderImportable
from sources.errors import CapabilityMissingError, ScanAlreadyRunningError, SourceUnavailableError
from sources.models import ACTIVE_SCAN_STATES, ScanRun, ScanState
from sources.registry import get_source
from sources.scan.pipeline import ProgressCallback, ScanOptions, scan_tree
from sources.scan.report import ScanReport

logger = logging.getLogger(__name__)

# A running scan whose heartbeat is older than this lost its worker; a new scan may then replace it.
SCAN_STALE_AFTER = timedelta(minutes=30)


def _importable(source_name: str) -> tuple[FolderImportable, Path]:
    source = get_source(source_name)
    if Capability.IMPORT not in source.capabilities or not isinstance(source, FolderImportable):
        raise CapabilityMissingError(
            f"The source {source_name!r} cannot import a folder.", details={"source": source_name}
        )
    return source, source.import_root()


def _store_mode(source: object) -> StoreMode:
    return "hardlink" if isinstance(source, LocalSource) and source.hardlink else "copy"


def scan_enqueue(*, source_name: str = "local", requested_by: User | None = None) -> ScanRun:
    """Queue a scan of the source's folder and send it to a worker once the row is committed.

    Raises UnknownSourceError, CapabilityMissingError, SourceUnavailableError (root missing or unreadable) or
    ScanAlreadyRunningError (with the active scan's id in `details`).
    """
    _source, root = _importable(source_name)
    scan = _scan_create(source_name=source_name, root=root, requested_by=requested_by)
    transaction.on_commit(lambda: _send(scan.pk))
    return scan


def _scan_create(*, source_name: str, root: Path, requested_by: User | None, running: bool = False) -> ScanRun:
    """A new ScanRun, unless the source already has an active one (the database constraint decides)."""
    _abandon_stale_scans(source_name=source_name)
    now = timezone.now()
    running_fields = {"state": ScanState.RUNNING, "started_at": now, "heartbeat_at": now} if running else {}
    try:
        with transaction.atomic():
            return ScanRun.objects.create(
                source=source_name, root=str(root), requested_by=requested_by, **running_fields
            )
    except IntegrityError as exc:
        active = ScanRun.objects.filter(source=source_name, state__in=ACTIVE_SCAN_STATES).first()
        raise ScanAlreadyRunningError(
            f"A scan of {source_name!r} is already {active.state if active else 'active'}.",
            details={"scan_id": active.pk if active else None},
        ) from exc


def _send(scan_id: int) -> None:
    from sources.tasks import scan_run_task

    try:
        scan_run_task.delay(scan_id)
    except Exception as exc:  # broker unreachable: say so on the scan instead of leaving it queued forever
        logger.exception("could not enqueue scan %s", scan_id)
        ScanRun.objects.filter(pk=scan_id, state=ScanState.QUEUED).update(
            state=ScanState.FAILED,
            message=f"Could not reach the task queue: {exc}",
            finished_at=timezone.now(),
        )


def _abandon_stale_scans(*, source_name: str) -> None:
    cutoff = timezone.now() - SCAN_STALE_AFTER
    ScanRun.objects.filter(source=source_name, state=ScanState.RUNNING).filter(
        Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff)
    ).update(state=ScanState.FAILED, message="The worker running this scan stopped.", finished_at=timezone.now())


def scan_run(*, scan_id: int, on_file: ProgressCallback | None = None) -> ScanRun:
    """Run a queued scan (the worker's side). A scan already finished is left alone (duplicate delivery)."""
    now = timezone.now()
    claimed = ScanRun.objects.filter(pk=scan_id, state__in=ACTIVE_SCAN_STATES).update(
        state=ScanState.RUNNING, started_at=now, heartbeat_at=now
    )
    scan = ScanRun.objects.filter(pk=scan_id).first()
    if scan is None:
        raise NotFoundError(f"Scan {scan_id} does not exist.", details={"scan_id": scan_id})
    if not claimed:
        return scan
    try:
        source, root = _importable(scan.source)
        options = ScanOptions(source=scan.source, root=root, mode=_store_mode(source))
    except (SourceUnavailableError, CapabilityMissingError) as exc:
        return _finish(scan, ScanReport(), state=ScanState.FAILED, message=exc.message)
    return _execute(scan, options, on_file=on_file)


def scan_import_folder(
    *,
    root: Path,
    source_name: str = "local",
    mark_missing: bool | None = None,
    requested_by: User | None = None,
    on_file: ProgressCallback | None = None,
) -> ScanRun:
    """Import `root` synchronously (manage.py import_folder), as one ScanRun of `source_name`.

    Tracks are keyed by their path within `root`. Vanished files are marked missing only when `root` is the
    source's configured folder (or `mark_missing=True`): importing some other folder says nothing about them.
    """
    resolved = _checked_folder(root)
    source = get_source(source_name)
    configured = _configured_root(source)
    if mark_missing is None:
        mark_missing = configured is not None and configured == resolved
    scan = _scan_create(source_name=source_name, root=resolved, requested_by=requested_by, running=True)
    options = ScanOptions(
        source=source_name,
        root=resolved,
        mode=_store_mode(source),
        mark_missing=mark_missing,
    )
    return _execute(scan, options, on_file=on_file)


def _checked_folder(root: Path) -> Path:
    path = Path(root).expanduser()
    if not path.is_dir():
        raise SourceUnavailableError(f"{path} is not a folder.", details={"root": str(path)})
    overlap = storage_overlap(path)
    if overlap:
        raise SourceUnavailableError(overlap, details={"root": str(path)})
    return path.resolve()


def _configured_root(source: object) -> Path | None:
    if isinstance(source, FolderImportable):
        try:
            return source.import_root()
        except SourceUnavailableError:
            return None
    return None


def _execute(scan: ScanRun, options: ScanOptions, *, on_file: ProgressCallback | None) -> ScanRun:
    report = ScanReport()

    def heartbeat(progress: ScanReport) -> None:
        _save_progress(scan, progress)

    try:
        scan_tree(options, report=report, on_file=on_file, on_batch=heartbeat)
    except Exception as exc:  # the scan as a whole failed (e.g. database gone); per-file errors never get here
        logger.exception("scan %s of %s failed", scan.pk, scan.source)
        return _finish(scan, report, state=ScanState.FAILED, message=f"The scan stopped: {exc}")
    except BaseException:  # Ctrl-C in import_folder, worker shutdown: free the source for the next scan
        _finish(scan, report, state=ScanState.FAILED, message="The scan was interrupted.")
        raise
    return _finish(scan, report, state=ScanState.SUCCEEDED, message=_summary(report))


def _apply_report(scan: ScanRun, report: ScanReport) -> list[str]:
    counts = report.counts()
    for name, value in counts.items():
        setattr(scan, name, value)
    scan.errors = list(report.errors)
    return [*counts, "errors"]


def _save_progress(scan: ScanRun, report: ScanReport) -> None:
    changed = _apply_report(scan, report)
    scan.heartbeat_at = timezone.now()
    scan.save(update_fields=[*changed, "heartbeat_at"])


def _finish(scan: ScanRun, report: ScanReport, *, state: ScanState, message: str) -> ScanRun:
    _apply_report(scan, report)
    if report.errors_dropped:
        scan.errors.append({"path": "", "error": f"{report.errors_dropped} more problems not listed", "kind": "note"})
    scan.state = state
    scan.message = message
    scan.finished_at = timezone.now()
    scan.save()
    return scan


def _summary(report: ScanReport) -> str:
    return (
        f"{report.found} audio files found: {report.added} added, {report.updated} updated, "
        f"{report.unchanged} unchanged, {report.failed} failed; {report.skipped} other files skipped; "
        f"{report.removed} tracks marked missing."
    )
