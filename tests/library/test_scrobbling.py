"""ListenBrainz forwarding against a fake ListenBrainz on 127.0.0.1: playing_now, single listens with their
metadata, retries with backoff while the service is down, the sweep, and a refused (401) token."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from accounts import services as account_services
from accounts.models import ListenBrainzLink, User
from library import scrobbling, services
from library.models import PendingListen, Play, Track
from library.tasks import listen_submit_task
from tests.factories.accounts import UserFactory
from tests.factories.library import AlbumFactory, ArtistFactory, TrackFactory
from tests.fakes.listenbrainz_server import FakeListenBrainz
from tests.subsonic.conftest import client_for

pytestmark = pytest.mark.django_db
RECORDING = "0a1b2c3d-0000-4000-8000-000000000001"
RELEASE = "0a1b2c3d-0000-4000-8000-000000000002"


@pytest.fixture
def connected(fake_listenbrainz: FakeListenBrainz) -> User:
    user = UserFactory.create(username="alice")
    account_services.listenbrainz_token_set(user=user, token="good-token")
    return user


@pytest.fixture
def song() -> Track:
    artist = ArtistFactory.create(name="Portishead")
    album = AlbumFactory.create(name="Dummy", album_artist=artist, musicbrainz_release_id=RELEASE)
    return TrackFactory.create(
        title="Roads", album=album, duration_ms=305_000, track_number=7, musicbrainz_recording_id=RECORDING
    )


def _commit_and_run(capture: Callable[..., Any], action: Callable[[], Any]) -> Any:
    with capture(execute=True):
        return action()


def test_a_counted_play_becomes_one_single_listen(
    connected: User,
    song: Track,
    fake_listenbrainz: FakeListenBrainz,
    eager_tasks: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    play = _commit_and_run(
        django_capture_on_commit_callbacks,
        lambda: services.play_record(user=connected, track=song, client="Feishin"),
    )
    [listen] = fake_listenbrainz.listens("single")
    assert listen["listened_at"] == int(play.played_at.timestamp())
    metadata = listen["track_metadata"]
    assert (metadata["artist_name"], metadata["track_name"], metadata["release_name"]) == (
        "Portishead",
        "Roads",
        "Dummy",
    )
    info = metadata["additional_info"]
    assert info["duration_ms"] == 305_000
    assert info["recording_mbid"] == RECORDING
    assert info["release_mbid"] == RELEASE
    assert info["media_player"] == "Feishin"
    assert info["submission_client"] == "mcma"
    assert "track_mbid" not in info  # unknown values are left out, never sent empty
    assert not PendingListen.objects.exists()


def test_without_a_token_nothing_is_queued(song: Track, django_capture_on_commit_callbacks: Any) -> None:
    user = UserFactory.create()
    _commit_and_run(django_capture_on_commit_callbacks, lambda: services.play_record(user=user, track=song))
    assert not PendingListen.objects.exists()


def test_a_down_service_never_slows_the_player_and_never_loses_a_listen(
    connected: User, song: Track, fake_listenbrainz: FakeListenBrainz, django_capture_on_commit_callbacks: Any
) -> None:
    # The play is recorded and committed whatever ListenBrainz does; sending happens after, in a task.
    _commit_and_run(django_capture_on_commit_callbacks, lambda: services.play_record(user=connected, track=song))
    assert Play.objects.count() == 1
    pending = PendingListen.objects.get()
    fake_listenbrainz.down_for = 3
    delays = []
    for _ in range(3):
        outcome = scrobbling.listen_submit(pending_id=pending.pk)
        assert not outcome.sent
        delays.append(outcome.retry_in)
    assert delays == [30.0, 60.0, 120.0]  # backoff
    pending.refresh_from_db()
    assert pending.attempts == 3
    assert pending.last_error == "HTTP 503"
    assert pending.next_attempt_at > timezone.now()
    assert scrobbling.listens_sweep() == 0  # not due yet
    assert scrobbling.listen_submit(pending_id=pending.pk).sent  # back up
    assert len(fake_listenbrainz.listens("single")) == 1
    assert not PendingListen.objects.exists()


def test_the_task_retries_until_the_service_is_back(
    connected: User, song: Track, fake_listenbrainz: FakeListenBrainz, eager_tasks: None
) -> None:
    play = services.play_record(user=connected, track=song)  # queued; the test sends it itself
    fake_listenbrainz.down_for = 2
    listen_submit_task.apply(args=(play.pending_listens.get().pk,))
    assert fake_listenbrainz.calls == 3 + 1  # validate-token, then two 503s and the success
    assert len(fake_listenbrainz.listens("single")) == 1
    assert not PendingListen.objects.exists()


def test_past_its_retries_the_sweep_resends(
    connected: User, song: Track, fake_listenbrainz: FakeListenBrainz, eager_tasks: None
) -> None:
    play = services.play_record(user=connected, track=song)
    fake_listenbrainz.down_for = scrobbling.TASK_RETRIES + 1
    listen_submit_task.apply(args=(play.pending_listens.get().pk,))
    pending = PendingListen.objects.get()
    assert pending.attempts == scrobbling.TASK_RETRIES + 1
    PendingListen.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert scrobbling.listens_sweep() == 1
    assert len(fake_listenbrainz.listens("single")) == 1
    assert not PendingListen.objects.exists()


def test_a_refused_token_is_marked_and_the_listen_waits_for_a_new_one(
    connected: User, song: Track, fake_listenbrainz: FakeListenBrainz, eager_tasks: None, api_client_for: Any
) -> None:
    play = services.play_record(user=connected, track=song)
    del fake_listenbrainz.tokens["good-token"]  # revoked on the ListenBrainz side
    outcome = scrobbling.listen_submit(pending_id=play.pending_listens.get().pk)
    assert (outcome.sent, outcome.retry_in) == (False, None)  # no point retrying with the same token
    assert ListenBrainzLink.objects.get(user=connected).rejected_at is not None
    me = api_client_for(connected).get("/api/v1/users/me").json()
    assert me["listenbrainz"] == {"connected": True, "username": "alice-lb", "token_valid": False}
    assert scrobbling.listens_sweep() == 0  # nothing is sent with a refused token
    fake_listenbrainz.tokens["new-token"] = "alice-lb"
    account_services.listenbrainz_token_set(user=connected, token="new-token")
    assert scrobbling.listens_sweep() == 1
    assert len(fake_listenbrainz.listens("single")) == 1


def test_subsonic_scrobbles_reach_listenbrainz(
    connected: User,
    song: Track,
    fake_listenbrainz: FakeListenBrainz,
    eager_tasks: None,
    django_capture_on_commit_callbacks: Any,
    settings: Any,
) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    api = client_for(connected)
    with django_capture_on_commit_callbacks(execute=True):
        assert api.call("scrobble", "json", client_name="Feishin", id=f"tr-{song.pk}", submission="false").ok
    [now] = fake_listenbrainz.listens("playing_now")
    assert "listened_at" not in now
    assert now["track_metadata"]["track_name"] == "Roads"
    with django_capture_on_commit_callbacks(execute=True):
        assert api.call("scrobble", "json", client_name="Feishin", id=f"tr-{song.pk}", time="1700000000000").ok
    [single] = fake_listenbrainz.listens("single")
    assert single["listened_at"] == 1_700_000_000


def test_a_finished_report_playback_is_one_listen(
    connected: User,
    song: Track,
    fake_listenbrainz: FakeListenBrainz,
    eager_tasks: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    api = client_for(connected)
    base: dict[str, Any] = {"client_name": "Feishin", "mediaId": f"tr-{song.pk}", "mediaType": "song"}
    for state, position in (("starting", 0), ("playing", 1_000), ("stopped", 300_000)):
        with django_capture_on_commit_callbacks(execute=True):
            assert api.call("reportPlayback", "xml", state=state, positionMs=str(position), **base).ok
    with django_capture_on_commit_callbacks(execute=True):  # the same play, scrobbled the classic way
        assert api.call("scrobble", "xml", client_name="Feishin", id=f"tr-{song.pk}").ok
    assert len(fake_listenbrainz.listens("playing_now")) == 1  # once per session, not per report
    assert len(fake_listenbrainz.listens("single")) == 1
