"""star, unstar, setRating, scrobble, reportPlayback. `stream` never counts a play; a scrobble submission or a
finished reportPlayback does (once, if a player sends both: `library.services.play_submit`).

An `ext-` song id (not in the library yet) is accepted by all four: its download is requested and what the
player did is applied to the track when it lands (`downloads.services.catalogue_actions`).
"""

from __future__ import annotations

from typing import Literal

from downloads.services import (
    catalogue_song_now_playing,
    catalogue_song_play,
    catalogue_song_rate,
    catalogue_song_star,
    catalogue_song_unstar,
)
from library import selectors, services
from library.models import PlaybackState
from sources.base import ExternalItem
from subsonic import external, ids
from subsonic.call import Call
from subsonic.errors import invalid_parameter, missing_parameter
from subsonic.ids import Kind

_KINDS: dict[Kind, Literal["track", "album", "artist"]] = {
    Kind.TRACK: "track",
    Kind.ALBUM: "album",
    Kind.ARTIST: "artist",
}
_ANY = tuple(_KINDS)


def _decoded(call: Call, raw: str, *, allowed: tuple[Kind, ...] = _ANY) -> tuple[Kind, int] | ExternalItem:
    """A library item, or an external song the caller may act on (checked before anything is written)."""
    decoded = ids.decode_or_external(raw, allowed=allowed, bare=Kind.TRACK)
    return external.require_song(user=call.user, ref=decoded) if isinstance(decoded, ExternalItem) else decoded


def _targets(call: Call) -> tuple[dict[Literal["track", "album", "artist"], list[int]], list[ExternalItem]]:
    """`id` may name any kind (its prefix tells which); `albumId` and `artistId` are the ID3-era spellings."""
    targets: dict[Literal["track", "album", "artist"], list[int]] = {"track": [], "album": [], "artist": []}
    remote: list[ExternalItem] = []
    for raw in call.params.values("id"):
        decoded = _decoded(call, raw)
        if isinstance(decoded, ExternalItem):
            remote.append(decoded)
        else:
            targets[_KINDS[decoded[0]]].append(decoded[1])
    targets["album"] += [ids.decode_as(raw, Kind.ALBUM) for raw in call.params.values("albumId")]
    targets["artist"] += [ids.decode_as(raw, Kind.ARTIST) for raw in call.params.values("artistId")]
    if not any(targets.values()) and not remote:
        raise missing_parameter("id")
    return targets, remote


def _star(call: Call, starred: bool) -> None:
    targets, remote = _targets(call)
    for kind, item_ids in targets.items():
        if item_ids:
            services.star_set(user=call.user, kind=kind, ids=item_ids, starred=starred)
    for ref in remote:
        (catalogue_song_star if starred else catalogue_song_unstar)(user=call.user, item=ref)


def star(call: Call) -> None:
    _star(call, True)


def unstar(call: Call) -> None:
    _star(call, False)


def set_rating(call: Call) -> None:
    decoded = _decoded(call, call.params.required("id"))
    rating = call.params.int_required("rating")
    if not 0 <= rating <= 5:
        raise invalid_parameter("rating", "must be 0 (remove) to 5")
    if isinstance(decoded, ExternalItem):
        catalogue_song_rate(user=call.user, item=decoded, rating=rating)
        return
    kind, pk = decoded
    services.rating_set(user=call.user, kind=_KINDS[kind], item_id=pk, rating=rating)


def scrobble(call: Call) -> None:
    """`submission=true` (default) records plays at the given times (ms, one per id); false reports the song
    that just started playing on the client (`c` names the player)."""
    songs = [_decoded(call, raw, allowed=(Kind.TRACK,)) for raw in call.params.values("id")]
    if not songs:
        raise missing_parameter("id")
    times = call.params.datetimes_ms("time")
    if times and len(times) != len(songs):
        raise invalid_parameter("time", "give one time per id, or none")
    submission = call.params.flag("submission", True)
    # Every id is checked before anything is written.
    items = [song if isinstance(song, ExternalItem) else selectors.track_get(track_id=song[1]) for song in songs]
    for i, item in enumerate(items):
        played_at = times[i] if times else None
        if isinstance(item, ExternalItem):
            if submission:
                catalogue_song_play(user=call.user, item=item, played_at=played_at, client=call.client)
            else:
                catalogue_song_now_playing(user=call.user, item=item)
        elif submission:
            services.play_submit(user=call.user, track=item, played_at=played_at, client=call.client)
        else:
            services.now_playing_set(user=call.user, track=item, player=call.client)


def report_playback(call: Call) -> None:
    """OpenSubsonic `playbackReport`: the player's timeline state (`c` names the player)."""
    params = call.params
    song = _decoded(call, params.required("mediaId"), allowed=(Kind.TRACK,))
    if params.choice("mediaType", ("song", "podcast")) != "song":
        raise invalid_parameter("mediaType", "this server has no podcasts")
    position_ms = params.int_required("positionMs", minimum=0)
    state = PlaybackState(params.choice("state", PlaybackState.values))
    playback_rate = params.number("playbackRate", 1.0)
    ignore_scrobble = params.flag("ignoreScrobble", False)
    if isinstance(song, ExternalItem):
        catalogue_song_now_playing(user=call.user, item=song)
        return
    services.playback_report(
        user=call.user,
        track=selectors.track_get(track_id=song[1]),
        player=call.client,
        state=state,
        position_ms=position_ms,
        playback_rate=playback_rate,
        ignore_scrobble=ignore_scrobble,
    )
