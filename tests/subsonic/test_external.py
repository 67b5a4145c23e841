"""The external catalogue in Subsonic (issue 21): search merge, `ext-` ids, and who may see either."""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path
from typing import Any

import pytest

from accounts.models import User
from downloads.selectors import SourceHits
from downloads.services.catalogue import CATALOGUE_KINDS
from library.models import Track
from sources.base import ExternalItem, ResultKind, SearchResult
from sources.selectors import source_status
from subsonic import ids
from tests.factories.accounts import UserFactory
from tests.factories.library import AlbumFactory, ArtistFactory, TrackFactory
from tests.fakes.fixtures import FakeYouTube, cover_jpeg, fake_media, fake_youtube
from tests.fakes.ytmusic_server import FakeSong
from tests.subsonic.conftest import client_for
from tests.subsonic.support import Reply, SubsonicClient

__all__ = ["cover_jpeg", "fake_media", "fake_youtube"]  # fixtures used by name

ALBUM = "ext-yta-MPREb_fakealbum01"
BLUES = "ext-yt-vidAAAAAAA1"
COVER = "ext-yt-vidUGCUGC01"


@pytest.fixture
def hybrid(settings: Any, fake_youtube: FakeYouTube) -> FakeYouTube:
    settings.EXTERNAL_SEARCH_IN_SUBSONIC = True
    settings.EXTERNAL_SEARCH_TIMEOUT_SECONDS = 2.0
    return fake_youtube


def _songs(reply: Reply, method: str = "search3") -> list[str]:
    assert reply.ok, reply.body
    return reply.ids("searchResult3" if method == "search3" else "searchResult2", "song")


def _local_track(title: str, **extra: Any) -> Track:
    album = AlbumFactory.create(name="Home Tapes", album_artist=ArtistFactory.create(name="Me"))
    return TrackFactory.create(album=album, title=title, **extra)


# --------------------------------------------------------------------------------------------------------------
# Ids
# --------------------------------------------------------------------------------------------------------------
def test_external_ids_round_trip_and_name_their_source_and_kind() -> None:
    prefixes = {ResultKind.SONG: "ext-yt-", ResultKind.ALBUM: "ext-yta-", ResultKind.ARTIST: "ext-ytr-"}
    assert set(prefixes) == CATALOGUE_KINDS  # every kind the catalogue offers has an id players can send back
    for kind, prefix in prefixes.items():
        encoded = ids.external_id("youtube", kind, "Ab_c-9")
        assert encoded == f"{prefix}Ab_c-9"
        assert ids.external_ref(encoded) == ExternalItem("youtube", kind, "Ab_c-9")
    assert ids.external_id("local", ResultKind.SONG, "x") is None  # players cannot name the local source's items
    assert ids.external_ref("tr-12") is None


@pytest.mark.security
@pytest.mark.parametrize("raw", ["ext-", "ext-yt-", "ext-zz-abc", "ext-yt-a b", "ext-yt-a/../b", "ext-yt-" + "a" * 256])
def test_malformed_or_unknown_external_ids_are_not_found(
    api: SubsonicClient, hybrid: FakeYouTube, fmt: str, raw: str
) -> None:
    for method in ("getSong", "getAlbum", "getArtist", "getCoverArt", "stream"):
        reply = api.call(method, fmt, id=raw)
        assert reply.error_code == 70, (method, reply.body)


def test_an_external_id_of_a_disabled_source_is_not_found_with_a_reason(
    api: SubsonicClient, hybrid: FakeYouTube, settings: Any
) -> None:
    settings.MCMA_SOURCES = {**settings.MCMA_SOURCES, "youtube": {**settings.MCMA_SOURCES["youtube"], "OPTIONS": {}}}
    reply = api.call("getSong", id=BLUES)
    assert reply.error_code == 70
    assert "disabled" in reply.error_message


