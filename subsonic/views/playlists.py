"""Playlists: songs are `<entry>` elements (DSub and play:Sub show empty playlists otherwise).

An `ext-` song id (not in the library yet) may be added: its download is requested and the entry appears, at
the place the player gave it, when the download lands.
"""

from __future__ import annotations

from accounts.selectors import user_get_by_username
from downloads.services import catalogue_song_playlist_add
from library import selectors, services
from library.models import Playlist
from sources.base import ExternalItem
from subsonic import builders, external, ids
from subsonic.call import Call
from subsonic.errors import missing_parameter
from subsonic.ids import Kind
from subsonic.responses import Node


def get_playlists(call: Call) -> Node:
    owner = call.user
    username = call.params.text("username")
    if username and username != owner.username:
        call.require_admin()
        owner = user_get_by_username(username=username)
    node = Node("playlists")
    items = selectors.playlists_visible(user=owner)
    node.add_list("playlist", [builders.playlist(item, call.profile, viewer=call.user) for item in items])
    return node


def _playlist(call: Call, param: str) -> Playlist:
    return selectors.playlist_get(user=call.user, playlist_id=ids.decode_as(call.params.required(param), Kind.PLAYLIST))


def _with_entries(call: Call, playlist: Playlist) -> Node:
    # Re-read through the selector so counts and duration reflect the write that just happened.
    fresh = selectors.playlist_get(user=call.user, playlist_id=playlist.pk)
    tracks = selectors.playlist_tracks(user=call.user, playlist=fresh)
    return builders.playlist_with_entries(fresh, tracks, call.profile, viewer=call.user, limits=call.playback_limits())


def get_playlist(call: Call) -> Node:
    return _with_entries(call, _playlist(call, "id"))


def _songs(call: Call, param: str) -> tuple[list[int], list[tuple[int, ExternalItem]]]:
    return external.songs_split(user=call.user, raw_ids=call.params.values(param))


def _external_entries(
    call: Call, playlist: Playlist, remote: list[tuple[int, ExternalItem]], *, at_end: bool = False
) -> None:
    for position, ref in remote:
        catalogue_song_playlist_add(user=call.user, item=ref, playlist=playlist, position=None if at_end else position)


def create_playlist(call: Call) -> Node:
    """With `playlistId` the songs of that playlist are replaced (and `name` renames it); else a new one."""
    song_ids, remote = _songs(call, "songId")
    name = call.params.text("name")
    if call.params.text("playlistId"):
        playlist = _playlist(call, "playlistId")
        playlist = services.playlist_tracks_replace(playlist=playlist, actor=call.user, track_ids=song_ids)
        if name:
            playlist = services.playlist_update(playlist=playlist, actor=call.user, name=name)
    else:
        if not name:
            raise missing_parameter("name")
        playlist = services.playlist_create(owner=call.user, name=name, track_ids=song_ids)
    _external_entries(call, playlist, remote)
    return _with_entries(call, playlist)


def update_playlist(call: Call) -> None:
    playlist = _playlist(call, "playlistId")
    add_ids, remote = _songs(call, "songIdToAdd")
    services.playlist_update(
        playlist=playlist,
        actor=call.user,
        name=call.params.text("name"),
        comment=call.params.text("comment"),
        is_public=call.params.flag_or_none("public"),
        add_track_ids=add_ids,
        remove_positions=call.params.integers("songIndexToRemove", minimum=0),
    )
    _external_entries(call, playlist, remote, at_end=True)


def delete_playlist(call: Call) -> None:
    services.playlist_delete(playlist=_playlist(call, "id"), actor=call.user)
