"""search2/search3: folded matching, the empty-query full sync path, paging and a fixed query count."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from library import selectors, services
from library.models import Track
from tests.factories.library import AlbumFactory, TrackFactory
from tests.subsonic.conftest import Library
from tests.subsonic.support import SubsonicClient


def _titles(api: SubsonicClient, fmt: str, method: str = "search3", **params: Any) -> list[str]:
    reply = api.call(method, fmt, **params)
    assert reply.ok, reply.body
    key = "searchResult3" if method == "search3" else "searchResult2"
    return [s["title"] for s in reply.items(key, "song")]


@pytest.mark.parametrize("method", ["search2", "search3"])
def test_accent_and_case_insensitive(api: SubsonicClient, library: Library, fmt: str, method: str) -> None:
    key = "searchResult3" if method == "search3" else "searchResult2"
    reply = api.call(method, fmt, query="BJORK")
    assert [a["name"] for a in reply.items(key, "artist")] == ["Björk"]
    assert [a.get("name", a.get("title")) for a in reply.items(key, "album")] == ["Début"]
    assert sorted(s["title"] for s in reply.items(key, "song")) == ["Human Behaviour", "Venus as a Boy"]
    assert _titles(api, fmt, method, query="debut") == ["Human Behaviour", "Venus as a Boy"]


def test_all_words_must_match(api: SubsonicClient, library: Library, fmt: str) -> None:
    assert _titles(api, fmt, query="sun here") == ["Here Comes the Sun"]
    assert _titles(api, fmt, query="sun yesterday") == []


def test_trailing_wildcard_is_ignored(api: SubsonicClient, library: Library, fmt: str) -> None:
    assert _titles(api, fmt, query="yester*") == ["Yesterday"]


def test_like_wildcards_are_literal(api: SubsonicClient, library: Library, fmt: str) -> None:
    assert _titles(api, fmt, query="%") == []
    assert _titles(api, fmt, query="_") == []


@pytest.mark.parametrize("query", ["", '""', "''", "*", None])
def test_empty_query_returns_everything_in_stable_order(
    api: SubsonicClient, library: Library, fmt: str, query: str | None
) -> None:
    reply = api.call("search3", fmt, query=query, songCount=500, albumCount=500, artistCount=500)
    assert reply.ids("searchResult3", "song") == [f"tr-{t.pk}" for t in sorted(library.tracks, key=lambda t: t.pk)]
    assert len(reply.items("searchResult3", "album")) == 3
    assert len(reply.items("searchResult3", "artist")) == 2


def test_symfonium_style_sync_pages_through_every_song_once(api: SubsonicClient, library: Library, fmt: str) -> None:
    seen: list[str] = []
    offset = 0
    while True:
        reply = api.call("search3", fmt, query='""', songCount=3, songOffset=offset, albumCount=0, artistCount=0)
        assert reply.items("searchResult3", "album") == []
        assert reply.items("searchResult3", "artist") == []
        page = reply.ids("searchResult3", "song")
        seen += page
        if len(page) < 3:
            break
        offset += 3
    assert sorted(seen) == sorted(f"tr-{t.pk}" for t in library.tracks)
    assert len(seen) == len(set(seen)) == 7


def test_counts_and_offsets_per_kind(api: SubsonicClient, library: Library, fmt: str) -> None:
    reply = api.call("search3", fmt, query="", artistCount=1, artistOffset=1, albumCount=2, songCount=0)
    assert len(reply.items("searchResult3", "artist")) == 1
    assert len(reply.items("searchResult3", "album")) == 2
    assert reply.items("searchResult3", "song") == []


def test_default_counts_are_twenty(api: SubsonicClient, library: Library, fmt: str) -> None:
    album = AlbumFactory.create()
    TrackFactory.create_batch(25, album=album)
    assert len(_titles(api, fmt, query="")) == 20


def test_missing_tracks_are_not_found(api: SubsonicClient, library: Library, fmt: str) -> None:
    Track.objects.filter(title="Yesterday").update(is_missing=True)
    assert _titles(api, fmt, query="yesterday") == []


@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("search3", {"query": "", "songCount": 500, "albumCount": 500, "artistCount": 500}),
        ("search3", {"query": "a"}),
        ("getAlbumList2", {"type": "alphabeticalByName", "size": 500}),
        ("getAlbumList", {"type": "newest", "size": 500}),
        ("getArtists", {}),
        ("getIndexes", {}),
        ("getRandomSongs", {"size": 500}),
        ("getStarred2", {}),
    ],
)
def test_query_count_does_not_grow_with_the_library(
    api: SubsonicClient, library: Library, method: str, params: dict[str, Any]
) -> None:
    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert api.call(method, "json", **params).ok
        return len(queries)

    # Every list non-empty from the start: an empty page legitimately skips its genre query.
    services.star_set(user=api_user(api), kind="album", ids=[library.abbey.pk], starred=True)
    services.star_set(user=api_user(api), kind="track", ids=[library.tracks[0].pk], starred=True)
    services.star_set(user=api_user(api), kind="artist", ids=[library.bjork.pk], starred=True)
    selectors.playback_limits(user=api_user(api), client="pytest")  # the player profiles, read once
    before = count()
    for _ in range(3):
        album = AlbumFactory.create()
        TrackFactory.create_batch(10, album=album)
        services.star_set(user=api_user(api), kind="album", ids=[album.pk], starred=True)
    assert count() == before


def api_user(api: SubsonicClient) -> User:
    return User.objects.get(username=api.username)
