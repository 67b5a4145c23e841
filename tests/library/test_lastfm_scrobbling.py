"""Last.fm forwarding against a fake Last.fm on 127.0.0.1 (checking every signature): now playing, scrobbles with
their metadata, retries while the service is down, the sweep, a revoked session, an ignored scrobble, and users
connected to ListenBrainz too."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import requests
from django.test import Client
from django.utils import timezone

from accounts import services as account_services
from accounts.models import LastFmLink, User
from library import scrobbling, services
from library.models import PendingListen, ScrobbleService, Track
from tests.factories.accounts import UserFactory
from tests.factories.library import AlbumFactory, ArtistFactory, TrackFactory
from tests.fakes.lastfm_server import FakeLastFm
from tests.fakes.listenbrainz_server import FakeListenBrainz
from tests.subsonic.conftest import client_for

pytestmark = pytest.mark.django_db
RECORDING = "0a1b2c3d-0000-4000-8000-000000000001"


def _connect(user: User) -> None:
    """The browser round trip: Last.fm's page (the user allows), then back to the callback."""
    callback = "http://testserver/api/v1/lastfm/callback"
    page = account_services.lastfm_authorize_start(user=user, callback=callback)
    answer = requests.get(page, allow_redirects=False, timeout=5)
    assert Client().get(answer.headers["Location"].removeprefix("http://testserver")).status_code == 200


@pytest.fixture
def connected(fake_lastfm: FakeLastFm) -> User:
    user = UserFactory.create(username="alice")
    _connect(user)
    return user


@pytest.fixture
def song() -> Track:
    artist = ArtistFactory.create(name="Portishead")
    album = AlbumFactory.create(name="Dummy", album_artist=artist)
    return TrackFactory.create(
        title="Roads", album=album, duration_ms=305_400, track_number=7, musicbrainz_recording_id=RECORDING
    )


def test_a_counted_play_is_one_scrobble_with_its_metadata(
    connected: User, song: Track, fake_lastfm: FakeLastFm, eager_tasks: None, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        play = services.play_record(user=connected, track=song, client="Feishin")
    [scrobble] = fake_lastfm.scrobbles
    assert scrobble["timestamp[0]"] == str(int(play.played_at.timestamp()))
    assert (scrobble["artist[0]"], scrobble["track[0]"], scrobble["album[0]"]) == ("Portishead", "Roads", "Dummy")
    assert (scrobble["albumArtist[0]"], scrobble["trackNumber[0]"]) == ("Portishead", "7")
    assert (scrobble["duration[0]"], scrobble["mbid[0]"]) == ("305", RECORDING)
    assert not PendingListen.objects.exists()


def test_subsonic_now_playing_and_scrobble_reach_last_fm(
    connected: User,
    song: Track,
    fake_lastfm: FakeLastFm,
    eager_tasks: None,
    django_capture_on_commit_callbacks: Any,
    settings: Any,
) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    api = client_for(connected)
    with django_capture_on_commit_callbacks(execute=True):
        assert api.call("scrobble", "json", client_name="Feishin", id=f"tr-{song.pk}", submission="false").ok
    [now] = fake_lastfm.now_playing
    assert (now["artist"], now["track"], now["duration"]) == ("Portishead", "Roads", "305")
    assert not fake_lastfm.scrobbles
    with django_capture_on_commit_callbacks(execute=True):
        assert api.call("scrobble", "json", client_name="Feishin", id=f"tr-{song.pk}", time="1700000000000").ok
    [scrobble] = fake_lastfm.scrobbles
    assert scrobble["timestamp[0]"] == "1700000000"


def test_both_services_get_the_play_and_each_keeps_its_own_queue(
    connected: User,
    song: Track,
    fake_lastfm: FakeLastFm,
    fake_listenbrainz: FakeListenBrainz,
    eager_tasks: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    account_services.listenbrainz_token_set(user=connected, token="good-token")
    fake_listenbrainz.down_for = scrobbling.TASK_RETRIES + 2  # validate-token passed; every send now fails
    with django_capture_on_commit_callbacks(execute=True):
        services.play_record(user=connected, track=song)
    assert len(fake_lastfm.scrobbles) == 1
    [waiting] = PendingListen.objects.all()
    assert waiting.service == ScrobbleService.LISTENBRAINZ
    fake_listenbrainz.down_for = 0
    PendingListen.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert scrobbling.listens_sweep() == 1
    assert len(fake_listenbrainz.listens("single")) == 1
    assert len(fake_lastfm.scrobbles) == 1  # not sent twice
    assert not PendingListen.objects.exists()


def test_a_down_service_keeps_the_scrobble_until_it_is_back(
    connected: User, song: Track, fake_lastfm: FakeLastFm
) -> None:
    services.play_record(user=connected, track=song)  # queued; the test sends it itself
    pending = PendingListen.objects.get()
    fake_lastfm.down_for = 2
    delays = [scrobbling.listen_submit(pending_id=pending.pk).retry_in for _ in range(2)]
    assert delays == [30.0, 60.0]
    pending.refresh_from_db()
    assert pending.last_error.startswith("error 16:")
    PendingListen.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert scrobbling.listens_sweep() == 1
    assert scrobbling.listen_submit(pending_id=pending.pk).sent
    assert len(fake_lastfm.scrobbles) == 1


def test_a_revoked_session_is_marked_and_the_scrobble_waits_for_a_new_one(
    connected: User, song: Track, fake_lastfm: FakeLastFm, eager_tasks: None, api_client_for: Any
) -> None:
    play = services.play_record(user=connected, track=song)
    fake_lastfm.sessions.clear()  # the user removed this server's access on Last.fm
    outcome = scrobbling.listen_submit(pending_id=play.pending_listens.get().pk)
    assert (outcome.sent, outcome.retry_in) == (False, None)
    assert LastFmLink.objects.get(user=connected).rejected_at is not None
    me = api_client_for(connected).get("/api/v1/users/me").json()
    assert me["lastfm"] == {"available": True, "connected": True, "username": "alice-fm", "session_valid": False}
    assert scrobbling.listens_sweep() == 0  # nothing is sent with a refused session
    _connect(connected)
    assert scrobbling.listens_sweep() == 1
    assert len(fake_lastfm.scrobbles) == 1


def test_an_ignored_scrobble_is_not_resent_forever(
    connected: User, song: Track, fake_lastfm: FakeLastFm, eager_tasks: None
) -> None:
    play = services.play_record(user=connected, track=song)
    fake_lastfm.ignore_scrobbles = 1
    assert not scrobbling.listen_submit(pending_id=play.pending_listens.get().pk).sent
    assert not PendingListen.objects.exists()
    assert not fake_lastfm.scrobbles


def test_without_the_server_api_account_nothing_is_queued_or_swept(
    connected: User, song: Track, fake_lastfm: FakeLastFm, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    services.play_record(user=connected, track=song)  # queued while the account was set up
    settings.LASTFM_API_KEY = ""
    with django_capture_on_commit_callbacks(execute=True):
        services.play_record(user=connected, track=song)
    assert PendingListen.objects.count() == 1
    PendingListen.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert scrobbling.listens_sweep() == 0
