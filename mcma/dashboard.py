"""What the admin index shows: library figures, recent scans, downloads, source and transcoder health and recent
additions.

Every figure comes from a selector of the app that owns it; the library's totals are cached briefly there, so the
page costs a few small queries however large the library is.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from accounts.models import User
from downloads.selectors import download_jobs_state_counts, download_jobs_visible
from downloads.services import source_paused_until
from library.enrichment.selectors import enrichment_services_paused, enrichment_status_counts
from library.selectors import albums_recent, library_figures
from library.transcoding import transcoding_status
from sources.selectors import scans_recent, source_list

RECENT_SCANS = 5
RECENT_ALBUMS = 8
RUNNING_JOBS = 5


def context(request: HttpRequest) -> dict[str, Any]:
    user = request.user
    if not isinstance(user, User):
        return {}
    shown: dict[str, Any] = {
        "figures": library_figures(),
        "job_counts": download_jobs_state_counts(user=user),
        "running_jobs": list(download_jobs_visible(user=user, state="running")[:RUNNING_JOBS]),
        "recent_albums": albums_recent(limit=RECENT_ALBUMS),
        "enrichment": enrichment_status_counts(),
    }
    if user.is_admin:
        # Scans and source health name folders and settings of the server: the operator's business.
        shown["scans"] = scans_recent(limit=RECENT_SCANS)
        shown["sources"] = [
            {"status": status, "paused_until": source_paused_until(source=status.name)} for status in source_list()
        ]
        shown["transcoding"] = transcoding_status()
        shown["enrichment_paused"] = enrichment_services_paused()
    return shown