# --------------------------------------------------------------------------------------------------------------
# search2 / search3
# --------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["search2", "search3"])
def test_library_hits_come_first_then_each_kind_of_external_hit(
    api: SubsonicClient, hybrid: FakeYouTube, fmt: str, method: str
) -> None:
    mine = _local_track("Localhost Blues (demo)")
    reply = api.call(method, fmt, query="localhost")
    assert _songs(reply, method) == [ids.track_id(mine.pk), BLUES, COVER]

    key = "searchResult3" if method == "search3" else "searchResult2"
    band = api.call(method, fmt, query="fakes")
    # "Greyed Out" is unavailable on the source: not offered.
    assert _songs(band, method) == ["ext-yt-vidAAAAAAA1", "ext-yt-vidAAAAAAA2"]
    assert band.ids(key, "album") == [ALBUM]
    assert band.ids(key, "artist") == ["ext-ytr-UCband0000000000000000001"]
    song = band.items(key, "song")[1]
    assert (song["title"], song["album"], song["artist"]) == ("Port Zero", "Loopback Dreams", "The Fakes, Guest Star")
    assert (song["albumId"], song["coverArt"], song["isDir"]) == (ALBUM, ALBUM, "false")


def test_legacy_and_minimal_clients_get_external_hits_in_their_shape(api: SubsonicClient, hybrid: FakeYouTube) -> None:
    assert _songs(api.call("search3", client_name="DSub", query="localhost")) == [BLUES, COVER]  # strict XSD
    minimal = api.call("search3", "json", client_name="SubMusic", query="localhost")
    assert minimal.items("searchResult3", "song")[0] == {
        "id": BLUES,
        "parent": ALBUM,
        "isDir": "false",
        "title": "Localhost Blues",
    }


def test_a_song_already_in_the_library_is_never_repeated(api: SubsonicClient, hybrid: FakeYouTube, fmt: str) -> None:
    downloaded = _local_track("Localhost Blues", source="youtube", source_id="vidAAAAAAA1")
    assert _songs(api.call("search3", fmt, query="localhost")) == [ids.track_id(downloaded.pk), COVER]


def test_a_song_the_library_has_from_elsewhere_is_not_repeated_by_isrc_or_recording_id(
    api: SubsonicClient, hybrid: FakeYouTube, monkeypatch: Any
) -> None:
    """YouTube Music's answers carry neither, but a source that knows them is matched on them."""
    ripped = _local_track("Localhost Blues (CD)", isrc="USFAK1700001")
    tagged = TrackFactory.create(
        album=ripped.album, title="Port Zero (CD)", musicbrainz_recording_id="6f1c2b4e-0000-4000-8000-000000000001"
    )
    hits = [
        SearchResult("youtube", ResultKind.SONG, "vidAAAAAAA1", "Localhost Blues", isrc="usfak1700001"),
        SearchResult(
            "youtube",
            ResultKind.SONG,
            "vidAAAAAAA2",
            "Port Zero",
            musicbrainz_recording_id="6f1c2b4e-0000-4000-8000-000000000001",
        ),
        SearchResult("youtube", ResultKind.SONG, "vidUGCUGC01", "Localhost Blues (cover)", isrc="USFAK1799999"),
    ]
    monkeypatch.setattr(
        "downloads.services.catalogue_search.sources_search", lambda **_kwargs: [SourceHits("youtube", hits)]
    )
    assert _songs(api.call("search3", query="cd")) == [ids.track_id(ripped.pk), ids.track_id(tagged.pk), COVER]


@pytest.mark.parametrize("query", ["", '""', "*"])
def test_the_full_library_sync_never_asks_the_source(api: SubsonicClient, hybrid: FakeYouTube, query: str) -> None:
    mine = _local_track("Anything")
    assert _songs(api.call("search3", query=query)) == [ids.track_id(mine.pk)]
    assert hybrid.server.api_calls("search") == 0


def test_external_hits_are_on_the_first_page_of_each_kind_only(api: SubsonicClient, hybrid: FakeYouTube) -> None:
    reply = api.call("search3", query="fakes", songOffset=20, albumOffset=0, artistCount=0)
    assert _songs(reply) == []
    assert reply.ids("searchResult3", "album") == [ALBUM]
    assert reply.ids("searchResult3", "artist") == []
    assert _songs(api.call("search3", query="fakes", songCount=1)) == [BLUES]


