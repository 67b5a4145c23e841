"""stream/download of an external song while it downloads (issue 21): the worker's bytes are relayed to the player
as they arrive, and the same fetch becomes the library copy.

A worker runs each job in a thread of its own (as a Celery worker in another process would) against a fake origin
that sends slowly, so a test can hold the player's response while the download is still running.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from django.core import signals
from django.db import close_old_connections, connection
from django.db.backends.signals import connection_created

from downloads import relay
from downloads.models import DownloadJob, JobPhase, JobState
from downloads.services import download_job_run, download_request
from library import transcoding
from library.models import Track
from library.storage import media_path
from tests.audio import AudioMaker, probe
from tests.factories.accounts import UserFactory
from tests.fakes.fixtures import FakeYouTube, cover_jpeg, fake_media, fake_youtube
from tests.subsonic.conftest import client_for
from tests.subsonic.support import SubsonicClient, parse

__all__ = ["cover_jpeg", "fake_media", "fake_youtube"]  # fixtures used by name

VIDEO = "vidAAAAAAA1"
SONG = f"ext-yt-{VIDEO}"
SECONDS = 8

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _concurrent_database() -> Iterator[None]:
    """The in-memory test SQLite shares one cache between connections, where a reader meeting a writer's table lock
    fails at once instead of waiting (file databases in WAL mode, as the server runs them, never block readers).
    Reading uncommitted rows lifts those read locks, so the worker thread and the player can run at once."""
    if connection.vendor != "sqlite":
        yield
        return

    def read_uncommitted(sender: Any, connection: Any, **kwargs: Any) -> None:
        connection.cursor().execute("PRAGMA read_uncommitted = 1")

    connection_created.connect(read_uncommitted)
    read_uncommitted(None, connection)
    yield
    connection_created.disconnect(read_uncommitted)


@pytest.fixture(scope="module")
def relay_audio(audio_maker: AudioMaker, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return audio_maker.make(tmp_path_factory.mktemp("relay") / "relay.opus", "opus", seconds=SECONDS)


@pytest.fixture
def origin(settings: Any, fake_youtube: FakeYouTube, relay_audio: Path) -> FakeYouTube:
    """The song's origin sends about 20 KB/s: its download takes a few seconds."""
    settings.EXTERNAL_SEARCH_IN_SUBSONIC = True
    settings.EXTERNAL_STREAM_WAIT_SECONDS = 15.0
    fake_youtube.media.add_file("relay.opus", relay_audio)
    fake_youtube.media.slow_chunk = 1024
    fake_youtube.media.slow_pause = 0.05
    song = fake_youtube.catalog.songs[VIDEO]
    song.media, song.media_name, song.seconds = "slow", "relay.opus", SECONDS
    return fake_youtube


@pytest.fixture
def worker(monkeypatch: Any) -> Iterator[list[threading.Thread]]:
    """Each enqueued job runs at once in a thread of its own, with its own database connection."""
    threads: list[threading.Thread] = []

    def run(job_id: str) -> None:
        try:
            download_job_run(job_id=job_id)
        finally:
            connection.close()

    def send(job_ids: list[str], countdown: float | None = None) -> None:
        for job_id in job_ids:
            thread = threading.Thread(target=run, args=(job_id,), name=f"worker-{job_id}")
            threads.append(thread)
            thread.start()

    monkeypatch.setattr("downloads.services.enqueueing.jobs_send", send)
    yield threads
    _drain(threads)


def _drain(threads: list[threading.Thread]) -> None:
    for thread in threads:
        thread.join(timeout=60)
        assert not thread.is_alive(), "a download job never finished"


def _stream(player: SubsonicClient, method: str = "stream", *, byte_range: str | None = None, **params: Any) -> Any:
    headers = {"Range": byte_range} if byte_range else None
    return player.client.get(f"/rest/{method}", {"id": SONG, **params, **player.auth_params()}, headers=headers)


def _hang_up(response: Any) -> None:
    """Close the response as the WSGI server does when the player goes away (see test_transcoding._hang_up)."""
    signals.request_finished.disconnect(close_old_connections)
    try:
        response.close()
    finally:
        signals.request_finished.connect(close_old_connections)


def _landed() -> Track:
    return Track.objects.get(source="youtube", source_id=VIDEO)


