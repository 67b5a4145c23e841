"""The management UI's music pages (track, album, artist) and what a user who is not an admin may see."""

from __future__ import annotations

from typing import Any, cast

import pytest
from django.test import Client

from accounts.models import User
from downloads.models import DownloadJob, JobState
from library.models import Album, Track, TrackAnnotation
from tests.factories.accounts import AdminFactory, UserFactory
from tests.factories.library import AlbumFactory, TrackFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def listener(client: Client) -> User:
    user = cast(User, UserFactory(username="listener", can_request_downloads=False))
    client.force_login(user)
    return user


@pytest.fixture
def album() -> Album:
    album = cast(Album, AlbumFactory(name="Night Drive", year=2019))
    for number, title in ((2, "Second"), (1, "First"), (3, "Third")):
        TrackFactory(album=album, artist=album.album_artist, track_number=number, title=title, lyrics="la la")
    return album


def test_the_album_page_lists_its_tracks_in_order_with_links(client: Client, listener: User, album: Album) -> None:
    page = client.get(f"/admin/music/album/{album.pk}/").content.decode()
    titles = [chunk.split("</a>", 1)[0].rsplit(">", 1)[1] for chunk in page.split('class="album-track"')[1:]]
    assert titles == ["First", "Second", "Third"]
    assert f"/admin/music/artist/{album.album_artist_id}/" in page
    assert "/change/" not in page  # no edit link for a user who is not an admin


def test_the_track_page_has_tags_file_facts_lyrics_and_a_player(client: Client, listener: User, album: Album) -> None:
    track = Track.objects.get(title="First")
    page = client.get(f"/admin/music/track/{track.pk}/").content.decode()
    assert f'<audio id="player" controls preload="metadata" src="/api/v1/tracks/{track.pk}/stream">' in page
    assert 'id="lyrics"' in page
    assert track.checksum in page
    assert track.path not in page  # the storage path is for admins


def test_an_admin_gets_edit_links_and_the_path(client: Client, album: Album) -> None:
    client.force_login(cast(User, AdminFactory(username="boss")))
    track = Track.objects.get(title="First")
    page = client.get(f"/admin/music/track/{track.pk}/").content.decode()
    assert f"/admin/library/track/{track.pk}/change/" in page
    assert track.path in page


def test_starring_from_a_page(client: Client, listener: User, album: Album) -> None:
    track = Track.objects.get(title="First")
    response = client.post(f"/admin/music/track/{track.pk}/star", {"starred": "true"})
    assert response["Location"] == f"/admin/music/track/{track.pk}/"
    assert TrackAnnotation.objects.get(user=listener, track=track).starred_at is not None
    assert "★ Starred" in client.get(f"/admin/music/track/{track.pk}/").content.decode()
    client.post(f"/admin/music/track/{track.pk}/star", {"starred": "false"})
    assert TrackAnnotation.objects.get(user=listener, track=track).starred_at is None


def test_bad_music_page_requests_say_what_is_wrong(client: Client, listener: User) -> None:
    missing = client.get("/admin/music/track/999999/")
    assert missing.status_code == 404
    assert "Track not found." in missing.content.decode()
    assert client.get("/admin/music/album/999999/").status_code == 404
    page = client.post("/admin/music/playlist/1/star", {"starred": "true"}, follow=True).content.decode()
    assert "can be starred" in page
    page = client.post("/admin/music/track/999999/star", {"starred": "true"}, follow=True).content.decode()
    assert "not found" in page


def test_the_music_pages_cost_a_fixed_number_of_queries(
    client: Client, listener: User, django_assert_max_num_queries: Any
) -> None:
    album = cast(Album, AlbumFactory())
    TrackFactory.create_batch(40, album=album, artist=album.album_artist)
    with django_assert_max_num_queries(10):
        assert client.get(f"/admin/music/album/{album.pk}/").status_code == 200
    with django_assert_max_num_queries(10):
        assert client.get(f"/admin/music/artist/{album.album_artist_id}/").status_code == 200


# -- A user who is not an admin -------------------------------------------------------------------------------------
def test_a_user_who_is_not_staff_can_sign_in(client: Client) -> None:
    UserFactory(username="listener", password="a long pass phrase 77")
    response = client.post("/admin/login/", {"username": "listener", "password": "a long pass phrase 77"})
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200


def test_a_listener_sees_figures_and_own_downloads_but_no_server_internals(client: Client, listener: User) -> None:
    other = cast(User, UserFactory(username="other"))
    DownloadJob.objects.create(source="youtube", external_id="vidMINE00001", title="Mine", requested_by=listener)
    DownloadJob.objects.create(source="youtube", external_id="vidTHEIRS001", title="Theirs", requested_by=other)
    TrackFactory()

    dashboard = client.get("/admin/").content.decode()
    downloads = client.get("/admin/downloads/").content.decode()

    assert 'id="figures"' in dashboard
    assert 'id="recent-scans"' not in dashboard
    assert 'id="source-health"' not in dashboard
    assert "Mine" in downloads
    assert "Theirs" not in downloads
    assert "Retry all failed" not in downloads


@pytest.mark.parametrize(
    "path",
    [
        "/admin/accounts/user/",
        "/admin/library/track/",
        "/admin/downloads/downloadjob/",
        "/admin/sources/scanrun/",
        "/admin/accounts/apikey/",
    ],
)
def test_model_pages_stay_admin_only(client: Client, listener: User, path: str) -> None:
    assert client.get(path).status_code == 403


def test_admin_actions_stay_admin_only(client: Client, listener: User) -> None:
    theirs = DownloadJob.objects.create(source="youtube", external_id="vidTHEIRS001", state=JobState.FAILED)
    page = client.post("/admin/downloads/retry-failed", follow=True).content.decode()
    assert "only admins" in page.lower()
    page = client.post(f"/admin/downloads/{theirs.pk}/retry", follow=True).content.decode()
    assert "no such download" in page.lower()
    theirs.refresh_from_db()
    assert theirs.state == JobState.FAILED
    assert client.post("/admin/sources/scanrun/scan-now/").status_code == 302


def test_a_listener_who_may_not_download_searches_the_library_only(client: Client, listener: User) -> None:
    TrackFactory(title="Findable", title_key="findable")
    page = client.get("/admin/search/", {"q": "findable"}).content.decode()
    assert "Findable" in page
    assert 'id="downloads-not-allowed"' in page
    assert "download-button" not in page
    response = client.post(
        "/admin/search/download", {"source": "youtube", "external_id": "vidAAAAAAA2", "kind": "song"}
    )
    assert response.status_code in (200, 302)
    assert not DownloadJob.objects.exists()
