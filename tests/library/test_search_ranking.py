"""Search ranking: the order a fixed set of titles comes back in, shared by search2/search3 and the REST search."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.db.models import QuerySet
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from library import selectors, services
from library.selectors import search
from tests.factories.accounts import UserFactory
from tests.factories.library import AlbumFactory, ArtistFactory, TrackFactory

pytestmark = pytest.mark.django_db

TITLES = ["Lovely Day", "Love", "Glove Box", "Love Song", "Endless Love", "I Love You", "Beloved", "Day"]


def _search(user: User, query: str, count: int = 20) -> list[str]:
    result = selectors.library_search(
        user=user,
        query=query,
        artist_count=0,
        artist_offset=0,
        album_count=0,
        album_offset=0,
        song_count=count,
        song_offset=0,
    )
    return [track.title for track in result.tracks]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # Exact, then starting with (alphabetical among equals), then whole word, then fragments inside words.
        ("love", ["Love", "Love Song", "Lovely Day", "Endless Love", "I Love You", "Beloved", "Glove Box"]),
        ("LÖVE", ["Love", "Love Song", "Lovely Day", "Endless Love", "I Love You", "Beloved", "Glove Box"]),
        ("day", ["Day", "Lovely Day"]),
        ("love song", ["Love Song"]),
        ("ove", ["Beloved", "Endless Love", "Glove Box", "I Love You", "Love", "Love Song", "Lovely Day"]),
    ],
)
def test_title_ranking_table(query: str, expected: list[str]) -> None:
    album = AlbumFactory.create(album_artist=ArtistFactory.create(name="Nobody"), name="Nothing")
    for title in TITLES:
        TrackFactory.create(title=title, album=album)
    assert _search(UserFactory.create(), query) == expected


def test_ties_go_to_the_most_played_then_the_starred() -> None:
    user = UserFactory.create()
    album = AlbumFactory.create(album_artist=ArtistFactory.create(name="Nobody"), name="Nothing")
    TrackFactory.create(title="Love A", album=album)
    starred, played = (TrackFactory.create(title=title, album=album) for title in ("Love B", "Love C"))
    services.star_set(user=user, kind="track", ids=[starred.pk], starred=True)
    services.play_record(user=user, track=played)
    assert _search(user, "love") == ["Love C", "Love B", "Love A"]
    assert _search(UserFactory.create(), "love") == ["Love A", "Love B", "Love C"]  # popularity is per user


def test_words_match_across_artist_and_title() -> None:
    beatles = ArtistFactory.create(name="The Beatles")
    TrackFactory.create(title="Yesterday", album=AlbumFactory.create(album_artist=beatles, name="Help!"))
    TrackFactory.create(title="Yesterday Once More", album=AlbumFactory.create(name="Now & Then"))
    assert _search(UserFactory.create(), "beatles yesterday") == ["Yesterday"]
    assert _search(UserFactory.create(), "yesterday") == ["Yesterday", "Yesterday Once More"]


def test_artists_and_albums_rank_the_same_way() -> None:
    for name in ("Blue Lagoon", "Blue", "Deep Blue", "Bluer"):
        TrackFactory.create(album=AlbumFactory.create(name=name, album_artist=ArtistFactory.create(name=name)))
    user = UserFactory.create()
    result = selectors.library_search(
        user=user,
        query="blue",
        artist_count=10,
        artist_offset=0,
        album_count=10,
        album_offset=0,
        song_count=0,
        song_offset=0,
    )
    expected = ["Blue", "Blue Lagoon", "Bluer", "Deep Blue"]
    assert [artist.name for artist in result.artists] == expected
    assert [album.name for album in result.albums] == expected


def test_rest_search_ranks_too() -> None:
    album = AlbumFactory.create(album_artist=ArtistFactory.create(name="Nobody"), name="Nothing")
    for title in TITLES:
        TrackFactory.create(title=title, album=album)
    user = UserFactory.create()
    ranked = selectors.search_ordered(selectors.tracks_list(user=user), query="day")
    assert [track.title for track in ranked] == ["Day", "Lovely Day"]


def _assert_pages_are_slices(base: QuerySet[Any], *, queries: tuple[str, ...]) -> None:
    for query in queries:
        ranked = list(selectors.search_ordered(base, query=query).values_list("pk", flat=True))
        assert ranked, query
        for count in (1, 2, 3, 5, 20):
            for offset in range(len(ranked) + 1):
                page = selectors.search_page_pks(base, query=query, offset=offset, count=count)
                assert page == ranked[offset : offset + count], (query, offset, count)


# How many matches per wanted item make a query common: 0, every query (the whole-word and fragment classes are
# walked in name order after the user's played and starred items); 1, those with more matches than the page's end
# (a mix); the default, none here (the matches after the leading ones are ranked at once).
COMMONNESS = pytest.mark.parametrize("matches_per_wanted", [0, 1, search._COMMON_MATCHES_PER_WANTED])


@COMMONNESS
def test_track_pages_are_the_ranked_order_however_they_are_found(
    monkeypatch: pytest.MonkeyPatch, matches_per_wanted: int
) -> None:
    """Pages are cut from the ranking's parts, each found its own way: every page, at every offset and size, must
    be the same slice of the whole ranking."""
    monkeypatch.setattr(search, "_COMMON_MATCHES_PER_WANTED", matches_per_wanted)
    user, other = UserFactory.create(), UserFactory.create()
    album = AlbumFactory.create(album_artist=ArtistFactory.create(name="Nobody"), name="Nothing")
    titles = [*TITLES, "Love", "LOVE me do", "Love_Song", "Lovesick", "Glove", "Love%", "Gloves", "Cloves"]
    tracks = {title: TrackFactory.create(title=title, album=album) for title in titles}
    lovers = AlbumFactory.create(album_artist=ArtistFactory.create(name="Lovers"), name="Midnight")
    for title in ("Walking", "Running", "Endless Loves"):
        tracks[title] = TrackFactory.create(title=title, album=lovers, artist=lovers.album_artist)
    for title in ("Lovely Day", "Beloved", "Beloved", "Running"):
        services.play_record(user=user, track=tracks[title])
    services.play_record(user=other, track=tracks["Gloves"])
    services.star_set(user=user, kind="track", ids=[tracks["Love%"].pk, tracks["Glove Box"].pk], starred=True)
    services.star_set(user=user, kind="track", ids=[tracks["Beloved"].pk], starred=True)  # played and starred
    for title in ("Cloves", "Lovesick"):  # an annotation row, but neither played nor starred
        services.rating_set(user=user, kind="track", item_id=tracks[title].pk, rating=3)
    base = selectors.subsonic_tracks(user=user, source=None)
    _assert_pages_are_slices(base, queries=("love", "love s", "love_", "lo", "ove", "lovers walk"))


@COMMONNESS
def test_album_and_artist_pages_are_the_ranked_order_however_they_are_found(
    monkeypatch: pytest.MonkeyPatch, matches_per_wanted: int
) -> None:
    monkeypatch.setattr(search, "_COMMON_MATCHES_PER_WANTED", matches_per_wanted)
    user = UserFactory.create()
    albums = {title: AlbumFactory.create(album_artist=ArtistFactory.create(name=title), name=title) for title in TITLES}
    for album in albums.values():
        TrackFactory.create(title="Untitled", album=album, artist=album.album_artist)
    services.star_set(user=user, kind="album", ids=[albums["Glove Box"].pk], starred=True)
    services.star_set(user=user, kind="artist", ids=[albums["Beloved"].album_artist_id], starred=True)
    for base in (selectors.albums_base(user=user, source=None), selectors.subsonic_artists(user=user)):
        _assert_pages_are_slices(base, queries=("love", "ove", "day"))


def test_leading_titles_come_from_an_index_range_on_sqlite() -> None:
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's LIKE cannot use the key's index: the range is SQLite's")
    TrackFactory.create(title="Love Song")
    user = UserFactory.create()
    base = selectors.subsonic_tracks(user=user, source=None)
    with CaptureQueriesContext(connection) as captured:
        assert len(selectors.search_page_pks(base, query="love", offset=0, count=1)) == 1
    query = captured.captured_queries[-1]
    with connection.cursor() as cursor:
        plan = " ".join(str(row) for row in cursor.execute(f"EXPLAIN QUERY PLAN {query['sql']}").fetchall())
    assert "title_key>? AND title_key<?" in plan, plan


@pytest.mark.parametrize("query", ["love", "ove"])
def test_a_common_query_walks_the_title_index_on_sqlite(monkeypatch: pytest.MonkeyPatch, query: str) -> None:
    """The unplayed, unstarred items of a common rank class come from a walk of the title index in order (no
    sort of every match), leading titles ("love") as well as fragments ("ove"), and the walk ends the page."""
    if connection.vendor != "sqlite":
        pytest.skip("the plans are SQLite's")
    monkeypatch.setattr(search, "_COMMON_MATCHES_PER_WANTED", 0)
    album = AlbumFactory.create(album_artist=ArtistFactory.create(name="Nobody"), name="Nothing")
    for title in ("Lovely", "Loved", "Glove", "Cloves"):
        TrackFactory.create(title=title, album=album)
    user = UserFactory.create()
    base = selectors.subsonic_tracks(user=user, source=None)
    with CaptureQueriesContext(connection) as captured:
        assert len(selectors.search_page_pks(base, query=query, offset=0, count=1)) == 1
    with connection.cursor() as cursor:
        plan = [row[-1] for row in cursor.execute(f"EXPLAIN QUERY PLAN {captured.captured_queries[-1]['sql']}")]
    assert any("library_track USING INDEX library_track_title_key" in step for step in plan), plan
    assert "USE TEMP B-TREE FOR ORDER BY" not in plan, plan


def test_the_played_items_of_a_common_query_are_walked_by_play_count_on_sqlite(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A user who played thousands of tracks: their played items of a common rank class come from a walk of
    their annotation rows by play count, not from reading every one of them."""
    if connection.vendor != "sqlite":
        pytest.skip("the plans are SQLite's")
    monkeypatch.setattr(search, "_COMMON_MATCHES_PER_WANTED", 0)
    user = UserFactory.create()
    services.play_record(user=user, track=TrackFactory.create(title="Glove"))
    base = selectors.subsonic_tracks(user=user, source=None)
    with CaptureQueriesContext(connection) as captured:
        assert len(selectors.search_page_pks(base, query="ove", offset=0, count=1)) == 1
    with connection.cursor() as cursor:
        plan = [row[-1] for row in cursor.execute(f"EXPLAIN QUERY PLAN {captured.captured_queries[-1]['sql']}")]
    assert plan[0].startswith("SEARCH mine USING INDEX track_ann_frequent_idx"), plan
    assert "USE TEMP B-TREE FOR ORDER BY" not in plan, plan  # only for the ties within a play count


def test_the_catalog_search_leaves_out_missing_tracks_however_they_match() -> None:
    """The search index holds present tracks only; the titles starting with the query come from the title's own
    index, and a missing one among them must not be found either."""
    album = AlbumFactory.create(album_artist=ArtistFactory.create(name="Nobody"), name="Nothing")
    present = TrackFactory.create(title="Love Song", album=album)
    TrackFactory.create(title="Love Lost", album=album, is_missing=True)
    TrackFactory.create(title="Glove Lost", album=album, is_missing=True)
    for query in ("love", "ove", "lost"):
        hits = selectors.catalog_search(user=UserFactory.create(), query=query, limit=10)
        assert [track.pk for track in hits.tracks] == ([present.pk] if query != "lost" else []), query
