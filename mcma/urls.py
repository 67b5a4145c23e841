from django.contrib import admin
from django.urls import include, path, re_path

from mcma import error_pages, health, landing

api_v1 = [
    path("", include("accounts.api.urls")),
    path("", include("library.api.urls")),
    path("", include("sources.api.urls")),
    path("", include("downloads.api.urls")),
]

urlpatterns = [
    path("", landing.landing, name="landing"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/", include("mcma.api_docs")),
    path("rest/", include("subsonic.urls")),
    path("share/", include("subsonic.share_urls")),
    # Unknown /api URLs answer in the API's JSON error shape, also with DEBUG on (handler404 is skipped then).
    re_path(r"^api(?:/|$)", error_pages.api_not_found),
]

handler400 = error_pages.handler400
handler403 = error_pages.handler403
handler404 = error_pages.handler404
handler500 = error_pages.handler500
