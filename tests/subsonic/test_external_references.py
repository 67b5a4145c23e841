"""star, setRating, scrobble and playlists on `ext-` song ids (issue 21): the download is requested, and what the
player did is applied to the library track when it lands, exactly once."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.db import connection

from accounts.models import User
from downloads.models import DownloadJob, JobState
from downloads.services import RunStatus, download_job_run, download_request_referencing
from library.models import PendingAction, PendingReference, Playlist, Track, TrackAnnotation
from library.services import pending_reference_add, pending_references_apply
from subsonic import ids
from tests.factories.accounts import UserFactory
from tests.factories.library import TrackFactory
from tests.fakes.fixtures import FakeYouTube, cover_jpeg, fake_media, fake_youtube
from tests.subsonic.conftest import client_for
from tests.subsonic.support import SubsonicClient

__all__ = ["cover_jpeg", "fake_media", "fake_youtube"]  # fixtures used by name

BLUES, PORT = "ext-yt-vidAAAAAAA1", "ext-yt-vidAAAAAAA2"


@pytest.fixture
def hybrid(settings: Any, fake_youtube: FakeYouTube, monkeypatch: Any) -> FakeYouTube:
    settings.EXTERNAL_SEARCH_IN_SUBSONIC = True
    # The tests run the jobs themselves.
    monkeypatch.setattr("downloads.services.enqueueing.jobs_send", lambda job_ids, countdown=None: None)
    return fake_youtube


def _land(video_id: str) -> Track:
    """Run the song's download job to the end, as a worker would."""
    job = DownloadJob.objects.get(external_id=video_id, state=JobState.QUEUED)
    assert download_job_run(job_id=str(job.pk)).status == RunStatus.SUCCEEDED
    return Track.objects.get(source="youtube", source_id=video_id)


def _annotation(user: User, track: Track) -> TrackAnnotation:
    return TrackAnnotation.objects.get(user=user, track=track)


def test_star_requests_the_download_and_the_star_lands_on_the_track(
    api: SubsonicClient, user: User, hybrid: FakeYouTube, fmt: str
) -> None:
    assert api.call("star", fmt, id=BLUES).ok
    assert api.call("star", fmt, id=BLUES).ok  # twice: still one job, one star
    assert DownloadJob.objects.filter(external_id="vidAAAAAAA1").count() == 1
    assert PendingReference.objects.filter(user=user, action=PendingAction.STAR).count() == 1

    track = _land("vidAAAAAAA1")

    assert _annotation(user, track).starred_at is not None
    assert not PendingReference.objects.exists()
    starred = api.call("getStarred2", fmt)
    assert starred.ids("starred2", "song") == [ids.track_id(track.pk)]
    assert api.call("getSong", fmt, id=BLUES).one("song")["id"] == ids.track_id(track.pk)


def test_unstar_before_the_download_lands_takes_the_star_back(
    api: SubsonicClient, user: User, hybrid: FakeYouTube
) -> None:
    assert api.call("star", id=BLUES).ok
    assert api.call("unstar", id=BLUES).ok
    track = _land("vidAAAAAAA1")
    assert not TrackAnnotation.objects.filter(user=user, track=track, starred_at__isnull=False).exists()


def test_rating_and_plays_land_on_the_track(api: SubsonicClient, user: User, hybrid: FakeYouTube) -> None:
    assert api.call("setRating", id=BLUES, rating=4).ok
    assert api.call("scrobble", id=BLUES, time=1_700_000_000_000).ok
    assert api.call("scrobble", id=BLUES, submission="false").ok  # now playing: asks for the download only
    assert DownloadJob.objects.filter(external_id="vidAAAAAAA1").count() == 1

    track = _land("vidAAAAAAA1")

    annotation = _annotation(user, track)
    assert (annotation.rating, annotation.play_count) == (4, 1)
    assert annotation.last_played_at is not None
    assert annotation.last_played_at.year == 2023


def test_playlist_entries_appear_where_the_player_put_them(
    api: SubsonicClient, user: User, hybrid: FakeYouTube
) -> None:
    mine = TrackFactory.create(title="Mine")
    created = api.call("createPlaylist", name="Mixed", songId=[BLUES, ids.track_id(mine.pk), PORT])
    assert created.ok
    assert created.ids("playlist", "entry") == [ids.track_id(mine.pk)]  # the others are still downloading
    playlist_id = created.one("playlist")["id"]

    port = _land("vidAAAAAAA2")  # the later one lands first
    blues = _land("vidAAAAAAA1")

    entries = api.call("getPlaylist", id=playlist_id).ids("playlist", "entry")
    assert entries == [ids.track_id(blues.pk), ids.track_id(mine.pk), ids.track_id(port.pk)]


