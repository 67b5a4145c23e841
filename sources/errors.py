"""Errors raised by source backends, the registry and the scanner."""

from __future__ import annotations

from mcma.errors import ApplicationError, ConflictError, NotFoundError


class UnknownSourceError(NotFoundError):
    """No source is configured under that name; `details["known"]` lists the names that are."""

    code = "unknown_source"


class SourceUnavailableError(ConflictError):
    """The source exists but cannot work right now (disabled, root missing, no credentials...)."""

    code = "source_unavailable"


class CapabilityMissingError(ApplicationError):
    """The source cannot do what was asked (e.g. scan a search-only source)."""

    code = "capability_missing"


class ScanAlreadyRunningError(ConflictError):
    code = "scan_already_running"


class ScanAbandonedError(ConflictError):
    """A running scan found its row given up as lost (its heartbeat went stale): it must stop, not write."""

    code = "scan_abandoned"
