"""Every Subsonic method that takes an id, given an `ext-` id (issue 21): it acts on the external item, or answers
a clear error (70 with what is missing, or 0 with why); never a 500, never a silent success."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.models import User
from downloads.models import DownloadJob
from subsonic.routes import ROUTES
from tests.fakes.fixtures import FakeYouTube, cover_jpeg, fake_media, fake_youtube
from tests.subsonic.support import SubsonicClient

__all__ = ["cover_jpeg", "fake_media", "fake_youtube"]  # fixtures used by name

SONG, ALBUM, ARTIST = "ext-yt-vidAAAAAAA1", "ext-yta-MPREb_fakealbum01", "ext-ytr-UCband0000000000000000001"
OK = "ok"

# (method, parameters, what it answers). Acting ones are covered in detail in test_external*.py.
TABLE: list[tuple[str, dict[str, Any], int | str]] = [
    ("getSong", {"id": SONG}, OK),
    ("getAlbum", {"id": ALBUM}, OK),
    ("getArtist", {"id": ARTIST}, OK),
    ("getMusicDirectory", {"id": ALBUM}, OK),
    ("getMusicDirectory", {"id": ARTIST}, OK),
    ("getMusicDirectory", {"id": SONG}, 70),
    ("getArtistInfo", {"id": ARTIST}, OK),
    ("getArtistInfo2", {"id": ARTIST}, OK),
    ("getArtistInfo2", {"id": SONG}, 70),
    ("getAlbumInfo", {"id": ALBUM}, 70),
    ("getAlbumInfo2", {"id": SONG}, 70),
    ("getSimilarSongs", {"id": SONG}, 70),
    ("getSimilarSongs2", {"id": ARTIST}, 70),
    ("getTopSongs", {"id": ARTIST}, OK),
    ("getTopSongs", {"id": SONG}, 70),
    ("getCoverArt", {"id": SONG}, OK),
    ("getLyricsBySongId", {"id": SONG}, 70),
    ("star", {"id": SONG}, OK),
    ("star", {"albumId": ALBUM}, 70),
    ("star", {"artistId": ARTIST}, 70),
    ("unstar", {"id": SONG}, OK),
    ("setRating", {"id": SONG, "rating": 4}, OK),
    ("setRating", {"id": ALBUM, "rating": 4}, 70),
    ("scrobble", {"id": SONG}, OK),
    ("reportPlayback", {"mediaId": SONG, "mediaType": "song", "positionMs": 0, "state": "playing"}, OK),
    ("createPlaylist", {"name": "Mix", "songId": SONG}, OK),
    ("createPlaylist", {"name": "Mix", "songId": ALBUM}, 70),
    ("savePlayQueue", {"id": SONG}, OK),
    ("savePlayQueueByIndex", {"id": SONG, "currentIndex": 0}, OK),
    ("createBookmark", {"id": SONG, "position": 1000}, OK),
    ("createBookmark", {"id": ALBUM, "position": 1000}, 70),
    ("deleteBookmark", {"id": SONG}, 70),  # no bookmark waits for it
    ("createShare", {"id": SONG}, 70),
    ("getPlaylist", {"id": SONG}, 70),
]


@pytest.fixture
def hybrid(settings: Any, fake_youtube: FakeYouTube, monkeypatch: Any, user: User) -> FakeYouTube:
    settings.EXTERNAL_SEARCH_IN_SUBSONIC = True
    user.can_share = True  # so that createShare gets as far as the id
    user.save()
    monkeypatch.setattr("downloads.services.enqueueing.jobs_send", lambda job_ids, countdown=None: None)
    return fake_youtube


def test_the_table_names_real_methods() -> None:
    assert {method for method, _params, _answer in TABLE} <= set(ROUTES)


@pytest.mark.parametrize(("method", "params", "answer"), TABLE, ids=[f"{m}-{'-'.join(p)}" for m, p, _a in TABLE])
def test_an_external_id_is_acted_on_or_clearly_refused(
    api: SubsonicClient, hybrid: FakeYouTube, method: str, params: dict[str, Any], answer: int | str
) -> None:
    if method == "getCoverArt":
        response = api.raw(method, **params, **api.auth_params())
        assert (response.status_code, response["Content-Type"]) == (200, "image/jpeg")
        return
    reply = api.call(method, "json", **params)
    assert reply.response.status_code == 200
    if answer == OK:
        assert reply.ok, reply.body
        return
    assert reply.error_code == answer, reply.body
    # What is missing, or why: "… is not in the library", "Bookmark not found".
    assert " not " in reply.error_message


def test_acting_on_an_external_song_requests_one_download_and_nothing_for_refusals(
    api: SubsonicClient, hybrid: FakeYouTube
) -> None:
    for method, params, answer in TABLE:
        if answer != OK and method != "getCoverArt":
            api.call(method, **params)
    assert not DownloadJob.objects.exists()
    for method in ("star", "scrobble", "savePlayQueue"):
        assert api.call(method, id=SONG).ok
    assert DownloadJob.objects.filter(external_id="vidAAAAAAA1").count() == 1
