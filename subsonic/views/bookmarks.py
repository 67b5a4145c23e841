"""Bookmarks and the saved play queue (by song id, and OpenSubsonic's index-based variant)."""

from __future__ import annotations

from library import selectors, services
from subsonic import builders, ids
from subsonic.call import Call
from subsonic.errors import ErrorCode, SubsonicError, invalid_parameter, missing_parameter
from subsonic.ids import Kind
from subsonic.responses import Node


def get_bookmarks(call: Call) -> Node:
    node = Node("bookmarks")
    items = selectors.bookmarks_of(user=call.user)
    node.add_list("bookmark", [builders.bookmark(item, call.profile) for item in items])
    return node


def create_bookmark(call: Call) -> None:
    track = selectors.track_get(track_id=ids.decode_as(call.params.required("id"), Kind.TRACK))
    services.bookmark_save(
        user=call.user,
        track=track,
        position_ms=call.params.int_required("position", minimum=0),
        comment=call.params.text("comment") or "",
    )


def delete_bookmark(call: Call) -> None:
    services.bookmark_delete(user=call.user, track_id=ids.decode_as(call.params.required("id"), Kind.TRACK))


def _queue(call: Call, *, by_index: bool) -> Node:
    queue, tracks = selectors.play_queue_of(user=call.user)
    return builders.play_queue(queue, tracks, call.profile, user=call.user, by_index=by_index)


def get_play_queue(call: Call) -> Node:
    return _queue(call, by_index=False)


def get_play_queue_by_index(call: Call) -> Node:
    return _queue(call, by_index=True)


def _track_ids(call: Call) -> list[int]:
    return [ids.decode_as(raw, Kind.TRACK) for raw in call.params.values("id")]


def _queue_save(call: Call, track_ids: list[int], current_index: int | None) -> None:
    services.play_queue_save(
        user=call.user,
        track_ids=track_ids,
        current_index=current_index,
        position_ms=call.params.int_or("position", 0, minimum=0),
        changed_by=call.client,
    )


def save_play_queue(call: Call) -> None:
    """No `id` clears the queue (OpenSubsonic); `current` is a song id and must be in the list."""
    track_ids = _track_ids(call)
    current_index = None
    raw_current = call.params.text("current")
    if track_ids and raw_current:
        current = ids.decode_as(raw_current, Kind.TRACK)
        if current not in track_ids:
            raise invalid_parameter("current", "the current song is not in the queue")
        current_index = track_ids.index(current)
    elif track_ids:
        current_index = 0
    _queue_save(call, track_ids, current_index)


def save_play_queue_by_index(call: Call) -> None:
    """`currentIndex` is required with songs and must point into the list (error 10 otherwise, per the spec)."""
    track_ids = _track_ids(call)
    current_index = None
    if track_ids:
        if "currentIndex" not in call.params:
            raise missing_parameter("currentIndex")
        current_index = call.params.int_required("currentIndex")
        if not 0 <= current_index < len(track_ids):
            raise SubsonicError(ErrorCode.MISSING_PARAMETER, "currentIndex is outside the queue")
    _queue_save(call, track_ids, current_index)
