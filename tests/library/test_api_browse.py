"""Browsing the library over REST: lists, details, filters, search, ordering, pagination and query counts."""

from __future__ import annotations

from typing import Any

import pytest

from library import services
from library.models import MetadataStatus, TrackArtist
from tests.factories.accounts import UserFactory
from tests.factories.library import AlbumFactory, ArtistFactory, GenreFactory, TrackFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def library() -> dict[str, Any]:
    rock, jazz = GenreFactory.create(name="Rock"), GenreFactory.create(name="Jazz")
    beyonce = ArtistFactory.create(name="Beyoncé")
    beatles = ArtistFactory.create(name="The Beatles")
    bjork = ArtistFactory.create(name="Björk")
    lemonade = AlbumFactory.create(name="Lemonade", album_artist=beyonce, year=2016)
    abbey = AlbumFactory.create(name="Abbey Road", album_artist=beatles, year=1969)
    debut = AlbumFactory.create(name="Début", album_artist=bjork, year=1993, is_compilation=False)
    lemonade.genres.add(rock)
    abbey.genres.add(rock)
    debut.genres.add(jazz)
    tracks = {
        "formation": TrackFactory.create(title="Formation", album=lemonade, year=2016, track_number=12),
        "hold_up": TrackFactory.create(title="Hold Up", album=lemonade, year=2016, track_number=2),
        "something": TrackFactory.create(title="Something", album=abbey, year=1969, track_number=2, source="youtube"),
        "come_together": TrackFactory.create(
            title="Come Together", album=abbey, year=1969, track_number=1, metadata_status=MetadataStatus.ENRICHED
        ),
        "human": TrackFactory.create(title="Human Behaviour", album=debut, year=1993, track_number=1),
    }
    tracks["formation"].genres.add(rock)
    tracks["human"].genres.add(jazz)
    # Björk features on a Beyoncé track: credited, not primary.
    TrackArtist.objects.create(track=tracks["hold_up"], artist=bjork, role="featured", position=1)
    return {"genres": (rock, jazz), "artists": (beyonce, beatles, bjork), "albums": (lemonade, abbey, debut), **tracks}


def ids(response: Any) -> list[int]:
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["results"]]


def test_lists_need_authentication(api_client_for: Any) -> None:
    for url in ("/api/v1/artists", "/api/v1/albums", "/api/v1/tracks", "/api/v1/genres", "/api/v1/search?q=a"):
        assert api_client_for(None).get(url).status_code == 401


def test_artist_list_and_search_is_accent_and_case_insensitive(api_client_for: Any, library: dict[str, Any]) -> None:
    client = api_client_for(UserFactory.create())
    beyonce, beatles, bjork = library["artists"]
    assert ids(client.get("/api/v1/artists")) == [beatles.pk, beyonce.pk, bjork.pk]  # sort names ignore "The"
    assert ids(client.get("/api/v1/artists", {"q": "BEYONCE"})) == [beyonce.pk]
    assert ids(client.get("/api/v1/artists", {"q": "björk"})) == [bjork.pk]
    assert ids(client.get("/api/v1/artists", {"q": "bjo"})) == [bjork.pk]
    assert ids(client.get("/api/v1/artists", {"q": "%"})) == []
    assert ids(client.get("/api/v1/artists", {"q": "_"})) == []


def test_artist_detail_nests_albums_in_a_fixed_number_of_queries(
    api_client_for: Any, library: dict[str, Any], django_assert_max_num_queries: Any
) -> None:
    beyonce = library["artists"][0]
    for n in range(8):
        AlbumFactory.create(album_artist=beyonce, year=2000 + n).genres.add(library["genres"][0])
    client = api_client_for(UserFactory.create())
    with django_assert_max_num_queries(6):
        data = client.get(f"/api/v1/artists/{beyonce.pk}").json()
    assert len(data["albums"]) == 9
    assert data["albums"][0]["genres"] == [{"id": library["genres"][0].pk, "name": "Rock"}]