# --------------------------------------------------------------------------------------------------------------
# The relay
# --------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["stream", "download"])
def test_bytes_reach_the_player_before_the_download_finishes(
    origin: FakeYouTube, worker: list[threading.Thread], relay_audio: Path, method: str
) -> None:
    response = _stream(client_for(UserFactory.create()), method)
    assert response.status_code == 200
    assert response["Content-Type"] == "audio/ogg"
    assert response["Content-Length"] == str(relay_audio.stat().st_size)
    assert response["X-Content-Duration"] == f"{SECONDS:.2f}"
    if method == "download":
        assert response["Content-Disposition"].startswith(f'attachment; filename="{SONG}.')
    chunks = iter(response.streaming_content)
    first = next(chunks)
    job = DownloadJob.objects.get()
    assert (job.state, job.phase) == (JobState.RUNNING, JobPhase.DOWNLOADING)
    assert not Track.objects.exists()

    body = first + b"".join(chunks)
    assert body == relay_audio.read_bytes()  # the origin's bytes, whole
    _drain(worker)
    assert DownloadJob.objects.get().state == JobState.SUCCEEDED


def test_the_library_copy_is_whole_and_the_same_as_a_normal_download(
    origin: FakeYouTube, worker: list[threading.Thread]
) -> None:
    response = _stream(client_for(UserFactory.create()))
    b"".join(response.streaming_content)
    _drain(worker)
    relayed = media_path(_landed().path).read_bytes()
    relayed_fetches = origin.media.count("/slow/relay.opus")

    media_path(_landed().path).unlink()
    Track.objects.all().delete()
    origin.catalog.songs[VIDEO].media = "ok"
    job = download_request(user=None, source="youtube", external_id=VIDEO, kind="song").job
    assert job is not None
    _drain(worker)
    assert DownloadJob.objects.get(pk=job.pk).state == JobState.SUCCEEDED, "the normal download did not land"
    assert media_path(_landed().path).read_bytes() == relayed
    # One fetch: relaying added no request to the origin's beyond what a download without a player makes.
    assert origin.media.count("/media/relay.opus") == relayed_fetches


def test_two_players_at_once_share_one_download(
    origin: FakeYouTube, worker: list[threading.Thread], relay_audio: Path
) -> None:
    first, second = (_stream(client_for(UserFactory.create())) for _ in range(2))
    assert (first.status_code, second.status_code) == (200, 200)
    bodies = [b"", b""]
    pending = {0: iter(first.streaming_content), 1: iter(second.streaming_content)}
    while pending:  # both players read turn by turn while the download runs
        for index, chunks in list(pending.items()):
            chunk = next(chunks, None)
            if chunk is None:
                del pending[index]
            else:
                bodies[index] += chunk
    assert bodies == [relay_audio.read_bytes()] * 2
    _drain(worker)
    assert DownloadJob.objects.count() == 1
    assert Track.objects.filter(source="youtube", source_id=VIDEO).count() == 1


def test_a_player_hanging_up_mid_relay_leaves_the_download_alone(
    origin: FakeYouTube, worker: list[threading.Thread], settings: Any
) -> None:
    settings.EXTERNAL_STREAM_MAX_RELAYS = 1
    settings.EXTERNAL_STREAM_MAX_WAITING = 0
    player = client_for(UserFactory.create())
    response = _stream(player)
    assert next(iter(response.streaming_content))
    _hang_up(response)
    _drain(worker)
    track = _landed()
    assert DownloadJob.objects.get().state == JobState.SUCCEEDED
    assert abs(track.duration_ms - SECONDS * 1000) < 500
    again = _stream(player)  # the relay's place was given back, and the library copy plays
    assert again.status_code == 200
    assert b"".join(again.streaming_content) == media_path(track.path).read_bytes()


def test_a_range_is_honoured_where_its_bytes_have_arrived(
    origin: FakeYouTube, worker: list[threading.Thread], relay_audio: Path
) -> None:
    whole = relay_audio.read_bytes()
    player = client_for(UserFactory.create())
    playing = _stream(player)
    chunks = iter(playing.streaming_content)
    arrived = len(next(chunks))  # these bytes are on disk now
    assert arrived > 600

    response = _stream(player, byte_range="bytes=100-599")
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes 100-599/{len(whole)}"
    assert response["Content-Length"] == "500"
    assert b"".join(response.streaming_content) == whole[100:600]

    past = _stream(player, byte_range=f"bytes={len(whole)}-")
    assert past.status_code == 416
    assert past["Content-Range"] == f"bytes */{len(whole)}"

    ahead = _stream(player, byte_range=f"bytes={len(whole) - 10}-")  # not here yet: the whole stream
    assert ahead.status_code == 200
    assert b"".join(ahead.streaming_content) == whole
    b"".join(chunks)


