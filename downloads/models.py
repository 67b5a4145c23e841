"""Download jobs: one row per requested item, the single source of truth for its progress and fate."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q


class JobKind(models.TextChoices):
    SONG = "song", "Song"
    ALBUM = "album", "Album"
    PLAYLIST = "playlist", "Playlist"


class JobState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    RETRYING = "retrying", "Retrying"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


ACTIVE_STATES = (JobState.QUEUED, JobState.RUNNING, JobState.RETRYING)
FINAL_STATES = (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)


class JobPhase(models.TextChoices):
    NONE = "", "-"
    RESOLVING = "resolving", "Resolving metadata"
    DOWNLOADING = "downloading", "Downloading"
    CHECKING = "checking", "Checking the file"
    TAGGING = "tagging", "Tagging"
    IMPORTING = "importing", "Importing"
    CHILDREN = "children", "Waiting for its tracks"


class ErrorClass(models.TextChoices):
    NONE = "", "-"
    TRANSIENT = "transient", "Temporary failure"
    RATE_LIMITED = "rate_limited", "Rate limited"
    BOT_CHECK = "bot_check", "Bot check"
    NEEDS_COOKIES = "needs_cookies", "Needs cookies"
    GEO_BLOCKED = "geo_blocked", "Not available in this country"
    PERMANENT = "permanent", "Permanent failure"
    CONFIG = "config", "Configuration problem"
    SOURCE_CHANGED = "source_changed", "Source changed its format"


def default_max_attempts() -> int:
    return int(settings.DOWNLOAD_MAX_ATTEMPTS)


class DownloadJob(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    source = models.CharField(max_length=32, help_text="Registry alias of the source.")
    external_id = models.CharField(max_length=255, help_text="Id of the item within the source.")
    kind = models.CharField(max_length=16, choices=JobKind.choices, default=JobKind.SONG)
    parent = models.ForeignKey(
        "self", on_delete=models.CASCADE, null=True, blank=True, related_name="children", help_text="Album/playlist."
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="download_jobs"
    )
    title = models.CharField(max_length=500, blank=True, default="", help_text="For display; set when resolved.")

    state = models.CharField(max_length=16, choices=JobState.choices, default=JobState.QUEUED, db_index=True)
    phase = models.CharField(max_length=16, choices=JobPhase.choices, blank=True, default=JobPhase.NONE)
    bytes_done = models.PositiveBigIntegerField(default=0)
    bytes_total = models.PositiveBigIntegerField(null=True, blank=True)
    percent = models.FloatField(default=0.0)
    speed = models.FloatField(null=True, blank=True, help_text="Bytes per second.")
    eta = models.PositiveIntegerField(null=True, blank=True, help_text="Seconds.")

    attempt = models.PositiveIntegerField(default=0, help_text="Runs started so far.")
    max_attempts = models.PositiveIntegerField(default=default_max_attempts)
    next_retry_at = models.DateTimeField(null=True, blank=True, db_index=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    enqueued_at = models.DateTimeField(null=True, blank=True, help_text="Last time a task message was sent.")
    cancel_requested = models.BooleanField(default=False)
    # While running, the job holds one of the source's N concurrency slots (unique among running jobs).
    concurrency_slot = models.PositiveSmallIntegerField(null=True, blank=True)

    error_class = models.CharField(max_length=16, choices=ErrorClass.choices, blank=True, default=ErrorClass.NONE)
    error_code = models.CharField(max_length=64, blank=True, default="")
    error_message = models.TextField(blank=True, default="")

    track = models.ForeignKey(
        "library.Track", on_delete=models.SET_NULL, null=True, blank=True, related_name="download_jobs"
    )
    meta = models.JSONField(default=dict, blank=True, help_text="Resolved metadata snapshot and bookkeeping.")

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at",)
        indexes = [models.Index(fields=["source", "state"], name="download_source_state")]
        constraints = [
            # One active job per item: a second request finds the first instead of downloading twice.
            models.UniqueConstraint(
                fields=["source", "external_id"],
                condition=Q(state__in=["queued", "running", "retrying"]),
                name="download_one_active_job_per_item",
            ),
            # The per-source concurrency limit, enforced by the database across every worker.
            models.UniqueConstraint(
                fields=["source", "concurrency_slot"],
                condition=Q(state="running", concurrency_slot__isnull=False),
                name="download_concurrency_slot_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.source}:{self.external_id} ({self.state})"

    @property
    def is_active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def is_parent(self) -> bool:
        return self.kind != JobKind.SONG
