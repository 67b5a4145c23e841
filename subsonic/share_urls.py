"""Public share links, mounted at /share/ (outside /rest, which only answers Subsonic documents).

Tokens are made by `secrets.token_urlsafe`: a path that is not such a token (a NUL, a dot, a slash) is no share,
and never reaches the database.
"""

from django.urls import URLPattern, URLResolver, path, register_converter

from subsonic import public


class ShareTokenConverter:
    regex = r"[A-Za-z0-9_-]{1,128}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


class ImageTokenConverter(ShareTokenConverter):
    """A signed id (`<id>.<signature>`, see `public.artist_image_url`)."""

    regex = r"[0-9]{1,18}\.[A-Za-z0-9_-]{1,128}"


register_converter(ShareTokenConverter, "share_token")
register_converter(ImageTokenConverter, "image_token")

urlpatterns: list[URLPattern | URLResolver] = [
    path("img/<image_token:token>", public.artist_image, name="artist-image"),
    path("<share_token:token>", public.share_page, name="share-page"),
    path("<share_token:token>/<int:position>", public.share_audio, name="share-audio"),
]