def test_a_download_failing_mid_relay_ends_the_stream_and_the_next_request_says_why(
    origin: FakeYouTube, worker: list[threading.Thread], relay_audio: Path
) -> None:
    origin.catalog.songs[VIDEO].media = "slowcut"
    player = client_for(UserFactory.create())
    response = _stream(player)
    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    assert 0 < len(body) < relay_audio.stat().st_size  # shorter than its Content-Length: seen as cut short
    assert body == relay_audio.read_bytes()[: len(body)]
    _drain(worker)
    assert DownloadJob.objects.get().state == JobState.RETRYING
    reply = player.call("stream", id=SONG)
    assert reply.error_code == 0
    assert "will be retried later" in reply.error_message


def test_beyond_the_relay_places_players_wait_then_are_told(
    origin: FakeYouTube, worker: list[threading.Thread], settings: Any
) -> None:
    settings.EXTERNAL_STREAM_MAX_RELAYS = 1
    settings.EXTERNAL_STREAM_MAX_WAITING = 0
    held = _stream(client_for(UserFactory.create()))
    assert held.status_code == 200
    refused = client_for(UserFactory.create()).call("stream", id=SONG)
    assert "still downloading" in refused.error_message
    b"".join(held.streaming_content)


def test_a_worker_whose_files_this_process_cannot_see_is_waited_for(
    origin: FakeYouTube, worker: list[threading.Thread], monkeypatch: Any, tmp_path: Path
) -> None:
    """Another host: the announced file never appears here, so the player gets the library copy once it lands."""
    real_root = relay.work_root
    web = threading.current_thread()
    monkeypatch.setattr(
        relay, "work_root", lambda: tmp_path / "elsewhere" if threading.current_thread() is web else real_root()
    )
    response = _stream(client_for(UserFactory.create()))
    assert response.status_code == 200
    track = _landed()  # already there when the answer starts
    assert b"".join(response.streaming_content) == media_path(track.path).read_bytes()


# --------------------------------------------------------------------------------------------------------------
# Transcoding while the bytes arrive
# --------------------------------------------------------------------------------------------------------------
def test_a_transcode_asked_for_is_encoded_from_the_bytes_as_they_arrive(
    origin: FakeYouTube, worker: list[threading.Thread], relay_audio: Path, tmp_path: Path
) -> None:
    response = _stream(client_for(UserFactory.create()), format="mp3", maxBitRate=128, byte_range="bytes=100-")
    assert response.status_code == 200  # Range: the whole stream, as a fresh encode has no bytes to seek in
    assert response["Content-Type"] == "audio/mpeg"
    assert not response.has_header("Content-Length")
    assert response["Accept-Ranges"] == "none"
    assert response["X-Content-Duration"] == f"{SECONDS:.2f}"
    chunks = iter(response.streaming_content)
    first = next(chunks)
    job = DownloadJob.objects.get()
    assert (job.state, job.phase) == (JobState.RUNNING, JobPhase.DOWNLOADING)
    assert not Track.objects.exists()

    probed = probe(first + b"".join(chunks), tmp_path)
    assert probed["streams"][0]["codec_name"] == "mp3"
    assert abs(float(probed["format"]["duration"]) - SECONDS) < 0.5
    assert int(probed["format"]["bit_rate"]) <= 130_000
    _drain(worker)
    landed = _landed()  # the source's own bytes (tagged), not the transcode: see the library-copy test above
    assert (landed.codec, media_path(landed.path).read_bytes()[:4]) == ("opus", b"OggS")


def test_the_users_limit_transcodes_a_relay_without_any_parameter(
    origin: FakeYouTube, worker: list[threading.Thread], relay_audio: Path, tmp_path: Path
) -> None:
    """The source's bitrate, unreported by the fake origin, is its length over its duration (about 64 kbps)."""
    response = _stream(client_for(UserFactory.create(max_bitrate=32)))
    assert response["Content-Type"] == "audio/ogg"
    body = b"".join(response.streaming_content)
    assert body != relay_audio.read_bytes()
    probed = probe(body, tmp_path)
    assert probed["streams"][0]["codec_name"] == "opus"
    assert int(probed["format"]["bit_rate"]) < 56_000  # 32 kbps and the container's overhead, in 8 s


