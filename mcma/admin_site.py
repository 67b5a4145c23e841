"""The management UI: Django's admin with a dashboard for its index and the pages a person uses every day.

The site is the project's default admin site (mcma.apps.McmaAdminConfig), so every `@admin.register` lands here.
Pages of one app live in that app (`downloads.admin_pages`, `library.admin_pages`); the site only routes to them
and adds the dashboard, which reads from every app.

Every active user may sign in, not only staff: the dashboard, the library pages, their own downloads and (if they
may download) the search page are theirs. The model pages keep Django's per-model permissions, which a user who
is not staff does not have, so everything else stays admin-only.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, URLResolver, path

from accounts.admin_login import ThrottledAuthenticationForm, refused_as_throttled
from downloads import admin_pages as download_pages
from library import admin_pages as library_pages
from mcma import dashboard


class MusicAdminSite(admin.AdminSite):
    site_header = "mcma"
    site_title = "mcma"
    index_title = "Dashboard"
    # Django's admin form turns away users who are not staff; any active user may sign in here, as often as the
    # login throttle (shared with the REST token login) allows.
    login_form = ThrottledAuthenticationForm

    def has_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_active and request.user.is_authenticated)

    def get_urls(self) -> list[URLResolver | URLPattern]:
        pages: list[URLResolver | URLPattern] = [
            path("search/", self.admin_view(download_pages.search), name="search"),
            path("search/download", self.admin_view(download_pages.search_download), name="search-download"),
            path("downloads/", self.admin_view(download_pages.downloads), name="downloads"),
            path("downloads/retry-failed", self.admin_view(download_pages.retry_failed), name="downloads-retry-failed"),
            path("downloads/<uuid:job_id>/<str:action>", self.admin_view(download_pages.job_action), name="job-action"),
            path("music/track/<int:track_id>/", self.admin_view(library_pages.track_page), name="music-track"),
            path("music/album/<int:album_id>/", self.admin_view(library_pages.album_page), name="music-album"),
            path("music/artist/<int:artist_id>/", self.admin_view(library_pages.artist_page), name="music-artist"),
            path("music/<str:kind>/<int:item_id>/star", self.admin_view(library_pages.star), name="music-star"),
        ]
        return pages + super().get_urls()

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        response = super().login(request, extra_context)
        if refused_as_throttled(response):
            response.status_code = 429
        return response

    def index(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> TemplateResponse:
        return super().index(request, {**dashboard.context(request), **(extra_context or {})})
