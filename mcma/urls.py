from django.contrib import admin
from django.urls import include, path

from mcma import health

api_v1 = [
    path("", include("accounts.api.urls")),
    path("", include("library.api.urls")),
    path("", include("sources.api.urls")),
    path("", include("downloads.api.urls")),
]

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/", include("mcma.api_docs")),
    path("rest/", include("subsonic.urls")),
]
