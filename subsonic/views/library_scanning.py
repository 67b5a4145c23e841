"""getScanStatus and startScan, backed by the sources app's scan runs (the local folder import). Songs being
downloaded into the library also count as "scanning": players refresh their caches when the flag drops."""

from __future__ import annotations

from downloads.selectors import download_jobs_active_count
from library.selectors import tracks_count
from sources.errors import ScanAlreadyRunningError
from sources.models import ACTIVE_SCAN_STATES, ScanRun, ScanState
from sources.selectors import scan_list
from sources.services import scan_enqueue
from subsonic.call import Call, music_folders
from subsonic.errors import ErrorCode, SubsonicError
from subsonic.responses import Node

SCANNED_SOURCE = "local"


def _latest_scan() -> ScanRun | None:
    if SCANNED_SOURCE not in music_folders().values():
        return None
    return scan_list(source_name=SCANNED_SOURCE).first()


def _status(call: Call) -> Node:
    scan = _latest_scan()
    scan_running = scan is not None and scan.state in ACTIVE_SCAN_STATES
    node = Node("scanStatus", {"scanning": scan_running or download_jobs_active_count() > 0})
    node.set("count", scan.found if scan is not None and scan_running else tracks_count())
    if call.full and scan is not None:
        node.set("lastScan", scan.finished_at or scan.started_at)
        node.set("folderCount", len(music_folders()))
    return node


def get_scan_status(call: Call) -> Node:
    return _status(call)


def start_scan(call: Call) -> Node:
    """Admins only. Asking while a scan runs is not an error: the answer shows the scan in progress. A scan the
    broker could not take yet stays queued (scanning=true); one that failed at once says why."""
    user = call.require_admin()
    try:
        scan = scan_enqueue(source_name=SCANNED_SOURCE, requested_by=user)
    except ScanAlreadyRunningError:
        return _status(call)
    scan.refresh_from_db()
    if scan.state == ScanState.FAILED:
        raise SubsonicError(ErrorCode.GENERIC, f"The scan failed: {scan.message}")
    return _status(call)
