from django.contrib import admin
from django.urls import include, path, re_path

from mcma import api_errors, health

api_v1 = [
    path("", include("accounts.api.urls")),
    path("", include("library.api.urls")),
    path("", include("sources.api.urls")),
    path("", include("downloads.api.urls")),
]

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/login/", include("accounts.admin_login")),  # the admin's login page, throttled with the API's
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/", include("mcma.api_docs")),
    path("rest/", include("subsonic.urls")),
    path("share/", include("subsonic.share_urls")),
    # Unknown /api URLs answer in the API's JSON error shape, also with DEBUG on (handler404 is skipped then).
    re_path(r"^api(?:/|$)", api_errors.api_not_found),
]

handler400 = api_errors.handler400
handler403 = api_errors.handler403
handler404 = api_errors.handler404
handler500 = api_errors.handler500
