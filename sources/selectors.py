"""Source reads: what is configured, its health, and scan runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.db.models import QuerySet

from mcma.errors import NotFoundError
from sources.base import Capability, SourceHealth
from sources.models import ScanRun
from sources.registry import all_sources, get_source


@dataclass(frozen=True)
class SourceStatus:
    name: str
    capabilities: tuple[Capability, ...]
    health: SourceHealth


def source_problem_key(source_name: str) -> str:
    """Where the source's last problem seen by a caller (a search that timed out or failed) is kept, in the cache
    every process shares, until the next success or SOURCE_PROBLEM_SECONDS."""
    return f"sources:problem:{source_name}"


def source_problem(*, source_name: str) -> dict[str, Any] | None:
    """{"message", "error", "at"} of the source's last problem, or None."""
    found = cache.get(source_problem_key(source_name))
    return found if isinstance(found, dict) else None


def _status(source_name: str) -> SourceStatus:
    source = get_source(source_name)
    try:
        health = source.health()
    except Exception as exc:  # a backend's broken health check must not break the listing
        health = SourceHealth(available=False, message=f"Health check failed: {exc}")
    problem = source_problem(source_name=source_name)
    if problem is not None:
        # Still available (the next call may well succeed), but the reason the last one gave nothing is shown.
        health = SourceHealth(
            available=health.available,
            message=f"{health.message}; last problem: {problem['message']}",
            details={**health.details, "last_problem": problem},
        )
    return SourceStatus(name=source.name, capabilities=tuple(sorted(source.capabilities)), health=health)


def source_list() -> list[SourceStatus]:
    return [_status(source.name) for source in all_sources()]


def source_status(*, source_name: str) -> SourceStatus:
    """Raises UnknownSourceError (a NotFoundError listing the known names)."""
    return _status(source_name)


def scan_list(*, source_name: str) -> QuerySet[ScanRun]:
    get_source(source_name)
    return ScanRun.objects.filter(source=source_name).select_related("requested_by").order_by("-created_at")


def scan_get(*, source_name: str, scan_id: int) -> ScanRun:
    get_source(source_name)
    scan = ScanRun.objects.filter(source=source_name, pk=scan_id).select_related("requested_by").first()
    if scan is None:
        raise NotFoundError(f"No scan {scan_id} of source {source_name!r}.", details={"scan_id": scan_id})
    return scan


def scans_recent(*, limit: int) -> list[ScanRun]:
    """The latest scans of every source, newest first."""
    return list(ScanRun.objects.select_related("requested_by").order_by("-created_at")[:limit])
