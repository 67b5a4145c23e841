"""star, unstar, setRating, scrobble. `stream` never counts a play; only a scrobble submission does."""

from __future__ import annotations

from typing import Literal

from library import selectors, services
from subsonic import ids
from subsonic.call import Call
from subsonic.errors import invalid_parameter, missing_parameter
from subsonic.ids import Kind

_KINDS: dict[Kind, Literal["track", "album", "artist"]] = {
    Kind.TRACK: "track",
    Kind.ALBUM: "album",
    Kind.ARTIST: "artist",
}
_ANY = tuple(_KINDS)


def _targets(call: Call) -> dict[Literal["track", "album", "artist"], list[int]]:
    """`id` may name any kind (its prefix tells which); `albumId` and `artistId` are the ID3-era spellings."""
    targets: dict[Literal["track", "album", "artist"], list[int]] = {"track": [], "album": [], "artist": []}
    for raw in call.params.values("id"):
        kind, pk = ids.decode(raw, allowed=_ANY, bare=Kind.TRACK)
        targets[_KINDS[kind]].append(pk)
    targets["album"] += [ids.decode_as(raw, Kind.ALBUM) for raw in call.params.values("albumId")]
    targets["artist"] += [ids.decode_as(raw, Kind.ARTIST) for raw in call.params.values("artistId")]
    if not any(targets.values()):
        raise missing_parameter("id")
    return targets


def _star(call: Call, starred: bool) -> None:
    for kind, item_ids in _targets(call).items():
        if item_ids:
            services.star_set(user=call.user, kind=kind, ids=item_ids, starred=starred)


def star(call: Call) -> None:
    _star(call, True)


def unstar(call: Call) -> None:
    _star(call, False)


def set_rating(call: Call) -> None:
    kind, pk = ids.decode(call.params.required("id"), allowed=_ANY, bare=Kind.TRACK)
    rating = call.params.int_required("rating")
    if not 0 <= rating <= 5:
        raise invalid_parameter("rating", "must be 0 (remove) to 5")
    services.rating_set(user=call.user, kind=_KINDS[kind], item_id=pk, rating=rating)


def scrobble(call: Call) -> None:
    """`submission=true` (default) records plays at the given times (ms, one per id); false reports the song
    that just started playing on the client (`c` names the player)."""
    track_ids = [ids.decode_as(raw, Kind.TRACK) for raw in call.params.values("id")]
    if not track_ids:
        raise missing_parameter("id")
    times = call.params.datetimes_ms("time")
    if times and len(times) != len(track_ids):
        raise invalid_parameter("time", "give one time per id, or none")
    submission = call.params.flag("submission", True)
    tracks = [selectors.track_get(track_id=pk) for pk in track_ids]
    for i, track in enumerate(tracks):
        if submission:
            services.play_record(user=call.user, track=track, played_at=times[i] if times else None, client=call.client)
        else:
            services.now_playing_set(user=call.user, track=track, player=call.client)
