from django.urls import URLPattern, URLResolver, path
from rest_framework.routers import SimpleRouter

from library.api import views

router = SimpleRouter(trailing_slash=False)
router.register("artists", views.ArtistViewSet, basename="artist")
router.register("albums", views.AlbumViewSet, basename="album")
router.register("tracks", views.TrackViewSet, basename="track")
router.register("genres", views.GenreViewSet, basename="genre")
router.register("playlists", views.PlaylistViewSet, basename="playlist")

urlpatterns: list[URLPattern | URLResolver] = [
    *router.urls,
    path("me/plays", views.PlayListView.as_view(), name="me-plays"),
]