def test_a_music_folder_that_is_not_the_source_gets_no_external_hits(api: SubsonicClient, hybrid: FakeYouTube) -> None:
    folders = {f["name"]: f["id"] for f in api.call("getMusicFolders").items("musicFolders", "musicFolder")}
    assert _songs(api.call("search3", query="localhost", musicFolderId=folders["Local"])) == []
    assert _songs(api.call("search3", query="localhost", musicFolderId=folders["Youtube"])) == [BLUES, COVER]


def test_off_unless_the_server_enables_it(api: SubsonicClient, hybrid: FakeYouTube, settings: Any) -> None:
    settings.EXTERNAL_SEARCH_IN_SUBSONIC = False
    assert _songs(api.call("search3", query="localhost")) == []
    assert api.call("getSong", id=BLUES).error_code == 70
    assert hybrid.server.api_calls("search") == 0


def test_a_user_can_switch_it_off(api: SubsonicClient, user: User, hybrid: FakeYouTube) -> None:
    user.subsonic_external_search = False
    user.save()
    assert _songs(api.call("search3", query="localhost")) == []
    assert hybrid.server.api_calls("search") == 0


@pytest.mark.security
def test_users_who_may_not_request_downloads_see_no_external_item(db: None, hybrid: FakeYouTube) -> None:
    refused = client_for(UserFactory.create(can_request_downloads=False))
    assert _songs(refused.call("search3", query="localhost")) == []
    for method, item in (("getSong", BLUES), ("getAlbum", ALBUM), ("getCoverArt", ALBUM)):
        reply = refused.call(method, id=item)
        assert reply.error_code == 70, method
        assert "youtube" not in reply.error_message.lower()
    assert hybrid.server.api_calls("search") == 0


def test_a_slow_source_never_makes_the_search_slow(api: SubsonicClient, hybrid: FakeYouTube, settings: Any) -> None:
    settings.EXTERNAL_SEARCH_TIMEOUT_SECONDS = 0.3
    hybrid.server.hang_seconds = 1.5
    hybrid.server.fail_next("hang")
    mine = _local_track("Localhost Blues (demo)")
    started = time.monotonic()
    reply = api.call("search3", "json", query="localhost")
    assert time.monotonic() - started < 1.0
    assert _songs(reply) == [ids.track_id(mine.pk)]
    health = source_status(source_name="youtube").health
    assert health.available
    assert re.search(
        r"last problem: search timed out after 0.3 s at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", health.message
    )
    assert health.details["last_problem"]["error"] == "timeout"  # type: ignore[index]


def test_a_successful_search_clears_the_source_problem(api: SubsonicClient, hybrid: FakeYouTube) -> None:
    hybrid.server.fail_next("500")
    assert _songs(api.call("search3", query="localhost")) == []
    assert "last problem: search failed" in source_status(source_name="youtube").health.message
    assert _songs(api.call("search3", query="localhost")) == [BLUES, COVER]
    assert source_status(source_name="youtube").health.message == "ok"


@pytest.mark.parametrize("fault", ["500", "429-html", "layout"])
def test_a_failing_source_leaves_the_library_hits(api: SubsonicClient, hybrid: FakeYouTube, fault: str) -> None:
    mine = _local_track("Localhost Blues (demo)")
    hybrid.server.fail_next(fault)
    assert _songs(api.call("search3", query="localhost")) == [ids.track_id(mine.pk)]
    problem = source_status(source_name="youtube").health.details["last_problem"]
    assert problem["error"] == "source_request_failed"  # type: ignore[index]
    assert problem["message"].startswith("search failed: YouTube Music")  # type: ignore[index]


def test_the_source_problem_shows_in_the_sources_api(
    api: SubsonicClient, hybrid: FakeYouTube, admin: User, api_client_for: Any
) -> None:
    hybrid.server.fail_next("500")
    api.call("search3", query="localhost")
    body = api_client_for(admin).get("/api/v1/sources/youtube/health").json()
    assert body["available"] is True
    assert "last problem: search failed" in body["message"]
    assert body["details"]["last_problem"]["error"] == "source_request_failed"


