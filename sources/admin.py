"""Admin for scan runs, with a "scan now" button (and action) that queues a scan through sources.services."""

from __future__ import annotations

from typing import Any, cast

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html_join

from accounts.models import User
from mcma.errors import ApplicationError
from sources import services
from sources.models import ScanRun


@admin.register(ScanRun)
class ScanRunAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "source",
        "state",
        "found",
        "added",
        "updated",
        "unchanged",
        "removed",
        "skipped",
        "failed",
        "created_at",
        "finished_at",
    )
    list_filter = ("source", "state")
    search_fields = ("root", "message")
    date_hierarchy = "created_at"
    actions = ("scan_now",)
    fields = (
        "source",
        "root",
        "state",
        "requested_by",
        ("found", "added", "updated", "unchanged", "removed", "skipped", "failed"),
        "message",
        "problems",
        ("created_at", "started_at", "heartbeat_at", "finished_at"),
    )
    readonly_fields = ("problems",)  # runs are never editable (no change permission), so the rest shows as text

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # runs are created by "scan now", the API or manage.py, never by hand

    def has_change_permission(self, request: HttpRequest, obj: ScanRun | None = None) -> bool:
        return False

    @admin.display(description="per-file problems")
    def problems(self, scan: ScanRun) -> str:
        rows = ((p.get("kind", ""), p.get("path", ""), p.get("error", "")) for p in scan.errors or [])
        return format_html_join("\n", "<div><b>{}</b> {} — {}</div>", rows) or "—"

    def get_urls(self) -> list[URLPattern]:
        own = [path("scan-now/", self.admin_site.admin_view(self.scan_now_view), name="sources_scanrun_scan_now")]
        return own + super().get_urls()

    def scan_now_view(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_view_permission(request):
            return HttpResponseRedirect(reverse("admin:index"))
        self._enqueue(request, "local")
        return HttpResponseRedirect(reverse("admin:sources_scanrun_changelist"))

    @admin.action(description="Scan these runs' sources again now")
    def scan_now(self, request: HttpRequest, queryset: QuerySet[ScanRun]) -> None:
        for source in sorted(set(queryset.values_list("source", flat=True))):
            self._enqueue(request, source)

    def _enqueue(self, request: HttpRequest, source: str) -> None:
        user: Any = request.user
        try:
            scan = services.scan_enqueue(source_name=source, requested_by=cast(User, user))
        except ApplicationError as exc:
            self.message_user(request, exc.message, level=messages.ERROR)
            return
        self.message_user(request, f"Scan #{scan.pk} of {scan.root} queued.", level=messages.SUCCESS)
