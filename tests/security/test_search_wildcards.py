"""LIKE wildcards in every search match literally (Navidrome CVE-2024-47062: `%` matched everything).

The library holds one item of each kind whose name contains each wildcard, and decoys that a wildcard would
match; every search for a wildcard must return exactly the items holding that literal character."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from library.ingest.refresh import albums_refresh
from tests.factories.library import AlbumFactory, ArtistFactory, GenreFactory, TrackFactory
from tests.subsonic.support import SubsonicClient

pytestmark = [pytest.mark.django_db, pytest.mark.security]

# name stem -> the wildcard it carries; "plain" and "pxain" are what `p_ain` or `%` would also match
STEMS = {"100% pure": "%", "snake_case": "_", "back\\slash": "\\", "plain": None, "pxain": None}
WILDCARD_QUERIES = ["%", "_", "\\", "%%", "0%", "e_c", "k\\s", "p_ain", "p%n"]


def _expected(query: str) -> set[str]:
    return {stem for stem in STEMS if query in stem}


@pytest.fixture
def wildcard_library(db: None) -> None:
    for n, stem in enumerate(STEMS):
        genre = GenreFactory.create(name=f"{stem} genre")
        artist = ArtistFactory.create(name=f"{stem} artist")
        album = AlbumFactory.create(name=f"{stem} album", album_artist=artist)
        track = TrackFactory.create(album=album, title=f"{stem} song", track_number=n + 1)
        track.genres.add(genre)
        albums_refresh([album.pk])


def _stems(names: list[str]) -> set[str]:
    found = set()
    for name in names:
        stem = next((s for s in STEMS if name.startswith(s)), None)
        assert stem is not None, f"unexpected match {name!r}"
        found.add(stem)
    return found


@pytest.mark.parametrize("query", WILDCARD_QUERIES)
def test_rest_search_matches_wildcards_literally(wildcard_library: None, owner_rest: APIClient, query: str) -> None:
    combined = owner_rest.get("/api/v1/search", {"q": query, "external": "false"})
    assert combined.status_code == 200
    body = combined.json()
    for kind, field in (("artists", "name"), ("albums", "name"), ("tracks", "title")):
        assert _stems([item[field] for item in body[kind]]) == _expected(query), (kind, query)
    for path, field in (("artists", "name"), ("albums", "name"), ("tracks", "title"), ("genres", "name")):
        response = owner_rest.get(f"/api/v1/{path}", {"q": query, "page_size": "100"})
        assert response.status_code == 200, path
        assert _stems([item[field] for item in response.json()["results"]]) == _expected(query), (path, query)


@pytest.mark.parametrize("method", ["search2", "search3"])
@pytest.mark.parametrize("query", WILDCARD_QUERIES)
def test_subsonic_search_matches_wildcards_literally(
    wildcard_library: None, owner_sub: SubsonicClient, method: str, query: str, fmt: str
) -> None:
    root = "searchResult2" if method == "search2" else "searchResult3"
    reply = owner_sub.call(method, fmt, query=query)
    assert reply.ok
    assert _stems([a["name"] for a in reply.items(root, "artist")]) == _expected(query)
    assert _stems([a["name"] if "name" in a else a["title"] for a in reply.items(root, "album")]) == _expected(query)
    assert _stems([s["title"] for s in reply.items(root, "song")]) == _expected(query)


@pytest.mark.parametrize("genre", ["%", "_", "\\", "%genre", "_lain genre"])
def test_subsonic_genre_and_artist_lookups_take_wildcards_literally(
    wildcard_library: None, owner_sub: SubsonicClient, genre: str, fmt: str
) -> None:
    assert owner_sub.call("getSongsByGenre", fmt, genre=genre).items("songsByGenre", "song") == []
    random = owner_sub.call("getRandomSongs", fmt, genre=genre, size=50)
    assert random.items("randomSongs", "song") == []
    assert owner_sub.call("getTopSongs", fmt, artist=genre).items("topSongs", "song") == []
    lyrics = owner_sub.call("getLyrics", fmt, artist=genre, title="%")
    assert lyrics.ok
    assert lyrics.one("lyrics").get("title") is None


def test_subsonic_genre_lookup_still_finds_the_literal_name(wildcard_library: None, owner_sub: SubsonicClient) -> None:
    songs = owner_sub.call("getSongsByGenre", "json", genre="100% pure genre").items("songsByGenre", "song")
    assert [s["title"] for s in songs] == ["100% pure song"]
