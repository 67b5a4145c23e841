"""A machine without ffmpeg (it is taken off PATH): nothing is transcoded, every player gets the original file,
and health, extensions and decisions say so instead of offering what cannot be done."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.test import Client

from accounts.models import User
from library import transcoding
from library.models import Track
from tests.factories.accounts import UserFactory
from tests.subsonic.conftest import streamed_body
from tests.subsonic.support import SubsonicClient

INFO = {
    "name": "Symfonium",
    "platform": "Android",
    "directPlayProfiles": [{"containers": ["mp3"], "audioCodecs": ["mp3"], "protocols": ["http"]}],
    "transcodingProfiles": [{"container": "mp3", "audioCodec": "mp3", "protocol": "http"}],
}


def _original(track: Track) -> bytes:
    return (Path(settings.MEDIA_ROOT) / track.path).read_bytes()


def _decide(api: SubsonicClient, track: Track) -> dict[str, Any]:
    query = {"v": "1.16.1", "c": "Symfonium", "f": "json", "mediaId": f"tr-{track.pk}", "mediaType": "song"}
    response = api.client.post(
        f"/rest/getTranscodeDecision.view?{urlencode({**query, **api.auth_params()})}",
        json.dumps(INFO),
        content_type="application/json",
    )
    decision: dict[str, Any] = json.loads(response.content)["subsonic-response"]["transcodeDecision"]
    return decision


def _transcode_stream(api: SubsonicClient, track: Track, params: str, **extra: Any) -> Any:
    query = {"mediaId": f"tr-{track.pk}", "mediaType": "song", "transcodeParams": params, **extra}
    return api.client.get("/rest/getTranscodeStream.view", {**query, **api.auth_params()})


@pytest.mark.parametrize(
    "params",
    [{"format": "mp3"}, {"maxBitRate": 96}, {"format": "opus", "timeOffset": 2, "estimateContentLength": "true"}],
)
def test_stream_sends_the_original_file(
    api: SubsonicClient, flac_song: Track, without_ffmpeg: None, params: dict[str, Any]
) -> None:
    response = api.client.get("/rest/stream.view", {"id": f"tr-{flac_song.pk}", **params, **api.auth_params()})
    assert response["Content-Type"] == "audio/flac"
    assert response["Accept-Ranges"] == "bytes"
    assert streamed_body(response) == _original(flac_song)
    assert transcoding.running_transcodes() == 0


def test_bad_input_is_still_refused(api: SubsonicClient, flac_song: Track, without_ffmpeg: None) -> None:
    reply = api.call("stream", "json", id=f"tr-{flac_song.pk}", format="wma")
    assert reply.error_code in (0, 10)
    assert "format must be one of" in reply.error_message


def test_the_rest_stream_sends_the_original_file(api_client_for: Any, flac_song: Track, without_ffmpeg: None) -> None:
    client = api_client_for(UserFactory.create())
    response = client.get(f"/api/v1/tracks/{flac_song.pk}/stream", {"format": "mp3", "max_bitrate": 96})
    assert response.status_code == 200
    assert response["Content-Type"] == "audio/flac"
    assert b"".join(response.streaming_content) == _original(flac_song)


def test_a_decision_says_transcoding_is_unavailable(
    api: SubsonicClient, flac_song: Track, without_ffmpeg: None
) -> None:
    decision = _decide(api, flac_song)
    assert (decision["canDirectPlay"], decision["canTranscode"]) == (False, False)
    assert decision["errorReason"] == "transcoding is unavailable on this server"
    assert "transcodeParams" not in decision


def test_params_issued_before_ffmpeg_went_away_get_the_file(
    api: SubsonicClient, flac_song: Track, remove_ffmpeg: Callable[[], None]
) -> None:
    params = _decide(api, flac_song)["transcodeParams"]  # a transcode to mp3, decided while ffmpeg was there
    remove_ffmpeg()
    response = _transcode_stream(api, flac_song, params)
    assert response["Content-Type"] == "audio/flac"
    assert streamed_body(response) == _original(flac_song)
    assert transcoding.running_transcodes() == 0


def test_neither_transcoding_extension_is_offered(api: SubsonicClient, without_ffmpeg: None) -> None:
    names = [e["name"] for e in api.call("getOpenSubsonicExtensions", "json").items("openSubsonicExtensions")]
    assert "transcoding" not in names
    assert "transcodeOffset" not in names
    assert "formPost" in names


def test_with_ffmpeg_both_are_offered(api: SubsonicClient) -> None:
    names = [e["name"] for e in api.call("getOpenSubsonicExtensions", "json").items("openSubsonicExtensions")]
    assert {"transcoding", "transcodeOffset"} <= set(names)


def test_song_entries_announce_no_transcode(api: SubsonicClient, flac_song: Track, without_ffmpeg: None) -> None:
    User.objects.filter(username=api.username).update(max_bitrate=96)
    song = api.call("getSong", "json", id=f"tr-{flac_song.pk}").one("song")
    assert "transcodedSuffix" not in song
    assert "transcodedContentType" not in song


def test_readiness_says_transcoding_is_unavailable(client: Client, db: None, without_ffmpeg: None) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200  # the server still serves every song
    assert response.json() == {"status": "ok", "degraded": {"transcoding": "unavailable"}}


def test_readiness_with_ffmpeg_names_nothing_degraded(client: Client, db: None) -> None:
    assert client.get("/readyz").json() == {"status": "ok"}


def test_the_dashboard_says_transcoding_is_unavailable(admin_client: Client, without_ffmpeg: None) -> None:
    card = admin_client.get("/admin/").content.decode().split('id="transcoding-health"', 1)[1].split("</section>")[0]
    assert "unavailable" in card
    assert "ffmpeg is not installed: players get the original files" in card


def test_the_dashboard_says_transcoding_is_ready(admin_client: Client) -> None:
    card = admin_client.get("/admin/").content.decode().split('id="transcoding-health"', 1)[1].split("</section>")[0]
    assert "ready" in card
    assert "up to 4 transcodes at once per web process" in card
