"""Public share links, mounted at /share/ (outside /rest, which only answers Subsonic documents)."""

from django.urls import URLPattern, URLResolver, path

from subsonic import public

urlpatterns: list[URLPattern | URLResolver] = [
    path("<str:token>", public.share_page, name="share-page"),
    path("<str:token>/<int:position>", public.share_audio, name="share-audio"),
]