def test_a_hit_with_an_id_no_player_could_send_back_is_skipped_and_logged(
    api: SubsonicClient, hybrid: FakeYouTube, caplog: pytest.LogCaptureFixture
) -> None:
    band = hybrid.catalog.artists["UCband0000000000000000001"]
    hybrid.catalog.songs["bad id/../x"] = FakeSong("bad id/../x", "Localhost Garbage", [band], 2)
    with caplog.at_level(logging.WARNING, logger="downloads.services.catalogue"):
        reply = api.call("search3", "json", query="localhost")
    assert _songs(reply) == [BLUES, COVER]
    assert "unusable id 'bad id/../x': skipped" in caplog.text


# --------------------------------------------------------------------------------------------------------------
# getSong, getAlbum, getArtist, getCoverArt on external ids
# --------------------------------------------------------------------------------------------------------------
def test_get_song_of_an_external_song(api: SubsonicClient, hybrid: FakeYouTube, fmt: str) -> None:
    song = api.call("getSong", fmt, id=BLUES).one("song")
    assert (song["id"], song["title"], song["album"], song["artist"]) == (
        BLUES,
        "Localhost Blues",
        "Loopback Dreams",
        "The Fakes",
    )
    assert (song["parent"], song["duration"], song["year"]) == (ALBUM, "2", "2017")


def test_an_external_song_in_the_library_resolves_to_its_track(api: SubsonicClient, hybrid: FakeYouTube) -> None:
    downloaded = _local_track("Localhost Blues", source="youtube", source_id="vidAAAAAAA1")
    calls = len(hybrid.server.calls)
    assert api.call("getSong", id=BLUES).one("song")["id"] == ids.track_id(downloaded.pk)
    assert len(hybrid.server.calls) == calls  # answered from the library


def test_an_external_song_the_source_does_not_have_is_not_found(api: SubsonicClient, hybrid: FakeYouTube) -> None:
    assert api.call("getSong", id="ext-yt-vidNOSUCH001").error_code == 70


def test_get_album_of_an_external_album_lists_its_available_songs(
    api: SubsonicClient, hybrid: FakeYouTube, fmt: str
) -> None:
    reply = api.call("getAlbum", fmt, id=ALBUM)
    album = reply.one("album")
    assert (album["id"], album["name"], album["songCount"], album["artist"]) == (
        ALBUM,
        "Loopback Dreams",
        "2",
        "The Fakes",
    )
    songs = reply.items("album", "song")
    assert [(s["id"], s["title"], s["track"]) for s in songs] == [
        (BLUES, "Localhost Blues", "1"),
        ("ext-yt-vidAAAAAAA2", "Port Zero", "2"),
    ]
    assert songs[1]["artist"] == "The Fakes, Guest Star"


BAND = "ext-ytr-UCband0000000000000000001"
GUEST = "ext-ytr-UCguest000000000000000001"


def test_get_artist_of_an_external_artist_lists_its_albums(api: SubsonicClient, hybrid: FakeYouTube, fmt: str) -> None:
    reply = api.call("getArtist", fmt, id=BAND)
    artist = reply.one("artist")
    assert (artist["id"], artist["name"], artist["albumCount"]) == (BAND, "The Fakes", "1")
    albums = reply.items("artist", "album")
    assert [(a["id"], a["name"], a["year"], a["artist"]) for a in albums] == [
        (ALBUM, "Loopback Dreams", "2017", "The Fakes")
    ]
    # Each listed album opens.
    assert api.call("getAlbum", fmt, id=albums[0]["id"]).one("album")["songCount"] == "2"


def test_an_external_artist_without_albums_has_an_empty_list(api: SubsonicClient, hybrid: FakeYouTube) -> None:
    reply = api.call("getArtist", "json", id=GUEST)
    assert reply.one("artist")["albumCount"] == "0"
    assert reply.items("artist", "album") == []


def test_an_unknown_external_artist_is_not_found(api: SubsonicClient, hybrid: FakeYouTube) -> None:
    assert api.call("getArtist", id="ext-ytr-UCnosuch000000000000000").error_code == 70
    assert api.call("getArtist", id="ext-ytr-MPREb_notanartist").error_code == 70  # not an artist id of the source


def test_the_artist_page_is_asked_for_once(api: SubsonicClient, hybrid: FakeYouTube) -> None:
    for method in ("getArtist", "getArtistInfo2", "getTopSongs"):
        assert api.call(method, id=BAND).ok, method
    assert hybrid.server.api_calls("browse") == 1


