from django.urls import URLPattern, URLResolver, path

from sources.api import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("sources", views.SourceListView.as_view(), name="sources"),
    path("sources/<str:source>/health", views.SourceHealthView.as_view(), name="source-health"),
    path("sources/<str:source>/scan", views.ScanStartView.as_view(), name="source-scan"),
    path("sources/<str:source>/scans", views.ScanListView.as_view(), name="source-scans"),
    path("sources/<str:source>/scans/<int:scan_id>", views.ScanDetailView.as_view(), name="source-scan-detail"),
]