def test_a_source_already_within_the_limit_is_relayed_as_it_is(
    origin: FakeYouTube, worker: list[threading.Thread], relay_audio: Path
) -> None:
    response = _stream(client_for(UserFactory.create()), format="opus", maxBitRate=256)
    assert response["Content-Length"] == str(relay_audio.stat().st_size)
    assert b"".join(response.streaming_content) == relay_audio.read_bytes()


def test_without_ffmpeg_a_transcode_asked_for_relays_the_source(
    origin: FakeYouTube, worker: list[threading.Thread], relay_audio: Path, monkeypatch: Any
) -> None:
    monkeypatch.setattr(transcoding, "ffmpeg_path", lambda: None)
    response = _stream(client_for(UserFactory.create()), format="mp3")
    assert response["Content-Type"] == "audio/ogg"
    assert b"".join(response.streaming_content) == relay_audio.read_bytes()


def test_a_time_offset_during_the_relay_starts_the_song_there(
    origin: FakeYouTube, worker: list[threading.Thread], tmp_path: Path
) -> None:
    response = _stream(client_for(UserFactory.create()), timeOffset=5)
    assert response["Content-Type"] == "audio/ogg"  # the source's codec, from the offset on
    assert response["X-Content-Duration"] == f"{SECONDS - 5:.2f}"
    probed = probe(b"".join(response.streaming_content), tmp_path)
    assert probed["streams"][0]["codec_name"] == "opus"
    assert abs(float(probed["format"]["duration"]) - (SECONDS - 5)) < 0.5


def test_a_download_failing_mid_transcode_ends_the_stream_short(
    origin: FakeYouTube, worker: list[threading.Thread], tmp_path: Path
) -> None:
    origin.catalog.songs[VIDEO].media = "slowcut"
    response = _stream(client_for(UserFactory.create()), format="mp3")
    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    assert len(body) > 0
    # ffmpeg was stopped with the bytes, not left to finish a clipped song as if whole.
    assert len(body) < SECONDS * 192_000 / 8 / 2
    _drain(worker)
    assert DownloadJob.objects.get().state == JobState.RETRYING
    assert transcoding.running_transcodes() == 0


def test_a_transcoded_relay_holds_its_place_until_the_player_hangs_up(
    origin: FakeYouTube, worker: list[threading.Thread], settings: Any
) -> None:
    settings.EXTERNAL_STREAM_MAX_RELAYS = 1
    settings.EXTERNAL_STREAM_MAX_WAITING = 0
    response = _stream(client_for(UserFactory.create()), format="mp3")
    assert next(iter(response.streaming_content))
    assert transcoding.running_transcodes() == 1
    refused = client_for(UserFactory.create()).call("stream", id=SONG)
    assert "still downloading" in refused.error_message
    _hang_up(response)
    assert transcoding.running_transcodes() == 0
    again = _stream(client_for(UserFactory.create()), format="mp3")  # the place is back
    assert again.status_code == 200
    assert again["Content-Type"] == "audio/mpeg"
    b"".join(again.streaming_content)


# --------------------------------------------------------------------------------------------------------------
# OpenSubsonic transcode decisions on an external song
# --------------------------------------------------------------------------------------------------------------
MP3_ONLY = {
    "name": "Symfonium",
    "platform": "Android",
    "directPlayProfiles": [{"containers": ["mp3"], "audioCodecs": ["mp3"], "protocols": ["http"]}],
    "transcodingProfiles": [{"container": "mp3", "audioCodec": "mp3", "protocol": "http"}],
    "maxTranscodingAudioBitrate": 128,
}
PLAYS_OGG_OPUS = {
    **MP3_ONLY,
    "directPlayProfiles": [{"containers": ["ogg"], "audioCodecs": ["opus"], "protocols": ["http"]}],
}


