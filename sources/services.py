"""Source writes: enqueueing and running scans.

Two scans of one source never run at once: the `one_active_scan_per_source` constraint allows a single queued or
running ScanRun per source, so a second request fails in the database, not in a racy check.

Like download jobs, the row is the source of truth and the broker only a doorbell: a scan the broker did not take
stays queued and `scans_sweep` (beat) sends it again; a running scan writes `heartbeat_at` every few seconds from
a thread of its own, and one silent for `SCAN_STALE_AFTER_SECONDS` lost its worker, so the sweep (or the next
request) marks it failed and the source is free again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from celery import current_app
from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from kombu.exceptions import OperationalError as KombuOperationalError

from accounts.models import User
from library import storage
from library.enrichment.services import enrichment_enqueue
from library.storage import StoreMode
from mcma.errors import NotFoundError
from sources.base import Capability, FolderImportable
from sources.errors import CapabilityMissingError, ScanAbandonedError, ScanAlreadyRunningError, SourceUnavailableError
from sources.folders import storage_overlap
from sources.models import ACTIVE_SCAN_STATES, ScanRun, ScanState
from sources.registry import get_source
from sources.scan.pipeline import ProgressCallback, ScanOptions, scan_tree
from sources.scan.report import ScanReport
from sources.selectors import source_problem_key

logger = logging.getLogger(__name__)

_LOST_MESSAGE = "The worker running this scan stopped."
SCAN_RUN_TASK = "sources.scan_run"


@dataclass(frozen=True)
class ScanSweepReport:
    abandoned: int = 0
    resent: int = 0


def source_problem_record(*, source_name: str, error: str, message: str) -> None:
    """Remember why the source just failed a caller (`error`: the error's code or class, `message`: what happened,
    ending in the time), for its health to say; kept for SOURCE_PROBLEM_SECONDS or until `source_problem_clear`."""
    problem = {"error": error, "message": message, "at": timezone.now().isoformat().replace("+00:00", "Z")}
    cache.set(source_problem_key(source_name), problem, settings.SOURCE_PROBLEM_SECONDS)


def source_problem_clear(*, source_name: str) -> None:
    cache.delete(source_problem_key(source_name))


def _importable(source_name: str) -> tuple[FolderImportable, Path]:
    source = get_source(source_name)
    if Capability.IMPORT not in source.capabilities or not isinstance(source, FolderImportable):
        raise CapabilityMissingError(
            f"The source {source_name!r} cannot import a folder.", details={"source": source_name}
        )
    return source, source.import_root()


def _store_mode(source: object) -> StoreMode:
    return source.import_mode() if isinstance(source, FolderImportable) else "copy"


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
    _abandon_stale_scans(source=source_name)
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


def _send(scan_id: int) -> bool:
    """Hand the scan to a worker; False if the broker did not take it (the scan stays queued for the sweep)."""
    try:
        # Looked up by name: the task module imports this one, so this one never imports it.
        current_app.tasks[SCAN_RUN_TASK].delay(scan_id)
    except (KombuOperationalError, OSError) as exc:
        logger.warning("broker unavailable, scan %s stays queued for the sweep: %s", scan_id, exc)
        return False
    ScanRun.objects.filter(pk=scan_id, state=ScanState.QUEUED).update(enqueued_at=timezone.now())
    return True


def _abandon_stale_scans(**filters: str) -> int:
    cutoff = timezone.now() - timedelta(seconds=settings.SCAN_STALE_AFTER_SECONDS)
    return (
        ScanRun.objects.filter(state=ScanState.RUNNING, **filters)
        .filter(Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff))
        .update(state=ScanState.FAILED, message=_LOST_MESSAGE, finished_at=timezone.now())
    )


def scans_sweep() -> ScanSweepReport:
    """Periodic (beat): fail running scans whose heartbeat stopped, send queued scans the broker never took (or
    lost: a Redis restart drops its queue). A second message for one scan is harmless: only one run claims it."""
    abandoned = _abandon_stale_scans()
    resend_before = timezone.now() - timedelta(seconds=settings.SCAN_REENQUEUE_AFTER_SECONDS)
    due = ScanRun.objects.filter(state=ScanState.QUEUED).filter(
        Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=resend_before)
    )
    resent = 0
    for scan_id in due.order_by("created_at").values_list("pk", flat=True):
        if not _send(scan_id):
            break  # the broker is still down: the next sweep tries again
        resent += 1
    return ScanSweepReport(abandoned=abandoned, resent=resent)


def scan_run(*, scan_id: int, on_file: ProgressCallback | None = None) -> ScanRun:
    """Run a queued scan (the worker's side). A scan already running elsewhere or finished is left alone
    (a duplicate or late delivery); one abandoned by a dead worker was marked failed by the sweep."""
    now = timezone.now()
    claimed = ScanRun.objects.filter(pk=scan_id, state=ScanState.QUEUED).update(
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

    def progress(progress: ScanReport) -> None:
        _save_progress(scan, progress)

    try:
        _staging_debris_remove(scan)
        with _heartbeat(scan.pk):
            scan_tree(options, report=report, on_file=on_file, on_batch=progress)
    except ScanAbandonedError as exc:  # the sweep gave the source to another scan: leave its row alone
        logger.warning("scan %s of %s stopped: %s", scan.pk, scan.source, exc.message)
        scan.refresh_from_db()
        return scan
    except Exception as exc:  # the scan as a whole failed (e.g. database gone); per-file errors never get here
        logger.exception("scan %s of %s failed", scan.pk, scan.source)
        return _finish(scan, report, state=ScanState.FAILED, message=f"The scan stopped: {exc}")
    except BaseException:  # Ctrl-C in import_folder, worker shutdown: free the source for the next scan
        _finish(scan, report, state=ScanState.FAILED, message="The scan was interrupted.")
        raise
    finished = _finish(scan, report, state=ScanState.SUCCEEDED, message=_summary(report))
    if report.added or report.updated:
        enrichment_enqueue()
    return finished


def _apply_report(scan: ScanRun, report: ScanReport) -> list[str]:
    counts = report.counts()
    for name, value in counts.items():
        setattr(scan, name, value)
    scan.errors = list(report.errors)
    return [*counts, "errors"]


def _staging_debris_remove(scan: ScanRun) -> None:
    """Staging holds only the copies of running scans. With no other scan running, whatever is there is debris
    of dead ones and goes; otherwise only files older than an hour, which no live scan keeps that long."""
    others_running = ScanRun.objects.filter(state=ScanState.RUNNING).exclude(pk=scan.pk).exists()
    removed = storage.temp_files_sweep(older_than_seconds=3600 if others_running else 0, folder=storage.STAGING_DIR)
    if removed:
        logger.info("scan %s removed %d staging files left by stopped scans", scan.pk, removed)


@contextmanager
def _heartbeat(scan_id: int) -> Iterator[None]:
    """Bump the scan's heartbeat every SCAN_HEARTBEAT_SECONDS from a thread, so that a long phase (one huge
    file, the missing-file pass) never looks like a dead worker; only a dead process stops it."""
    stop = threading.Event()

    def beat() -> None:
        try:
            while not stop.wait(settings.SCAN_HEARTBEAT_SECONDS):
                try:
                    ScanRun.objects.filter(pk=scan_id, state=ScanState.RUNNING).update(heartbeat_at=timezone.now())
                except DatabaseError as exc:  # busy or briefly gone: the next beat (or batch) tries again
                    logger.warning("scan %s: heartbeat not written: %s", scan_id, exc)
        finally:
            connection.close()  # this thread's own connection

    thread = threading.Thread(target=beat, name=f"mcma-scan-{scan_id}-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _save_progress(scan: ScanRun, report: ScanReport) -> None:
    changed = _apply_report(scan, report)
    scan.heartbeat_at = timezone.now()
    if not _update_if_running(scan, [*changed, "heartbeat_at"]):
        raise ScanAbandonedError(f"Scan {scan.pk} was given up as lost (no heartbeat) while it still ran.")


def _update_if_running(scan: ScanRun, fields: list[str]) -> bool:
    """Write these fields of the scan's row unless the sweep gave the scan up (a newer one may own the source)."""
    values = {name: getattr(scan, name) for name in fields}
    return bool(ScanRun.objects.filter(pk=scan.pk, state=ScanState.RUNNING).update(**values))


def _finish(scan: ScanRun, report: ScanReport, *, state: ScanState, message: str) -> ScanRun:
    changed = _apply_report(scan, report)
    if report.errors_dropped:
        scan.errors.append({"path": "", "error": f"{report.errors_dropped} more problems not listed", "kind": "note"})
    scan.state = state
    scan.message = message
    scan.finished_at = timezone.now()
    if not _update_if_running(scan, [*changed, "state", "message", "finished_at"]):
        logger.warning("scan %s finished after it was given up as lost; its outcome is not recorded", scan.pk)
        scan.refresh_from_db()
    return scan


def _summary(report: ScanReport) -> str:
    summary = (
        f"{report.found} audio files found: {report.added} added, {report.updated} updated, "
        f"{report.unchanged} unchanged, {report.failed} failed; {report.skipped} other files skipped; "
        f"{report.removed} tracks marked missing."
    )
    if report.rows_retried:
        summary += f" {report.rows_retried} tracks were saved one by one after a database conflict."
    return summary
