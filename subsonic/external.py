"""Subsonic's side of the external catalogue (`downloads.services.catalogue`): an endpoint's `ext-` id must name
an item of the kind it takes, and lists of song ids may mix library and external songs."""

from __future__ import annotations

from accounts.models import User
from downloads.services import catalogue_song_check
from sources.base import ExternalItem, ResultKind
from subsonic import ids
from subsonic.errors import not_found


def of_kind(ref: ExternalItem, kind: ResultKind) -> ExternalItem:
    """`ref`, when it names an item of `kind`; "not found" (70) naming the player's id otherwise."""
    if ref.kind is not kind:
        raise not_found(f"{kind.title()} {ids.external_item_id(ref)!r}")
    return ref


def require_song(*, user: User, ref: ExternalItem) -> ExternalItem:
    """Check, before anything is written, that `user` may act on the external song `ref` (error 70 otherwise)."""
    catalogue_song_check(user=user, item=of_kind(ref, ResultKind.SONG))
    return ref


def songs_split(*, user: User, raw_ids: list[str]) -> tuple[list[int], list[tuple[int, ExternalItem]]]:
    """A list of song ids as a player sends it (playlist, play queue): the library tracks' ids, and the external
    songs with their place in the list; every external one is checked before anything is written."""
    track_ids: list[int] = []
    remote: list[tuple[int, ExternalItem]] = []
    for position, raw in enumerate(raw_ids):
        decoded = ids.decode_or_external(raw, allowed=(ids.Kind.TRACK,), bare=ids.Kind.TRACK)
        if isinstance(decoded, ExternalItem):
            remote.append((position, require_song(user=user, ref=decoded)))
        else:
            track_ids.append(decoded[1])
    return track_ids, remote
