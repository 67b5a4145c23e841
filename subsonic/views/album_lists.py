"""Album and song lists: getAlbumList/2, getRandomSongs, getSongsByGenre, getNowPlaying, getStarred/2."""

from __future__ import annotations

from django.utils import timezone

from library import selectors
from library.selectors import AlbumListType, AlbumRow
from subsonic import builders
from subsonic.call import Call
from subsonic.errors import invalid_parameter, missing_parameter
from subsonic.responses import Node

MAX_SIZE = 500
DEFAULT_SIZE = 10


def _albums(call: Call) -> list[AlbumRow]:
    raw_type = call.params.required("type")
    try:
        list_type = AlbumListType(raw_type)
    except ValueError:
        raise invalid_parameter("type", f"unknown list type {raw_type[:40]!r}") from None
    params = call.params
    from_year = to_year = None
    genre = ""
    if list_type is AlbumListType.BY_YEAR:
        from_year = params.int_required("fromYear")
        to_year = params.int_required("toYear")
    elif list_type is AlbumListType.BY_GENRE:
        genre = params.required("genre")
    return selectors.album_list(
        user=call.user,
        list_type=list_type,
        size=params.int_or("size", DEFAULT_SIZE, minimum=0, maximum=MAX_SIZE),
        offset=params.int_or("offset", 0, minimum=0),
        from_year=from_year,
        to_year=to_year,
        genre=genre,
        source=call.folder_source(),
    )


def get_album_list(call: Call) -> Node:
    node = Node("albumList")
    node.add_list("album", [builders.album_child(album, call.profile) for album in _albums(call)])
    return node


def get_album_list2(call: Call) -> Node:
    node = Node("albumList2")
    node.add_list("album", [builders.album_id3(album, call.profile) for album in _albums(call)])
    return node


def get_random_songs(call: Call) -> Node:
    params = call.params
    tracks = selectors.tracks_random(
        user=call.user,
        size=params.int_or("size", DEFAULT_SIZE, minimum=0, maximum=MAX_SIZE),
        genre=params.text("genre") or "",
        from_year=params.integer("fromYear"),
        to_year=params.integer("toYear"),
        source=call.folder_source(),
    )
    node = Node("randomSongs")
    limits = call.playback_limits()
    node.add_list("song", [builders.song(track, call.profile, limits=limits) for track in tracks])
    return node


def get_songs_by_genre(call: Call) -> Node:
    params = call.params
    genre = params.text("genre")
    if not genre:
        raise missing_parameter("genre")
    tracks = selectors.tracks_by_genre(
        user=call.user,
        genre=genre,
        count=params.int_or("count", DEFAULT_SIZE, minimum=0, maximum=MAX_SIZE),
        offset=params.int_or("offset", 0, minimum=0),
        source=call.folder_source(),
    )
    node = Node("songsByGenre")
    limits = call.playback_limits()
    node.add_list("song", [builders.song(track, call.profile, limits=limits) for track in tracks])
    return node


def get_now_playing(call: Call) -> Node:
    now = timezone.now()
    node = Node("nowPlaying")
    entries = selectors.now_playing_list(user=call.user)
    limits = call.playback_limits()
    node.add_list("entry", [builders.now_playing_entry(item, call.profile, now=now, limits=limits) for item in entries])
    return node


def get_starred(call: Call) -> Node:
    starred = selectors.starred_items(user=call.user, source=call.folder_source())
    return builders.artists_albums_songs("starred", starred, call.profile, id3=False, limits=call.playback_limits())


def get_starred2(call: Call) -> Node:
    starred = selectors.starred_items(user=call.user, source=call.folder_source())
    return builders.artists_albums_songs("starred2", starred, call.profile, id3=True, limits=call.playback_limits())
