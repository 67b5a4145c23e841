"""Per-player limits: an admin-set bitrate cap and default format for a Subsonic client name (`c`), applied with
the user's own cap (the lower wins) on stream and in transcode decisions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from accounts.models import TranscodeFormat, User
from library import selectors, transcoding
from library.models import PlayerProfile, Track
from subsonic import ids
from tests.audio import probe
from tests.subsonic.conftest import streamed_body
from tests.subsonic.support import SubsonicClient


def _stream(api: SubsonicClient, track: Track, client: str, **params: Any) -> Any:
    return api.client.get("/rest/stream.view", {"id": f"tr-{track.pk}", "c": client, **params, **api.auth_params()})


def test_the_players_cap_transcodes_for_that_player_only(api: SubsonicClient, flac_song: Track, tmp_path: Path) -> None:
    PlayerProfile.objects.create(client_name="Symfonium", max_bitrate=96)
    capped = _stream(api, flac_song, "symfonium")  # matched ignoring case
    assert capped["Content-Type"] == "audio/ogg"
    probed = probe(streamed_body(capped), tmp_path)
    assert probed["streams"][0]["codec_name"] == "opus"
    other = _stream(api, flac_song, "Tempo")
    assert other["Accept-Ranges"] == "bytes"
    assert streamed_body(other) == (Path(settings.MEDIA_ROOT) / flac_song.path).read_bytes()


def test_the_players_default_format_is_used_when_the_request_names_none(
    api: SubsonicClient, flac_song: Track, tmp_path: Path
) -> None:
    PlayerProfile.objects.create(client_name="Old Car Stereo", default_format=TranscodeFormat.MP3)
    response = _stream(api, flac_song, "Old Car Stereo")
    assert response["Content-Type"] == "audio/mpeg"
    assert probe(streamed_body(response), tmp_path)["streams"][0]["codec_name"] == "mp3"
    raw = _stream(api, flac_song, "Old Car Stereo", format="raw")
    assert raw["Content-Type"] == "audio/flac"
    streamed_body(raw)
    asked = _stream(api, flac_song, "Old Car Stereo", format="opus")
    assert asked["Content-Type"] == "audio/ogg"
    streamed_body(asked)


def test_the_users_default_format_applies_unless_the_players_says_otherwise(
    api: SubsonicClient, flac_song: Track, tmp_path: Path
) -> None:
    User.objects.filter(username=api.username).update(default_format=TranscodeFormat.AAC)
    mine = _stream(api, flac_song, "Tempo")
    assert mine["Content-Type"] == "audio/aac"
    assert probe(streamed_body(mine), tmp_path)["streams"][0]["codec_name"] == "aac"
    PlayerProfile.objects.create(client_name="Old Car Stereo", default_format=TranscodeFormat.MP3)
    players = _stream(api, flac_song, "Old Car Stereo")
    assert players["Content-Type"] == "audio/mpeg"
    streamed_body(players)
    PlayerProfile.objects.create(client_name="Capped", max_bitrate=96)  # a cap only: the user's format stays
    capped = _stream(api, flac_song, "Capped")
    assert capped["Content-Type"] == "audio/aac"
    streamed_body(capped)
    song = api.call("getSong", "json", client_name="Tempo", id=f"tr-{flac_song.pk}").one("song")
    assert (song["transcodedSuffix"], song["transcodedContentType"]) == ("aac", "audio/aac")


def test_an_unknown_user_default_format_is_refused_by_the_database(user: User) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.filter(pk=user.pk).update(default_format="wma")


@pytest.mark.parametrize(
    ("user_cap", "player_cap", "expected"), [(64, 128, 64), (160, 96, 96), (0, 96, 96), (80, 0, 80)]
)
def test_the_lower_of_the_users_and_the_players_cap_wins(
    api: SubsonicClient, flac_song: Track, user_cap: int, player_cap: int, expected: int
) -> None:
    User.objects.filter(username=api.username).update(max_bitrate=user_cap)
    PlayerProfile.objects.create(client_name="Symfonium", max_bitrate=player_cap, default_format="mp3")
    user = User.objects.get(username=api.username)
    limits = selectors.playback_limits(user=user, client="Symfonium")
    assert limits == transcoding.PlaybackLimits(expected, "mp3")
    plan = transcoding.transcode_plan(
        track=flac_song, requested_format=None, max_bitrate=0, limits=limits, offset_seconds=0
    )
    assert plan is not None
    assert (plan.codec.name, plan.bitrate) == ("mp3", expected)


def test_a_players_cap_applies_to_transcode_decisions(api: SubsonicClient, flac_song: Track) -> None:
    PlayerProfile.objects.create(client_name="Symfonium", max_bitrate=128)
    info = {
        "name": "Symfonium",
        "platform": "Android",
        "directPlayProfiles": [{"containers": [], "audioCodecs": [], "protocols": ["http"]}],
        "transcodingProfiles": [{"container": "mp3", "audioCodec": "mp3", "protocol": "http"}],
    }
    query = {"c": "Symfonium", "f": "json", "mediaId": f"tr-{flac_song.pk}", "mediaType": "song", **api.auth_params()}
    response = api.client.post(
        f"/rest/getTranscodeDecision.view?{urlencode(query)}", json.dumps(info), content_type="application/json"
    )
    decision = json.loads(response.content)["subsonic-response"]["transcodeDecision"]
    assert decision["canDirectPlay"] is False
    assert decision["transcodeStream"]["audioBitrate"] == 128


def test_profiles_are_read_once_then_from_the_cache(user: User, django_assert_num_queries: Any) -> None:
    PlayerProfile.objects.create(client_name="Symfonium", max_bitrate=96)
    with django_assert_num_queries(0):
        assert selectors.playback_limits(user=user, client="") == transcoding.NO_LIMITS
    with django_assert_num_queries(1):  # the whole table, once
        assert selectors.playback_limits(user=user, client="Nobody") == transcoding.NO_LIMITS
    with django_assert_num_queries(0):
        assert selectors.playback_limits(user=user, client="SYMFONIUM") == transcoding.PlaybackLimits(96)
        assert selectors.playback_limits(user=user, client="Nobody") == transcoding.NO_LIMITS


def test_saving_or_deleting_a_profile_is_seen_at_once(user: User) -> None:
    assert selectors.playback_limits(user=user, client="Tempo") == transcoding.NO_LIMITS  # cached: no profile
    profile = PlayerProfile.objects.create(client_name="Tempo", max_bitrate=128)
    assert selectors.playback_limits(user=user, client="Tempo") == transcoding.PlaybackLimits(128)
    profile.default_format = TranscodeFormat.MP3
    profile.save()
    assert selectors.playback_limits(user=user, client="Tempo") == transcoding.PlaybackLimits(128, "mp3")
    PlayerProfile.objects.filter(pk=profile.pk).delete()
    assert selectors.playback_limits(user=user, client="Tempo") == transcoding.NO_LIMITS


def test_a_request_naming_its_player_costs_no_extra_query(
    api: SubsonicClient, flac_song: Track, django_assert_num_queries: Any
) -> None:
    PlayerProfile.objects.create(client_name="Symfonium", max_bitrate=96)
    song_id = f"tr-{flac_song.pk}"
    api.call("getSong", "json", client_name="Symfonium", id=song_id)  # the first request reads the profiles
    with CaptureQueriesContext(connection) as unnamed:
        assert api.call("getSong", "json", client_name="", id=song_id).ok
    with django_assert_num_queries(len(unnamed)):
        song = api.call("getSong", "json", client_name="Symfonium", id=song_id).one("song")
    assert song["transcodedSuffix"] == "opus"  # the profile did apply


def test_one_profile_per_client_name_ignoring_case(db: None) -> None:
    PlayerProfile.objects.create(client_name="Symfonium")
    with pytest.raises(IntegrityError), transaction.atomic():
        PlayerProfile.objects.create(client_name="SYMFONIUM")


def test_an_unknown_default_format_is_refused_by_the_database(db: None) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        PlayerProfile.objects.create(client_name="Symfonium", default_format="wma")


def test_every_default_format_is_one_the_transcoder_encodes() -> None:
    assert set(TranscodeFormat.values) == set(transcoding.CODECS)


# -- Song entries announce the transcode the caller's limits imply ---------------------------------------------------
@pytest.mark.parametrize("client_name", ["Symfonium", "DSub"])  # the full profile, and the legacy 1.16.1 one
def test_song_entries_announce_the_transcode_a_cap_implies(
    api: SubsonicClient, flac_song: Track, fmt: str, client_name: str
) -> None:
    PlayerProfile.objects.create(client_name=client_name, max_bitrate=400)
    # validated against the XSD (strict 1.16.1 for DSub) or the OpenAPI schema
    songs = api.call("getAlbum", fmt, client_name=client_name, id=ids.album_id(flac_song.album_id)).items(
        "album", "song"
    )
    by_id = {song["id"]: song for song in songs}
    transcoded = by_id[f"tr-{flac_song.pk}"]
    assert (transcoded["transcodedSuffix"], transcoded["transcodedContentType"]) == ("opus", "audio/ogg")
    assert transcoded["suffix"] == "flac"
    fitting = [song for song in songs if song["id"] != f"tr-{flac_song.pk}"]
    assert fitting
    assert all("transcodedSuffix" not in song for song in fitting)  # factory songs are 320 kbps, below the cap


def test_song_entries_follow_the_players_default_format(api: SubsonicClient, flac_song: Track) -> None:
    PlayerProfile.objects.create(client_name="Old Car Stereo", default_format=TranscodeFormat.MP3)
    song = api.call("getSong", "json", client_name="Old Car Stereo", id=f"tr-{flac_song.pk}").one("song")
    assert (song["transcodedSuffix"], song["transcodedContentType"]) == ("mp3", "audio/mpeg")
    plain = api.call("getSong", "json", client_name="Tempo", id=f"tr-{flac_song.pk}").one("song")
    assert "transcodedSuffix" not in plain
