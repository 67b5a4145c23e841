from django.urls import URLPattern, URLResolver, path

from downloads.api import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("downloads", views.DownloadListCreateView.as_view(), name="downloads"),
    path("downloads/retry-failed", views.DownloadRetryFailedView.as_view(), name="downloads-retry-failed"),
    path("downloads/<uuid:job_id>", views.DownloadDetailView.as_view(), name="download-detail"),
    path("downloads/<uuid:job_id>/cancel", views.DownloadCancelView.as_view(), name="download-cancel"),
    path("downloads/<uuid:job_id>/retry", views.DownloadRetryView.as_view(), name="download-retry"),
    # Searches live here (not in library/api or sources/api) because they mark hits with library and queue state.
    path("search", views.LibraryAndExternalSearchView.as_view(), name="search"),
    path("search/external", views.ExternalSearchView.as_view(), name="search-external"),
    path("sources/<str:source>/search", views.SourceSearchView.as_view(), name="source-search"),
]