def test_update_playlist_appends_an_external_song_when_it_lands(
    api: SubsonicClient, user: User, hybrid: FakeYouTube
) -> None:
    mine = TrackFactory.create(title="Mine")
    playlist_id = api.call("createPlaylist", name="List", songId=[ids.track_id(mine.pk)]).one("playlist")["id"]
    assert api.call("updatePlaylist", playlistId=playlist_id, songIdToAdd=BLUES).ok
    blues = _land("vidAAAAAAA1")
    assert api.call("getPlaylist", id=playlist_id).ids("playlist", "entry") == [
        ids.track_id(mine.pk),
        ids.track_id(blues.pk),
    ]


def test_replacing_a_playlists_songs_forgets_entries_still_downloading(
    api: SubsonicClient, user: User, hybrid: FakeYouTube
) -> None:
    mine = TrackFactory.create(title="Mine")
    playlist_id = api.call("createPlaylist", name="List", songId=[BLUES]).one("playlist")["id"]
    assert api.call("createPlaylist", playlistId=playlist_id, songId=[ids.track_id(mine.pk)]).ok
    _land("vidAAAAAAA1")
    assert api.call("getPlaylist", id=playlist_id).ids("playlist", "entry") == [ids.track_id(mine.pk)]


def test_references_are_applied_exactly_once(user: User, hybrid: FakeYouTube) -> None:
    track = TrackFactory.create(source="youtube", source_id="vidAAAAAAA1")
    pending_reference_add(user=user, source="youtube", external_id="vidAAAAAAA1", action=PendingAction.PLAY)
    assert pending_references_apply(track=track) == 1
    assert pending_references_apply(track=track) == 0
    assert _annotation(user, track).play_count == 1


def test_a_reference_to_a_song_that_landed_meanwhile_is_applied_at_once(user: User, hybrid: FakeYouTube) -> None:
    track = TrackFactory.create(source="youtube", source_id="vidAAAAAAA1")
    download_request_referencing(
        user=user,
        source="youtube",
        external_id="vidAAAAAAA1",
        reference=lambda: pending_reference_add(
            user=user, source="youtube", external_id="vidAAAAAAA1", action=PendingAction.RATING, rating=3
        ),
    )
    assert _annotation(user, track).rating == 3
    assert not PendingReference.objects.exists()
    assert not DownloadJob.objects.exists()


def test_two_users_starring_one_song_make_one_job_and_two_stars(hybrid: FakeYouTube, db: None) -> None:
    alice, bob = UserFactory.create(), UserFactory.create()
    for person in (alice, bob):
        assert client_for(person).call("star", id=BLUES).ok
    assert DownloadJob.objects.count() == 1
    track = _land("vidAAAAAAA1")
    assert Track.objects.filter(source_id="vidAAAAAAA1").count() == 1
    assert all(_annotation(person, track).starred_at for person in (alice, bob))


@pytest.mark.security
def test_users_who_may_not_request_downloads_cannot_reference_external_songs(hybrid: FakeYouTube, db: None) -> None:
    refused = client_for(UserFactory.create(can_request_downloads=False))
    for method, params in (
        ("star", {"id": BLUES}),
        ("setRating", {"id": BLUES, "rating": 3}),
        ("scrobble", {"id": BLUES}),
        ("createPlaylist", {"name": "x", "songId": BLUES}),
    ):
        assert refused.call(method, **params).error_code == 70, method
    assert not DownloadJob.objects.exists()
    assert not PendingReference.objects.exists()
    assert not Playlist.objects.exists()


@pytest.mark.security
def test_a_playlist_of_someone_else_cannot_get_external_entries(
    api: SubsonicClient, hybrid: FakeYouTube, db: None
) -> None:
    other = client_for(UserFactory.create())
    playlist_id = other.call("createPlaylist", name="Theirs").one("playlist")["id"]
    assert api.call("updatePlaylist", playlistId=playlist_id, songIdToAdd=BLUES).error_code in (50, 70)
    assert not PendingReference.objects.exists()


