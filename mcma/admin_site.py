"""The management UI: Django's admin with a dashboard for its index and the pages a person uses every day.

The site is the project's default admin site (mcma.apps.McmaAdminConfig), so every `@admin.register` lands here.
Pages of one app live in that app (`downloads.admin_pages`); the site only routes to them and adds the dashboard,
which reads from every app.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import URLPattern, URLResolver, path

from downloads import admin_pages as download_pages
from mcma import dashboard


class MusicAdminSite(admin.AdminSite):
    site_header = "mcma"
    site_title = "mcma"
    index_title = "Dashboard"

    def get_urls(self) -> list[URLResolver | URLPattern]:
        pages: list[URLResolver | URLPattern] = [
            path("search/", self.admin_view(download_pages.search), name="search"),
            path("search/download", self.admin_view(download_pages.search_download), name="search-download"),
            path("downloads/", self.admin_view(download_pages.downloads), name="downloads"),
            path("downloads/retry-failed", self.admin_view(download_pages.retry_failed), name="downloads-retry-failed"),
            path("downloads/<uuid:job_id>/<str:action>", self.admin_view(download_pages.job_action), name="job-action"),
        ]
        return pages + super().get_urls()

    def index(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> TemplateResponse:
        return super().index(request, {**dashboard.context(request), **(extra_context or {})})
