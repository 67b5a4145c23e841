"""Bookmarks and the saved play queue (by song id, and OpenSubsonic's index-based variant).

A saved queue may hold `ext-` songs (not in the library yet): they are downloaded and join the saved queue, at
their place, when they land.
"""

from __future__ import annotations

from downloads.services import catalogue_song_bookmark, catalogue_song_bookmark_delete, catalogue_song_queue_add
from library import selectors, services
from sources.base import ExternalItem, ResultKind
from subsonic import builders, external, ids
from subsonic.call import Call
from subsonic.errors import ErrorCode, SubsonicError, invalid_parameter, missing_parameter
from subsonic.ids import Kind
from subsonic.responses import Node


def get_bookmarks(call: Call) -> Node:
    node = Node("bookmarks")
    items = selectors.bookmarks_of(user=call.user)
    limits = call.playback_limits()
    node.add_list("bookmark", [builders.bookmark(item, call.profile, limits=limits) for item in items])
    return node


def _song(call: Call) -> tuple[Kind, int] | ExternalItem:
    return ids.decode_or_external(call.params.required("id"), allowed=(Kind.TRACK,), bare=Kind.TRACK)


def create_bookmark(call: Call) -> None:
    """On an `ext-` song: its download is requested and the bookmark lands with it."""
    song = _song(call)
    position_ms = call.params.int_required("position", minimum=0)
    comment = call.params.text("comment") or ""
    if isinstance(song, ExternalItem):
        catalogue_song_bookmark(
            user=call.user, item=external.of_kind(song, ResultKind.SONG), position_ms=position_ms, comment=comment
        )
        return
    track = selectors.track_get(track_id=song[1])
    services.bookmark_save(user=call.user, track=track, position_ms=position_ms, comment=comment)


def delete_bookmark(call: Call) -> None:
    song = _song(call)
    if isinstance(song, ExternalItem):
        catalogue_song_bookmark_delete(user=call.user, item=external.of_kind(song, ResultKind.SONG))
        return
    services.bookmark_delete(user=call.user, track_id=song[1])


def _queue(call: Call, *, by_index: bool) -> Node:
    queue, tracks = selectors.play_queue_of(user=call.user)
    return builders.play_queue(
        queue, tracks, call.profile, user=call.user, limits=call.playback_limits(), by_index=by_index
    )


def get_play_queue(call: Call) -> Node:
    return _queue(call, by_index=False)


def get_play_queue_by_index(call: Call) -> Node:
    return _queue(call, by_index=True)


def _songs(call: Call) -> tuple[list[int], list[tuple[int, ExternalItem]]]:
    return external.songs_split(user=call.user, raw_ids=call.params.values("id"))


def _library_index(sent_index: int, track_ids: list[int], remote: list[tuple[int, ExternalItem]]) -> int | None:
    """Where the entry at `sent_index` of the player's list is in the saved (library-only) queue: an external
    song still downloading makes its library neighbour the current one."""
    if not track_ids:
        return None
    before = sum(1 for position, _ref in remote if position < sent_index)
    return max(0, min(sent_index - before, len(track_ids) - 1))


def _queue_save(
    call: Call, track_ids: list[int], remote: list[tuple[int, ExternalItem]], current_index: int | None
) -> None:
    services.play_queue_save(
        user=call.user,
        track_ids=track_ids,
        current_index=current_index,
        position_ms=call.params.int_or("position", 0, minimum=0),
        changed_by=call.client,
    )
    for position, ref in remote:  # after the save, which forgets the previous queue's waiting songs
        catalogue_song_queue_add(user=call.user, item=ref, position=position)


def save_play_queue(call: Call) -> None:
    """No `id` clears the queue (OpenSubsonic); `current` is a song id and must be in the list."""
    track_ids, remote = _songs(call)
    current_index = None
    raw_current = call.params.text("current")
    if (track_ids or remote) and raw_current:
        current = ids.decode_or_external(raw_current, allowed=(Kind.TRACK,), bare=Kind.TRACK)
        if isinstance(current, ExternalItem):
            sent = [position for position, ref in remote if ref == current]
            if not sent:
                raise invalid_parameter("current", "the current song is not in the queue")
            current_index = _library_index(sent[0], track_ids, remote)
        elif current[1] not in track_ids:
            raise invalid_parameter("current", "the current song is not in the queue")
        else:
            current_index = track_ids.index(current[1])
    elif track_ids:
        current_index = 0
    _queue_save(call, track_ids, remote, current_index)


def save_play_queue_by_index(call: Call) -> None:
    """`currentIndex` is required with songs and must point into the list (error 10 otherwise, per the spec)."""
    track_ids, remote = _songs(call)
    current_index = None
    if track_ids or remote:
        if "currentIndex" not in call.params:
            raise missing_parameter("currentIndex")
        sent_index = call.params.int_required("currentIndex")
        if not 0 <= sent_index < len(track_ids) + len(remote):
            raise SubsonicError(ErrorCode.MISSING_PARAMETER, "currentIndex is outside the queue")
        current_index = _library_index(sent_index, track_ids, remote)
    _queue_save(call, track_ids, remote, current_index)