def test_artist_info_of_an_external_artist_is_its_biography(api: SubsonicClient, hybrid: FakeYouTube, fmt: str) -> None:
    for method, element in (("getArtistInfo", "artistInfo"), ("getArtistInfo2", "artistInfo2")):
        reply = api.call(method, fmt, id=BAND)
        assert reply.ok, reply.body
        assert reply.values(element, "biography") == ["A band that only plays on 127.0.0.1."]
        assert reply.items(element, "similarArtist") == []


def test_top_songs_of_an_external_artist_are_its_playable_songs(api: SubsonicClient, hybrid: FakeYouTube) -> None:
    reply = api.call("getTopSongs", id=BAND)
    # "Greyed Out" cannot be played from the source: left out.
    assert reply.ids("topSongs", "song") == [BLUES, "ext-yt-vidAAAAAAA2"]
    assert api.call("getTopSongs", id=BAND, count=1).ids("topSongs", "song") == [BLUES]


def test_get_cover_art_of_an_external_album_is_fetched_once_and_resized(
    api: SubsonicClient, hybrid: FakeYouTube
) -> None:
    full = api.raw("getCoverArt", id=ALBUM, **api.auth_params())
    assert full.status_code == 200
    assert full["Content-Type"] == "image/jpeg"
    fetched = hybrid.server.calls.count("GET /media/cover.jpg")
    assert fetched == 1
    small = api.raw("getCoverArt", id=ALBUM, size=32, **api.auth_params())
    assert small["Content-Type"] == "image/jpeg"
    assert b"".join(small.streaming_content) != b"".join(full.streaming_content)  # type: ignore[attr-defined]
    assert hybrid.server.calls.count("GET /media/cover.jpg") == fetched


def test_remote_covers_are_kept_within_their_size_least_recently_used_first(
    api: SubsonicClient, hybrid: FakeYouTube, settings: Any
) -> None:
    def fetch(item: str) -> None:
        response = api.raw("getCoverArt", id=item, **api.auth_params())
        assert response.status_code == 200
        b"".join(response.streaming_content)  # type: ignore[attr-defined]

    fetch(ALBUM)
    remote = Path(settings.MCMA_CACHE_DIR) / "covers" / "remote"
    one_cover = sum(p.stat().st_size for p in remote.rglob("*") if p.is_file())
    settings.REMOTE_COVER_CACHE_SIZE = one_cover  # room for one original
    fetch(COVER)
    assert len([p for p in remote.glob("*") if p.is_file()]) == 1
    assert hybrid.server.calls.count("GET /media/cover.jpg") == 2
    fetch(COVER)  # the one kept: served from the cache
    assert hybrid.server.calls.count("GET /media/cover.jpg") == 2
    fetch(ALBUM)  # dropped: fetched again
    assert hybrid.server.calls.count("GET /media/cover.jpg") == 3


def test_get_cover_art_of_an_external_song(api: SubsonicClient, hybrid: FakeYouTube) -> None:
    response = api.raw("getCoverArt", id=COVER, size=64, **api.auth_params())
    assert response["Content-Type"] == "image/jpeg"


def test_get_cover_art_of_an_external_artist_is_its_picture(api: SubsonicClient, hybrid: FakeYouTube) -> None:
    response = api.raw("getCoverArt", id=BAND, size=48, **api.auth_params())
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert hybrid.server.calls.count("GET /media/cover.jpg") == 1
    again = api.raw("getCoverArt", id=BAND, size=48, **api.auth_params())
    assert b"".join(again.streaming_content) == b"".join(response.streaming_content)  # type: ignore[attr-defined]
    assert hybrid.server.calls.count("GET /media/cover.jpg") == 1  # cached


def test_an_external_artist_without_a_picture_gets_the_placeholder(api: SubsonicClient, hybrid: FakeYouTube) -> None:
    hybrid.catalog.artists[BAND.removeprefix("ext-ytr-")].picture = False
    response = api.raw("getCoverArt", id=BAND, **api.auth_params())
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert not [call for call in hybrid.server.calls if call.startswith("GET /media/")]
    assert api.call("getCoverArt", id="ext-ytr-UCnosuch000000000000000").error_code == 70
