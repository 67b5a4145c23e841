"""Album covers stored once per album, a batch's covers with one grouped sync and one UPDATE."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from django.db.models import Case, F, Value, When

from library import storage
from library.models import Album

_COVER_SUFFIX = {"image/jpeg": "jpg", "image/png": "png", "image/gif": "gif", "image/webp": "webp"}


def album_cover_store(*, album: Album, image: bytes, mime: str) -> None:
    """Store `image` as the album's cover unless it already has one (covers are extracted once per album)."""
    album_covers_store([(album, image, mime)])


def album_covers_store(covers: Sequence[tuple[Album, bytes, str]]) -> int:
    """`album_cover_store` for many (album, image, mime) at once, with one grouped sync for all the files;
    returns how many covers were written."""
    todo = [
        (album, image, f"covers/albums/{album.pk}.{_COVER_SUFFIX.get(mime.lower(), 'jpg')}")
        for album, image, mime in covers
        if not (album.cover_path and _file_exists(album.cover_path))
    ]
    if not todo:
        return 0
    storage.store_many_bytes([(image, relative) for _album, image, relative in todo])
    # One UPDATE for all: each album takes its new path only if its row still has the path it was read with,
    # so if a concurrent scan gave it a cover meanwhile, the first writer wins.
    claims = [
        When(pk=album.pk, cover_path__in={"", album.cover_path}, then=Value(relative)) for album, _, relative in todo
    ]
    albums = Album.objects.filter(pk__in=[album.pk for album, _image, _relative in todo])
    albums.update(cover_path=Case(*claims, default=F("cover_path")))
    now = dict(albums.values_list("pk", "cover_path"))
    for album, _image, relative in todo:
        if now.get(album.pk) == relative:
            album.cover_path = relative
    return len(todo)


def _file_exists(relative: str) -> bool:
    with contextlib.suppress(storage.UnsafePathError):
        return storage.media_path(relative).is_file()
    return False