def test_an_album_id_is_not_a_song_to_star(api: SubsonicClient, hybrid: FakeYouTube) -> None:
    assert api.call("star", id="ext-yta-MPREb_fakealbum01").error_code == 70
    assert not DownloadJob.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_players_starring_one_song_at_once_make_one_job(hybrid: FakeYouTube) -> None:
    if connection.vendor == "sqlite":
        pytest.skip(
            "the in-memory test SQLite (shared cache) cannot run concurrent writers; CI runs this on PostgreSQL"
        )
    players = [client_for(UserFactory.create()) for _ in range(4)]
    barrier = threading.Barrier(len(players))
    codes: list[int | None] = []

    def star(player: SubsonicClient) -> None:
        try:
            barrier.wait(timeout=10)
            codes.append(player.call("star", id=BLUES).error_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=star, args=(player,)) for player in players]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert codes == [None] * len(players)
    assert DownloadJob.objects.count() == 1
    assert PendingReference.objects.filter(action=PendingAction.STAR).count() == len(players)
    track = _land("vidAAAAAAA1")
    assert TrackAnnotation.objects.filter(track=track, starred_at__isnull=False).count() == len(players)
    assert not PendingReference.objects.exists()


# --------------------------------------------------------------------------------------------------------------
# stream / download: the download is the one fetch; the player waits for it (bounded), then gets the library file
# --------------------------------------------------------------------------------------------------------------
@pytest.fixture
def worker(monkeypatch: Any) -> None:
    """Jobs run as soon as they are enqueued (on commit), as an idle worker would take them."""
    monkeypatch.setattr(
        "downloads.services.enqueueing.jobs_send",
        lambda job_ids, countdown=None: [download_job_run(job_id=job_id) for job_id in job_ids],
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("method", ["stream", "download"])
def test_streaming_an_external_song_downloads_it_then_serves_the_library_file(
    hybrid: FakeYouTube, worker: None, method: str
) -> None:
    player = client_for(UserFactory.create())
    response = player.raw(method, id=BLUES, **player.auth_params())
    assert response.status_code == 200
    assert response["Content-Type"].startswith("audio/")
    body = b"".join(response.streaming_content)  # type: ignore[attr-defined]
    track = Track.objects.get(source="youtube", source_id="vidAAAAAAA1")
    assert body == (hybrid.work_dir.parent / "media" / track.path).read_bytes()
    assert DownloadJob.objects.count() == 1
    again = player.raw(method, id=BLUES, **player.auth_params())  # served from the library, no second fetch
    assert b"".join(again.streaming_content) == body  # type: ignore[attr-defined]
    assert DownloadJob.objects.count() == 1


def test_when_the_wait_runs_out_the_player_is_told_it_is_still_downloading(
    api: SubsonicClient, hybrid: FakeYouTube, settings: Any
) -> None:
    settings.EXTERNAL_STREAM_WAIT_SECONDS = 0.3
    reply = api.call("stream", id=BLUES)
    assert reply.error_code == 0
    assert "still downloading" in reply.error_message
    assert DownloadJob.objects.get().state == JobState.QUEUED


def test_with_every_waiting_place_taken_the_player_is_told_at_once(
    api: SubsonicClient, hybrid: FakeYouTube, settings: Any
) -> None:
    settings.EXTERNAL_STREAM_MAX_RELAYS = 0  # as if other players already held every place
    settings.EXTERNAL_STREAM_MAX_WAITING = 0
    started = time.monotonic()
    reply = api.call("stream", id=BLUES)
    assert time.monotonic() - started < settings.EXTERNAL_STREAM_WAIT_SECONDS
    assert "still downloading" in reply.error_message
    assert DownloadJob.objects.get().state == JobState.QUEUED  # requested all the same


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("media", "said"), [("status:403", "will be retried later"), ("status:404", "failed")])
def test_a_download_that_cannot_finish_now_says_why_at_once(
    hybrid: FakeYouTube, worker: None, media: str, said: str
) -> None:
    hybrid.catalog.songs["vidAAAAAAA1"].media = media
    player = client_for(UserFactory.create())
    started = time.monotonic()
    reply = player.call("stream", id=BLUES)
    assert time.monotonic() - started < 10  # not the whole EXTERNAL_STREAM_WAIT_SECONDS
    assert reply.error_code == 0
    assert said in reply.error_message


@pytest.mark.security
def test_streaming_needs_the_right_to_request_downloads(hybrid: FakeYouTube, db: None) -> None:
    refused = client_for(UserFactory.create(can_request_downloads=False))
    assert refused.call("stream", id=BLUES).error_code == 70
    assert not DownloadJob.objects.exists()


