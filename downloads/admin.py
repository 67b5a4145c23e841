from __future__ import annotations

from collections.abc import Callable

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.models import User
from downloads import services
from downloads.models import DownloadJob
from mcma.errors import ApplicationError


@admin.register(DownloadJob)
class DownloadJobAdmin(admin.ModelAdmin):
    list_display = ("external_id", "kind", "title", "source", "state", "phase", "percent", "attempt", "created_at")
    list_filter = ("state", "kind", "source", "error_class")
    search_fields = ("external_id", "title", "error_message")
    readonly_fields = [f.name for f in DownloadJob._meta.fields]
    raw_id_fields = ("parent", "requested_by", "track")
    actions = ("cancel_jobs", "retry_jobs")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # jobs are created through the service, which checks duplicates and the library

    @admin.action(description="Cancel the selected downloads")
    def cancel_jobs(self, request: HttpRequest, queryset: QuerySet[DownloadJob]) -> None:
        self._apply(request, queryset, services.download_job_cancel)

    @admin.action(description="Retry the selected downloads")
    def retry_jobs(self, request: HttpRequest, queryset: QuerySet[DownloadJob]) -> None:
        self._apply(request, queryset, services.download_job_retry)

    def _apply(self, request: HttpRequest, queryset: QuerySet[DownloadJob], action: Callable[..., DownloadJob]) -> None:
        assert isinstance(request.user, User)
        done, refused = 0, []
        for job in queryset:
            try:
                action(job=job, actor=request.user)
                done += 1
            except ApplicationError as exc:
                refused.append(f"{job.external_id}: {exc.message}")
        self.message_user(request, f"{done} download(s) updated.")
        for line in refused[:20]:
            self.message_user(request, line, level=messages.WARNING)
