"""OpenAPI schema and Swagger UI (assets served locally by drf-spectacular-sidecar)."""

from django.urls import path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("schema", SpectacularAPIView.as_view(), name="schema"),
    path("docs", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    # People type the trailing slash, as for /admin/; the canonical URLs keep none (clients already use them).
    path("schema/", RedirectView.as_view(pattern_name="schema", query_string=True, permanent=True)),
    path("docs/", RedirectView.as_view(pattern_name="swagger-ui", query_string=True, permanent=True)),
]
