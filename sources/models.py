"""Import runs of a source (a scan of the local folder)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class ScanState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


ACTIVE_SCAN_STATES = (ScanState.QUEUED, ScanState.RUNNING)


class ScanRun(models.Model):
    source = models.CharField(max_length=32)
    root = models.CharField(max_length=4096, help_text="The folder scanned.")
    state = models.CharField(max_length=16, choices=ScanState.choices, default=ScanState.QUEUED, db_index=True)
    requested_by = models.ForeignKey(
        "accounts.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="scan_runs"
    )
    found = models.PositiveIntegerField(default=0)
    added = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    removed = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    rows_retried = models.PositiveIntegerField(
        default=0, help_text="Tracks saved one by one because their batch's bulk write hit a conflict."
    )
    # [{"path": "...", "error": "..."}], capped so one broken folder cannot bloat the row.
    errors = models.JSONField(default=list, blank=True)
    message = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # When the broker last took the scan's message; a queued scan never sent (broker down) or sent long ago
    # (its message lost) is sent again by the sweep.
    enqueued_at = models.DateTimeField(null=True, blank=True)
    # Bumped every few seconds while the scan runs: one whose heartbeat stopped lost its worker (scans_sweep).
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at",)
        constraints = [
            # Two scans of one source never run at once: at most one queued-or-running row per source.
            models.UniqueConstraint(
                fields=["source"], condition=Q(state__in=["queued", "running"]), name="one_active_scan_per_source"
            )
        ]

    def __str__(self) -> str:
        return f"{self.source} scan #{self.pk} ({self.state})"
