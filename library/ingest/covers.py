"""Album covers, stored per album with where each came from (`Album.cover_source`): a cover is replaced only by
one from an origin that COVER_ART_PRIORITY ranks better. A batch's covers take one grouped sync."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from django.conf import settings
from django.db.models import Q

from library import storage
from library.models import Album

_COVER_SUFFIX = {"image/jpeg": "jpg", "image/png": "png", "image/gif": "gif", "image/webp": "webp"}
# Every origin a stored cover can have ("placeholder" is generated when served, never stored).
COVER_ORIGINS = ("embedded", "folder", "caa", "source")


def cover_rank(origin: str | None) -> int:
    """Lower is better: the origin's place in COVER_ART_PRIORITY; one the setting leaves out ranks after every
    listed one, and None (a cover stored before origins were recorded) before all, as nothing says it is worse."""
    if origin is None:
        return -1
    priority = settings.COVER_ART_PRIORITY
    return priority.index(origin) if origin in priority else len(priority)


def cover_origins_below(origin: str) -> list[str]:
    """The stored origins that a cover from `origin` replaces."""
    return [other for other in COVER_ORIGINS if cover_rank(other) > cover_rank(origin)]


def cover_replaceable(album: Album, origin: str) -> bool:
    """Whether a cover from `origin` may be stored for `album`: it is in the setting, and the album has no cover
    (or its file is gone) or one from a worse ranked origin."""
    if origin not in settings.COVER_ART_PRIORITY:
        return False
    if not (album.cover_path and _file_exists(album.cover_path)):
        return True
    return cover_rank(origin) < cover_rank(album.cover_source)


def album_cover_store(*, album: Album, image: bytes, mime: str, origin: str) -> None:
    """Store `image` (from `origin`) as the album's cover unless it has one at least as well ranked."""
    album_covers_store([(album, image, mime, origin)])


def album_covers_store(covers: Sequence[tuple[Album, bytes, str, str]]) -> int:
    """`album_cover_store` for many (album, image, mime, origin) at once, with one grouped sync for all the files;
    returns how many covers were written."""
    todo = [
        (album, image, f"covers/albums/{album.pk}.{_COVER_SUFFIX.get(mime.lower(), 'jpg')}", origin)
        for album, image, mime, origin in covers
        if cover_replaceable(album, origin)
    ]
    if not todo:
        return 0
    storage.store_many_bytes([(image, relative) for _album, image, relative, _origin in todo])
    for album, _image, relative, origin in todo:
        # Only if the row still has the cover it was read with: a concurrent writer that gave it one meanwhile wins.
        # One plain UPDATE an album: a single UPDATE with a CASE per album cost the ORM more to build than these.
        still = Q(cover_path="") | Q(cover_path=album.cover_path, cover_source=album.cover_source)
        if Album.objects.filter(still, pk=album.pk).update(cover_path=relative, cover_source=origin):
            if album.cover_path and album.cover_path != relative:
                storage.delete_file(album.cover_path)  # the replaced cover had another suffix
            album.cover_path, album.cover_source = relative, origin
    return len(todo)


def _file_exists(relative: str) -> bool:
    with contextlib.suppress(storage.UnsafePathError):
        return storage.media_path(relative).is_file()
    return False
