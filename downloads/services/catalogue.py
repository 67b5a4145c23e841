"""The external catalogue as users browse it (issue 21): who sees it, which hits it can offer, and the items an
`ExternalItem` names (a song, an album with its songs, an artist's page, a cover), asked of their source each time.

Opt-in twice: `EXTERNAL_SEARCH_IN_SUBSONIC` for the server and `User.subsonic_external_search` per user (Subsonic
is its only door today, hence the names); and only for users who may request downloads
(`downloads.selectors.user_may_request_downloads`). Everyone else gets "not found" for every item, exactly as if
the catalogue did not exist. Every failure is an `ApplicationError`; the messages are what players are shown.

Each function takes an item of the kind it names: a door that decodes items from what its users send checks the
kind first (Subsonic: `subsonic.external.of_kind`), because its message names the door's own id for the item.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from django.conf import settings

from accounts.models import User
from downloads.selectors import user_may_request_downloads
from library.covers import placeholder_image, remote_cover_image
from mcma.errors import ApplicationError, NotFoundError, UpstreamError
from sources.base import (
    EXTERNAL_ID_PATTERN,
    ArtistBrowsable,
    ArtistMetadata,
    ExternalItem,
    ResultKind,
    SearchResult,
    Source,
)
from sources.errors import CapabilityMissingError
from sources.registry import get_source
from sources.resolving import CollectionMetadata, Resolvable, SourceRequestError, TrackMetadata

logger = logging.getLogger(__name__)

T = TypeVar("T")

# What the catalogue offers: the kinds a user can open, act on or play (a playlist hit is none of them).
CATALOGUE_KINDS = frozenset({ResultKind.SONG, ResultKind.ALBUM, ResultKind.ARTIST})
_USABLE_ID = re.compile(rf"^{EXTERNAL_ID_PATTERN}$")


def catalogue_open(*, user: User) -> bool:
    """Whether `user` sees the external catalogue at all."""
    return bool(
        settings.EXTERNAL_SEARCH_IN_SUBSONIC and user.subsonic_external_search and user_may_request_downloads(user=user)
    )


def catalogue_hits_usable(hits: Sequence[SearchResult]) -> list[SearchResult]:
    """The hits the catalogue can offer: of its kinds, with an id this server accepts back. Any other is the
    source's garbage (an id with characters no id may hold, a kind nobody can browse): skipped, and logged so
    that a changed source gets noticed."""
    kept = []
    for hit in hits:
        if hit.kind not in CATALOGUE_KINDS or not _USABLE_ID.match(hit.external_id):
            logger.warning(
                "%s returned a %s with an unusable id %r: skipped", hit.source, hit.kind, hit.external_id[:80]
            )
            continue
        kept.append(hit)
    return kept


def _source(user: User, item: ExternalItem) -> Source:
    """The source of `item`, when `user` may reach it; not found otherwise (a closed catalogue reveals nothing)."""
    if not catalogue_open(user=user):
        raise NotFoundError("External item not found")
    source = get_source(item.source)
    if not source.enabled:
        raise NotFoundError(f"{item.source} is disabled on this server: its items are unavailable")
    return source


def _resolvable(user: User, item: ExternalItem) -> Resolvable:
    source = _source(user, item)
    if not isinstance(source, Resolvable):
        raise NotFoundError(f"Items of {item.source} not found")
    return source


def _asking(item: ExternalItem, call: Callable[[], T]) -> T:
    """A call to the source: an item it does not have is not found, any other failure the source's reason."""
    try:
        return call()
    except SourceRequestError as exc:
        if exc.status == 404:
            raise NotFoundError(f"{item.kind.title()} {item.external_id!r} of {item.source} not found") from exc
        raise UpstreamError(f"{item.source} could not answer: {exc.message}") from exc
    except ApplicationError as exc:  # a malformed id the source refuses, a source that cannot be used now
        raise NotFoundError(f"{item.source}: {exc.message}") from exc


def catalogue_song_check(*, user: User, item: ExternalItem) -> None:
    """Check, before anything is written, that `user` may act on the external song `item` (not found otherwise)."""
    _resolvable(user, item)


def catalogue_song_get(*, user: User, item: ExternalItem) -> SearchResult:
    """The external song, in the shape of a search hit."""
    source = _resolvable(user, item)
    metadata = _asking(item, lambda: source.resolve_track(external_id=item.external_id))
    return _track_hit(item.source, metadata)


