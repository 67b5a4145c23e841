"""search2 / search3. An empty query (also `""`, `''`, `*`) pages through the whole library: the sync path.

A non-empty query also brings the external catalogue's hits (`downloads.services.catalogue_search`) of the
sources players can name (all, or the music folder's), after the library's, on the first page of each kind only:
players page through the library, and the source's first page is all it offers.
"""

from __future__ import annotations

from downloads.services import catalogue_search_start
from library import selectors
from subsonic import builders, ids
from subsonic.call import Call
from subsonic.responses import Node

DEFAULT_COUNT = 20
# Not a paging limit (clients page by the count they asked for and stop on a short page), only a safety cap.
MAX_COUNT = 10_000


def _search(call: Call, element: str, *, id3: bool) -> Node:
    params = call.params
    query = params.text("query") or ""
    counts = {
        kind: params.int_or(f"{kind}Count", DEFAULT_COUNT, minimum=0, maximum=MAX_COUNT)
        for kind in ("artist", "album", "song")
    }
    offsets = {kind: params.int_or(f"{kind}Offset", 0, minimum=0) for kind in ("artist", "album", "song")}
    source = call.folder_source()
    remote = catalogue_search_start(
        user=call.user,
        query=selectors.search_query_text(query),
        sources=[name for name in ids.EXTERNAL_SOURCES.values() if source in (None, name)],
        **{f"{kind}_count": counts[kind] if offsets[kind] == 0 else 0 for kind in counts},
    )
    library = selectors.library_search(
        user=call.user,
        query=query,
        artist_count=counts["artist"],
        artist_offset=offsets["artist"],
        album_count=counts["album"],
        album_offset=offsets["album"],
        song_count=counts["song"],
        song_offset=offsets["song"],
        source=source,
    )
    hits = remote.hits()
    return builders.artists_albums_songs(
        element, library, call.profile, id3=id3, limits=call.playback_limits(), external=hits
    )


def search2(call: Call) -> Node:
    return _search(call, "searchResult2", id3=False)


def search3(call: Call) -> Node:
    return _search(call, "searchResult3", id3=True)