def test_play_queue_songs_join_the_saved_queue_at_their_place(
    api: SubsonicClient, user: User, hybrid: FakeYouTube
) -> None:
    mine = TrackFactory.create(title="Mine")
    assert api.call("savePlayQueue", id=[ids.track_id(mine.pk), BLUES, PORT], current=ids.track_id(mine.pk)).ok
    assert api.call("getPlayQueue").ids("playQueue", "entry") == [ids.track_id(mine.pk)]

    port = _land("vidAAAAAAA2")
    blues = _land("vidAAAAAAA1")

    queue = api.call("getPlayQueue")
    assert queue.ids("playQueue", "entry") == [ids.track_id(mine.pk), ids.track_id(blues.pk), ids.track_id(port.pk)]
    assert queue.one("playQueue")["current"] == ids.track_id(mine.pk)


def test_a_queue_of_external_songs_only_is_created_when_they_land(
    api: SubsonicClient, user: User, hybrid: FakeYouTube
) -> None:
    assert api.call("savePlayQueueByIndex", id=[BLUES], currentIndex=0).ok
    blues = _land("vidAAAAAAA1")
    queue = api.call("getPlayQueueByIndex")
    assert queue.ids("playQueueByIndex", "entry") == [ids.track_id(blues.pk)]
    assert queue.one("playQueueByIndex")["currentIndex"] == "0"


def test_saving_the_queue_again_forgets_songs_of_the_old_one_still_downloading(
    api: SubsonicClient, user: User, hybrid: FakeYouTube
) -> None:
    mine = TrackFactory.create(title="Mine")
    assert api.call("savePlayQueue", id=[BLUES]).ok
    assert api.call("savePlayQueue", id=[ids.track_id(mine.pk)]).ok
    _land("vidAAAAAAA1")
    assert api.call("getPlayQueue").ids("playQueue", "entry") == [ids.track_id(mine.pk)]


def test_an_external_current_song_must_be_in_the_queue(api: SubsonicClient, hybrid: FakeYouTube) -> None:
    mine = TrackFactory.create(title="Mine")
    assert api.call("savePlayQueue", id=[ids.track_id(mine.pk)], current=BLUES).error_code == 0
    assert not DownloadJob.objects.exists()


def test_a_bookmark_lands_with_the_song_and_the_latest_one_wins(
    api: SubsonicClient, user: User, hybrid: FakeYouTube, fmt: str
) -> None:
    assert api.call("createBookmark", fmt, id=BLUES, position=1_000, comment="first").ok
    assert api.call("createBookmark", fmt, id=BLUES, position=61_000, comment="the solo").ok
    assert PendingReference.objects.filter(user=user, action=PendingAction.BOOKMARK).count() == 1
    assert DownloadJob.objects.filter(external_id="vidAAAAAAA1").count() == 1

    track = _land("vidAAAAAAA1")

    bookmark = api.call("getBookmarks", fmt).one("bookmarks", "bookmark")
    assert (bookmark["position"], bookmark["comment"]) == ("61000", "the solo")
    assert api.call("getBookmarks", fmt).ids("bookmarks", "bookmark", "entry") == [ids.track_id(track.pk)]
    assert not PendingReference.objects.exists()


def test_deleting_a_waiting_bookmark_takes_it_back(api: SubsonicClient, user: User, hybrid: FakeYouTube) -> None:
    assert api.call("createBookmark", id=BLUES, position=5_000).ok
    assert api.call("deleteBookmark", id=BLUES).ok
    missing = api.call("deleteBookmark", id=BLUES)
    assert (missing.error_code, missing.error_message) == (70, "Bookmark not found")
    _land("vidAAAAAAA1")
    assert api.call("getBookmarks").items("bookmarks", "bookmark") == []


def test_a_bad_bookmark_position_writes_nothing(api: SubsonicClient, hybrid: FakeYouTube) -> None:
    assert api.call("createBookmark", id=BLUES, position=-1).error_code in (0, 10)
    assert not DownloadJob.objects.exists()
    assert not PendingReference.objects.exists()


def test_get_song_then_its_download_ask_the_origin_for_the_track_once(api: SubsonicClient, hybrid: FakeYouTube) -> None:
    assert api.call("getSong", id=BLUES).ok
    assert api.call("getSong", id=BLUES).ok
    assert api.call("star", id=BLUES).ok
    _land("vidAAAAAAA1")
    assert hybrid.server.api_calls("next") == 1  # the watch playlist behind resolve_track, within the cache time