def _track_hit(source: str, metadata: TrackMetadata) -> SearchResult:
    return SearchResult(
        source=source,
        kind=ResultKind.SONG,
        external_id=metadata.external_id,
        title=metadata.title,
        artists=metadata.artists,
        album=metadata.album,
        album_id=metadata.album_id,
        duration_ms=metadata.duration_ms,
        year=metadata.year,
        explicit=metadata.explicit,
        thumbnail_url=metadata.cover_url,
    )


@dataclass(frozen=True)
class CatalogueAlbum:
    album: SearchResult
    songs: list[SearchResult]


def catalogue_album_get(*, user: User, item: ExternalItem) -> CatalogueAlbum:
    """The remote album and its usable tracks (those the library holds keep their external id, which resolves)."""
    source = _resolvable(user, item)
    collection = _asking(item, lambda: source.resolve_collection(kind=ResultKind.ALBUM, external_id=item.external_id))
    return CatalogueAlbum(
        album=_album_hit(item.source, collection),
        songs=catalogue_hits_usable(_album_songs(item.source, collection)),
    )


def _album_hit(source: str, collection: CollectionMetadata) -> SearchResult:
    return SearchResult(
        source=source,
        kind=ResultKind.ALBUM,
        external_id=collection.external_id,
        title=collection.title,
        artists=collection.artists,
        duration_ms=sum(track.duration_ms or 0 for track in collection.tracks),
        year=collection.year,
        thumbnail_url=collection.cover_url,
        extra={"song_count": len(collection.tracks)},
    )


def _album_songs(source: str, collection: CollectionMetadata) -> list[SearchResult]:
    return [
        SearchResult(
            source=source,
            kind=ResultKind.SONG,
            external_id=track.external_id,
            title=track.title,
            artists=track.artists,
            album=collection.title,
            album_id=collection.external_id,
            duration_ms=track.duration_ms,
            year=collection.year,
            explicit=track.explicit,
            thumbnail_url=collection.cover_url,
            extra={"track_number": track.track_number},
        )
        for track in collection.tracks
    ]


def catalogue_artist_get(*, user: User, item: ExternalItem) -> ArtistMetadata:
    """The remote artist: its albums (each an item `catalogue_album_get` answers), top songs and biography; the
    releases and songs the catalogue cannot offer are left out, and so are the songs the source cannot play."""
    source = _source(user, item)
    if not isinstance(source, ArtistBrowsable):
        raise CapabilityMissingError(f"{item.source} artists cannot be browsed; search for their songs")
    artist = _asking(item, lambda: source.resolve_artist(external_id=item.external_id))
    playable = [song for song in artist.top_songs if song.extra.get("available", True)]
    return dataclasses.replace(
        artist, albums=tuple(catalogue_hits_usable(artist.albums)), top_songs=tuple(catalogue_hits_usable(playable))
    )


def catalogue_cover_get(*, user: User, item: ExternalItem, key: str, size: int | None) -> tuple[Path, str]:
    """The remote thumbnail of an external song, album or artist, fetched once into the cover cache under `key`
    (the id the user knows the item by) and resized there; an artist without a picture gets the placeholder
    generated from `key`, as library items do from theirs."""
    source = _resolvable(user, item)
    if item.kind is ResultKind.ARTIST:
        try:
            return remote_cover_image(key=key, fetch=lambda: _artist_image(user, item, source), size=size)
        except _NoPicture as missing:
            return placeholder_image(size=size, seed=key, title=missing.name)

    def fetch() -> tuple[bytes, str]:
        if item.kind is ResultKind.SONG:
            url = _asking(item, lambda: source.resolve_track(external_id=item.external_id)).cover_url
        elif item.kind is ResultKind.ALBUM:
            url = _asking(
                item, lambda: source.resolve_collection(kind=ResultKind.ALBUM, external_id=item.external_id)
            ).cover_url
        else:
            url = ""
        if not url:
            raise NotFoundError(f"Cover of {item.kind} {item.external_id!r} not found")
        return _image(item, source, url)

    return remote_cover_image(key=key, fetch=fetch, size=size)


class _NoPicture(Exception):
    """The artist's page has no picture: nothing enters the cache, and the placeholder is drawn (cached itself)."""

    def __init__(self, name: str) -> None:
        self.name = name


def _artist_image(user: User, item: ExternalItem, source: Resolvable) -> tuple[bytes, str]:
    artist = catalogue_artist_get(user=user, item=item)
    if not artist.image_url:
        raise _NoPicture(artist.name)
    return _image(item, source, artist.image_url)


def _image(item: ExternalItem, source: Resolvable, url: str) -> tuple[bytes, str]:
    return _asking(item, lambda: source.fetch_image(url=url))