def test_album_detail_nests_tracks_in_order_without_n_plus_one(
    api_client_for: Any, library: dict[str, Any], django_assert_max_num_queries: Any
) -> None:
    lemonade = library["albums"][0]
    for n in range(3, 13):
        TrackFactory.create(album=lemonade, track_number=n + 20).genres.add(library["genres"][0])
    client = api_client_for(UserFactory.create())
    with django_assert_max_num_queries(7):
        data = client.get(f"/api/v1/albums/{lemonade.pk}").json()
    numbers = [t["track_number"] for t in data["tracks"]]
    assert numbers == sorted(numbers)
    assert data["album_artist"]["name"] == "Beyoncé"
    assert len(data["tracks"]) == 12


def test_track_list_is_bounded_in_queries(
    api_client_for: Any, library: dict[str, Any], django_assert_max_num_queries: Any
) -> None:
    TrackFactory.create_batch(30)
    client = api_client_for(UserFactory.create())
    with django_assert_max_num_queries(6):
        response = client.get("/api/v1/tracks", {"page_size": 100})
    assert response.json()["count"] == 35


def test_album_filters(api_client_for: Any, library: dict[str, Any]) -> None:
    client = api_client_for(UserFactory.create())
    lemonade, abbey, debut = library["albums"]
    beyonce = library["artists"][0]
    jazz = library["genres"][1]
    assert ids(client.get("/api/v1/albums", {"artist": beyonce.pk})) == [lemonade.pk]
    assert ids(client.get("/api/v1/albums", {"genre": jazz.pk})) == [debut.pk]
    assert set(ids(client.get("/api/v1/albums", {"year_min": 1990}))) == {lemonade.pk, debut.pk}
    assert ids(client.get("/api/v1/albums", {"year_min": 1960, "year_max": 1970})) == [abbey.pk]
    assert ids(client.get("/api/v1/albums", {"source": "youtube"})) == [abbey.pk]
    assert ids(client.get("/api/v1/albums", {"q": "debut"})) == [debut.pk]
    # A folder's albums are those with a file there, as in Subsonic's musicFolderId: a missing one does not count.
    library["something"].is_missing = True
    library["something"].save(update_fields=["is_missing"])
    assert ids(client.get("/api/v1/albums", {"source": "youtube"})) == []
    assert ids(client.get("/api/v1/albums", {"q": "beatles road"})) == [abbey.pk]  # words across album and artist
    assert ids(client.get("/api/v1/albums", {"ordering": "-year"})) == [lemonade.pk, debut.pk, abbey.pk]


def test_track_filters(api_client_for: Any, library: dict[str, Any]) -> None:
    client = api_client_for(UserFactory.create())
    lemonade = library["albums"][0]
    bjork = library["artists"][2]
    rock = library["genres"][0]
    assert set(ids(client.get("/api/v1/tracks", {"album": lemonade.pk}))) == {
        library["formation"].pk,
        library["hold_up"].pk,
    }
    assert set(ids(client.get("/api/v1/tracks", {"artist": bjork.pk}))) == {library["human"].pk, library["hold_up"].pk}
    assert ids(client.get("/api/v1/tracks", {"genre": rock.pk})) == [library["formation"].pk]
    assert ids(client.get("/api/v1/tracks", {"source": "youtube"})) == [library["something"].pk]
    assert ids(client.get("/api/v1/tracks", {"metadata_status": "enriched"})) == [library["come_together"].pk]
    assert ids(client.get("/api/v1/tracks", {"year_max": 1970, "ordering": "title"})) == [
        library["come_together"].pk,
        library["something"].pk,
    ]
    assert ids(client.get("/api/v1/tracks", {"q": "HUMAN behaviour"})) == [library["human"].pk]
    assert ids(client.get("/api/v1/tracks", {"q": "björk"})) == [library["human"].pk]


def test_starred_filter_is_per_user(api_client_for: Any, library: dict[str, Any]) -> None:
    me, other = UserFactory.create(), UserFactory.create()
    services.star_set(user=me, kind="track", ids=[library["human"].pk], starred=True)
    services.star_set(user=other, kind="track", ids=[library["formation"].pk], starred=True)
    services.star_set(user=me, kind="album", ids=[library["albums"][1].pk], starred=True)
    client = api_client_for(me)
    assert ids(client.get("/api/v1/tracks", {"starred": "true"})) == [library["human"].pk]
    assert len(ids(client.get("/api/v1/tracks", {"starred": "false"}))) == 4
    assert ids(client.get("/api/v1/albums", {"starred": "true"})) == [library["albums"][1].pk]
    track = client.get(f"/api/v1/tracks/{library['human'].pk}").json()
    assert track["starred_at"] is not None


