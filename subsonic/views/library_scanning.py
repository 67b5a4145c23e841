"""getScanStatus and startScan, backed by the sources app's scan runs (the local folder import). Songs being
downloaded into the library also count as "scanning": players refresh their caches when the flag drops."""

from __future__ import annotations

import contextlib

from downloads.selectors import download_jobs_active_count
from library.selectors import tracks_count
from sources.errors import ScanAlreadyRunningError
from sources.models import ACTIVE_SCAN_STATES, ScanRun
from sources.selectors import scan_list
from sources.services import scan_enqueue
from subsonic.call import Call, music_folders
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
    """Admins only. Asking while a scan runs is not an error: the answer shows the scan in progress."""
    user = call.require_admin()
    with contextlib.suppress(ScanAlreadyRunningError):
        scan_enqueue(source_name=SCANNED_SOURCE, requested_by=user)
    return _status(call)
