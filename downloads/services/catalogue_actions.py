"""What users do with external songs (star, rate, play, add to a playlist or the play queue, bookmark): each
requests the song's download and records what was done as a pending action, applied to the track when it lands."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Any

from accounts.models import User
from downloads.services.catalogue import catalogue_song_check
from downloads.services.requesting import download_request_referencing
from library.models import PendingAction, Playlist
from library.services import pending_reference_add, pending_references_drop
from mcma.errors import NotFoundError
from sources.base import ExternalItem


def _referencing(user: User, item: ExternalItem, action: PendingAction | None = None, **details: Any) -> None:
    """Request the song's download and, with `action`, record it to apply when the song lands; `details` are
    that action's own arguments to `pending_reference_add` (rating, played_at, playlist, position…)."""
    catalogue_song_check(user=user, item=item)
    record = None
    if action is not None:
        record = partial(
            pending_reference_add, user=user, source=item.source, external_id=item.external_id, action=action, **details
        )
    download_request_referencing(user=user, source=item.source, external_id=item.external_id, reference=record)


def catalogue_song_star(*, user: User, item: ExternalItem) -> None:
    _referencing(user, item, PendingAction.STAR)


def catalogue_song_unstar(*, user: User, item: ExternalItem) -> None:
    """Takes back a star that is still waiting; the download, once asked for, goes on."""
    catalogue_song_check(user=user, item=item)
    pending_references_drop(user=user, source=item.source, external_id=item.external_id, action=PendingAction.STAR)


def catalogue_song_rate(*, user: User, item: ExternalItem, rating: int) -> None:
    _referencing(user, item, PendingAction.RATING, rating=rating)


def catalogue_song_play(*, user: User, item: ExternalItem, played_at: datetime | None, client: str) -> None:
    _referencing(user, item, PendingAction.PLAY, played_at=played_at, client=client)


def catalogue_song_now_playing(*, user: User, item: ExternalItem) -> None:
    """A player started the song: it is worth having, so its download is requested (nothing else is recorded)."""
    _referencing(user, item)


def catalogue_song_playlist_add(*, user: User, item: ExternalItem, playlist: Playlist, position: int | None) -> None:
    _referencing(user, item, PendingAction.PLAYLIST_ENTRY, playlist=playlist, position=position)


def catalogue_song_queue_add(*, user: User, item: ExternalItem, position: int) -> None:
    _referencing(user, item, PendingAction.QUEUE_ENTRY, position=position)


def catalogue_song_bookmark(*, user: User, item: ExternalItem, position_ms: int, comment: str) -> None:
    _referencing(user, item, PendingAction.BOOKMARK, position_ms=position_ms, comment=comment)


def catalogue_song_bookmark_delete(*, user: User, item: ExternalItem) -> None:
    """Takes back a bookmark still waiting for its song's download; none waiting is "not found", as in the library."""
    catalogue_song_check(user=user, item=item)
    if not pending_references_drop(
        user=user, source=item.source, external_id=item.external_id, action=PendingAction.BOOKMARK
    ):
        raise NotFoundError("Bookmark not found")