@pytest.mark.parametrize(
    ("url", "params"),
    [
        ("/api/v1/tracks", {"ordering": "password"}),
        ("/api/v1/tracks", {"ordering": "album__album_artist__name"}),
        ("/api/v1/tracks", {"year_min": "abc"}),
        ("/api/v1/tracks", {"year_min": "99999999999999999999999"}),
        ("/api/v1/tracks", {"album": "99999999999999999999999"}),
        ("/api/v1/tracks", {"metadata_status": "bogus"}),
        ("/api/v1/tracks", {"q": "nul\x00byte"}),
        ("/api/v1/tracks", {"page_size": "-1", "page": "x"}),
        ("/api/v1/albums", {"genre": "-5"}),
        ("/api/v1/artists", {"starred": "maybe"}),
    ],
)
def test_bad_filter_values_are_400_or_ignored_never_500(api_client_for: Any, url: str, params: dict[str, str]) -> None:
    response = api_client_for(UserFactory.create()).get(url, params)
    assert response.status_code in (200, 400, 404)
    if response.status_code != 200:
        assert set(response.json()["error"]) == {"code", "message", "details"}


def test_unknown_query_params_are_not_orm_filters(api_client_for: Any, library: dict[str, Any]) -> None:
    """No generic ?field= filtering: an unknown param never narrows results (no ORM-leak oracle)."""
    client = api_client_for(UserFactory.create())
    everything = ids(client.get("/api/v1/tracks"))
    assert ids(client.get("/api/v1/tracks", {"path__startswith": "zzz", "title": "nothing"})) == everything


def test_pagination_is_stable_with_ties(api_client_for: Any) -> None:
    album = AlbumFactory.create(year=2000)
    TrackFactory.create_batch(25, album=album, year=2000, title="Same")
    client = api_client_for(UserFactory.create())
    seen: list[int] = []
    for page in (1, 2, 3):
        seen += ids(client.get("/api/v1/tracks", {"ordering": "year", "page_size": 10, "page": page}))
    assert len(seen) == 25 == len(set(seen))
    assert client.get("/api/v1/tracks", {"page": 99}).status_code == 404


def test_genres_with_counts(api_client_for: Any, library: dict[str, Any]) -> None:
    client = api_client_for(UserFactory.create())
    rock, jazz = library["genres"]
    data = {g["name"]: g for g in client.get("/api/v1/genres").json()["results"]}
    assert (data["Rock"]["album_count"], data["Rock"]["track_count"]) == (2, 1)
    assert (data["Jazz"]["album_count"], data["Jazz"]["track_count"]) == (1, 1)
    assert client.get(f"/api/v1/genres/{jazz.pk}").json()["name"] == "Jazz"
    assert ids(client.get("/api/v1/genres", {"q": "ROCK"})) == [rock.pk]


@pytest.mark.parametrize("kind", ["artists", "albums", "tracks", "genres", "playlists"])
def test_unknown_ids_are_json_404(api_client_for: Any, kind: str) -> None:
    client = api_client_for(UserFactory.create())
    for pk in ("999999", "999999999999999999"):
        response = client.get(f"/api/v1/{kind}/{pk}")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"


def test_search_returns_artists_albums_and_tracks(api_client_for: Any, library: dict[str, Any]) -> None:
    client = api_client_for(UserFactory.create())
    data = client.get("/api/v1/search", {"q": "BJORK"}).json()
    assert data["query"] == "BJORK"
    assert [a["name"] for a in data["artists"]] == ["Björk"]
    assert [a["name"] for a in data["albums"]] == ["Début"]
    assert [t["title"] for t in data["tracks"]] == ["Human Behaviour"]
    limited = client.get("/api/v1/search", {"q": "o", "limit": 1}).json()
    assert all(len(limited[key]) <= 1 for key in ("artists", "albums", "tracks"))
    missing = client.get("/api/v1/search")
    assert missing.status_code == 400
    assert "q" in missing.json()["error"]["details"]
