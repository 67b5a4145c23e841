"""search2 / search3. An empty query (also `""`, `''`, `*`) pages through the whole library: the sync path."""

from __future__ import annotations

from library import selectors
from subsonic import builders
from subsonic.call import Call
from subsonic.responses import Node

DEFAULT_COUNT = 20
# Not a paging limit (clients page by the count they asked for and stop on a short page), only a safety cap.
MAX_COUNT = 10_000


def _search(call: Call) -> selectors.SearchResult:
    params = call.params
    return selectors.library_search(
        user=call.user,
        query=params.text("query") or "",
        artist_count=params.int_or("artistCount", DEFAULT_COUNT, minimum=0, maximum=MAX_COUNT),
        artist_offset=params.int_or("artistOffset", 0, minimum=0),
        album_count=params.int_or("albumCount", DEFAULT_COUNT, minimum=0, maximum=MAX_COUNT),
        album_offset=params.int_or("albumOffset", 0, minimum=0),
        song_count=params.int_or("songCount", DEFAULT_COUNT, minimum=0, maximum=MAX_COUNT),
        song_offset=params.int_or("songOffset", 0, minimum=0),
        source=call.folder_source(),
    )


def search2(call: Call) -> Node:
    return builders.artists_albums_songs("searchResult2", _search(call), call.profile, id3=False)


def search3(call: Call) -> Node:
    return builders.artists_albums_songs("searchResult3", _search(call), call.profile, id3=True)
