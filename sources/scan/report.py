"""What a scan counts and the per-file problems it reports, capped so one broken folder cannot bloat a row."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum

MAX_REPORTED_ERRORS = 200


class Outcome(StrEnum):
    ADDED = "added"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    SKIPPED = "skipped"  # deliberately not imported: not audio, hidden, escaping the root, bad name
    FAILED = "failed"  # meant to be imported but could not be: empty, truncated, unreadable, I/O error


@dataclass
class ScanReport:
    found: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    skipped: int = 0
    failed: int = 0
    # Rows of batches whose bulk write hit a conflict (IntegrityError) and were saved one by one instead.
    rows_retried: int = 0
    errors: list[dict[str, str]] = field(default_factory=list)
    errors_dropped: int = 0

    def count(self, outcome: Outcome, *, path: str = "", reason: str = "") -> None:
        setattr(self, outcome.value, getattr(self, outcome.value) + 1)
        if reason:
            self.problem(path=path, reason=reason, kind=outcome.value)

    def problem(self, *, path: str, reason: str, kind: str) -> None:
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append({"path": path, "error": reason, "kind": kind})
        else:
            self.errors_dropped += 1

    @property
    def processed(self) -> int:
        return self.added + self.updated + self.unchanged + self.failed

    def counts(self) -> dict[str, int]:
        data = asdict(self)
        data.pop("errors")
        data.pop("errors_dropped")
        return data