def _decide(player: SubsonicClient, client_info: dict[str, Any], media_id: str = SONG) -> dict[str, Any]:
    query = {"f": "json", "mediaId": media_id, "mediaType": "song", **player.auth_params()}
    response = player.client.post(
        f"/rest/getTranscodeDecision.view?{urlencode(query)}", json.dumps(client_info), content_type="application/json"
    )
    reply = parse("getTranscodeDecision", "json", response)
    assert reply.ok, reply.error_message
    decision: dict[str, Any] = reply.body["transcodeDecision"]
    return decision


def _transcode_stream(player: SubsonicClient, params: str, media_id: str = SONG) -> Any:
    query = {"mediaId": media_id, "mediaType": "song", "transcodeParams": params, **player.auth_params()}
    return player.client.get("/rest/getTranscodeStream.view", query)


def test_a_decision_on_a_song_still_downloading_comes_from_its_format_and_its_params_outlive_the_download(
    origin: FakeYouTube, worker: list[threading.Thread], tmp_path: Path
) -> None:
    player = client_for(UserFactory.create())
    decision = _decide(player, MP3_ONLY)
    assert not Track.objects.exists()  # decided without waiting for the file
    assert (decision["canDirectPlay"], decision["canTranscode"]) == (False, True)
    assert decision["sourceStream"]["codec"] == "opus"
    assert (decision["transcodeStream"]["codec"], decision["transcodeStream"]["audioBitrate"]) == ("mp3", 128)

    response = _transcode_stream(player, decision["transcodeParams"])
    assert response["Content-Type"] == "audio/mpeg"
    chunks = iter(response.streaming_content)
    first = next(chunks)
    assert not Track.objects.exists()  # relayed through ffmpeg while the download runs
    assert probe(first + b"".join(chunks), tmp_path)["streams"][0]["codec_name"] == "mp3"

    _drain(worker)
    assert Track.objects.exists()
    again = _transcode_stream(player, decision["transcodeParams"])  # players cache the params with the id
    assert again["Content-Type"] == "audio/mpeg"
    assert probe(b"".join(again.streaming_content), tmp_path)["streams"][0]["codec_name"] == "mp3"


def test_a_direct_play_decision_on_a_song_still_downloading_relays_its_bytes(
    origin: FakeYouTube, worker: list[threading.Thread], relay_audio: Path
) -> None:
    player = client_for(UserFactory.create())
    decision = _decide(player, PLAYS_OGG_OPUS)
    assert decision["canDirectPlay"] is True
    response = _transcode_stream(player, decision["transcodeParams"])
    assert response["Content-Length"] == str(relay_audio.stat().st_size)
    assert b"".join(response.streaming_content) == relay_audio.read_bytes()


def test_params_of_an_external_song_are_tied_to_it(origin: FakeYouTube, worker: list[threading.Thread]) -> None:
    player = client_for(UserFactory.create())
    params = _decide(player, MP3_ONLY)["transcodeParams"]
    other = parse("getTranscodeStream", "xml", _transcode_stream(player, params, media_id="ext-yt-vidAAAAAAA2"))
    assert "another song" in other.error_message
    assert DownloadJob.objects.count() == 1  # refused before the other song's download was asked for
    stranger = parse("getTranscodeStream", "xml", _transcode_stream(client_for(UserFactory.create()), params))
    assert "another song or user" in stranger.error_message
    _drain(worker)


# --------------------------------------------------------------------------------------------------------------
# The worker's side
# --------------------------------------------------------------------------------------------------------------
def test_detaching_the_downloaded_file_keeps_what_a_relay_holds_open(tmp_path: Path) -> None:
    downloaded = tmp_path / "media.opus"
    downloaded.write_bytes(b"as it came")
    with downloaded.open("rb") as held:
        relay.downloaded_file_detach(downloaded)
        downloaded.write_bytes(b"tagged, rewritten in place")
        assert held.read() == b"as it came"


def test_a_download_announces_its_arriving_file_then_its_whole_length(
    origin: FakeYouTube, worker: list[threading.Thread]
) -> None:
    origin.catalog.songs[VIDEO].media = "ok"
    job = download_request(user=None, source="youtube", external_id=VIDEO, kind="song").job
    assert job is not None
    _drain(worker)
    arriving = DownloadJob.objects.get(pk=job.pk).meta["arriving"]
    assert arriving["attempt"] == 1
    assert arriving["file"].endswith(".part")
    assert arriving["complete_size"] == arriving["exact_size"] > 0
