"""OpenSubsonic `transcoding` extension: getTranscodeDecision against each profile combination of the spec, and
getTranscodeStream with the signed params it hands out (altered or forged ones refused, offsets honoured)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.core import signing

from accounts.models import User
from library import transcoding
from library.models import Track
from library.transcode_decisions import PARAMS_SALT
from tests.audio import probe
from tests.subsonic.conftest import SECONDS, streamed_body
from tests.subsonic.support import Reply, SubsonicClient, parse

HTTP = ["http"]


def _direct(containers: list[Any], codecs: list[Any], **extra: Any) -> dict[str, Any]:
    return {"containers": containers, "audioCodecs": codecs, "protocols": HTTP, **extra}


def _transcode(container: str, codec: str, protocol: str = "http", **extra: Any) -> dict[str, Any]:
    return {"container": container, "audioCodec": codec, "protocol": protocol, **extra}


def _info(**fields: Any) -> dict[str, Any]:
    return {"name": "Symfonium", "platform": "Android", **fields}


def _codec_profile(codec: str, *limitations: tuple[str, str, list[str]]) -> dict[str, Any]:
    """A codec profile of required limitations, each (name, comparison, values)."""
    return {
        "type": "AudioCodec",
        "name": codec,
        "limitations": [
            {"name": name, "comparison": comparison, "values": values, "required": True}
            for name, comparison, values in limitations
        ],
    }


def _decide(
    api: SubsonicClient,
    track: Track,
    body: Any,
    fmt: str = "json",
    *,
    raw_body: bytes | None = None,
    query: dict[str, Any] | None = None,
) -> Reply:
    params = {"v": "1.16.1", "c": "Symfonium", "f": fmt, "mediaId": f"tr-{track.pk}", "mediaType": "song"}
    params.update({**api.auth_params(), **(query or {})})
    response = api.client.post(
        f"/rest/getTranscodeDecision.view?{urlencode(params)}",
        raw_body if raw_body is not None else json.dumps(body),
        content_type="application/json",
    )
    return parse("getTranscodeDecision", fmt, response)


def _decision(reply: Reply) -> dict[str, Any]:
    """The decision as JSON gives it (typed values, nested streams)."""
    assert reply.ok, reply.error_message
    decision: dict[str, Any] = reply.body["transcodeDecision"]
    return decision


def _stream(api: SubsonicClient, track: Track, params: str, **extra: Any) -> Any:
    query = {"mediaId": f"tr-{track.pk}", "mediaType": "song", "transcodeParams": params, **extra}
    return api.client.get("/rest/getTranscodeStream.view", {**query, **api.auth_params()})


def test_a_player_that_plays_flac_gets_the_file_as_it_is(api: SubsonicClient, flac_song: Track, fmt: str) -> None:
    reply = _decide(api, flac_song, _info(directPlayProfiles=[_direct(["flac"], ["flac"])]), fmt)
    assert reply.ok, reply.error_message
    decision = reply.one("transcodeDecision")  # string values, as both formats give them
    assert (decision["canDirectPlay"], decision["canTranscode"]) == ("true", "false")
    source = reply.one("transcodeDecision", "sourceStream")
    assert (source["protocol"], source["container"], source["codec"]) == ("http", "flac", "flac")
    assert (source["audioSamplerate"], source["audioBitdepth"], source["audioChannels"]) == ("44100", "16", "1")
    assert reply.items("transcodeDecision", "transcodeStream") == []
    response = _stream(api, flac_song, decision["transcodeParams"])
    assert response["Accept-Ranges"] == "bytes"
    assert streamed_body(response) == (Path(settings.MEDIA_ROOT) / flac_song.path).read_bytes()


@pytest.mark.parametrize(
    "profile",
    [
        pytest.param(_direct([], []), id="empty lists mean any"),
        pytest.param(_direct(["flac", "mp3"], []), id="any codec in a listed container"),
        pytest.param(_direct([], ["flac"]), id="a listed codec in any container"),
        pytest.param({"containers": [], "audioCodecs": [], "protocols": []}, id="any protocol"),
        pytest.param(_direct(["flac"], ["flac"], maxAudioChannels=2), id="channels within the profile"),
    ],
)
def test_direct_play_profile_combinations_that_accept_the_file(
    api: SubsonicClient, flac_song: Track, profile: dict[str, Any]
) -> None:
    decision = _decision(_decide(api, flac_song, _info(directPlayProfiles=[profile])))
    assert decision["canDirectPlay"] is True
    assert decision.get("transcodeReason", []) == []


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"directPlayProfiles": [_direct(["mp3"], [])]}, "container not supported"),
        ({"directPlayProfiles": [_direct([], ["mp3", "aac"])]}, "audio codec not supported"),
        ({"directPlayProfiles": [{"containers": [], "audioCodecs": [], "protocols": ["hls"]}]}, "protocol"),
        ({"directPlayProfiles": []}, "no direct play profile"),
        ({"directPlayProfiles": [_direct([], [])], "maxAudioBitrate": 320}, "audio bitrate too high"),
        (
            {
                "directPlayProfiles": [_direct([], [])],
                "codecProfiles": [
                    {
                        "type": "AudioCodec",
                        "name": "flac",
                        "limitations": [
                            {
                                "name": "audioSamplerate",
                                "comparison": "LessThanEqual",
                                "values": ["22050"],
                                "required": True,
                            }
                        ],
                    }
                ],
            },
            "audio sample rate not supported",
        ),
        (
            {
                "directPlayProfiles": [_direct([], [])],
                "codecProfiles": [
                    {
                        "type": "AudioCodec",
                        "name": "flac",
                        "limitations": [
                            {"name": "audioBitdepth", "comparison": "Equals", "values": ["24"], "required": False}
                        ],
                    }
                ],
            },
            "audio bit depth not supported",
        ),
    ],
)
def test_direct_play_refused_names_the_reason_and_transcodes_by_the_first_usable_profile(
    api: SubsonicClient, flac_song: Track, fields: dict[str, Any], reason: str
) -> None:
    profiles = [_transcode("mp4", "aac"), _transcode("mp3", "mp3", "hls"), _transcode("ogg", "opus")]
    decision = _decision(_decide(api, flac_song, _info(transcodingProfiles=profiles, **fields)))
    assert decision["canDirectPlay"] is False
    assert decision["canTranscode"] is True
    assert any(reason in item for item in decision["transcodeReason"])
    # aac in mp4 and anything over hls are not produced here: the first profile this server can serve wins
    target = decision["transcodeStream"]
    assert (target["container"], target["codec"], target["protocol"]) == ("ogg", "opus", "http")
    assert target["audioSamplerate"] == 48000
    assert decision["transcodeParams"]


def test_the_users_limit_refuses_direct_play_and_caps_the_transcode(
    api: SubsonicClient, flac_song: Track, tmp_path: Path
) -> None:
    User.objects.filter(username=api.username).update(max_bitrate=96)
    info = _info(directPlayProfiles=[_direct([], [])], transcodingProfiles=[_transcode("mp3", "mp3")])
    decision = _decision(_decide(api, flac_song, info))
    assert decision["canDirectPlay"] is False
    assert decision["transcodeStream"]["audioBitrate"] == 96
    probed = probe(streamed_body(_stream(api, flac_song, decision["transcodeParams"])), tmp_path)
    assert probed["streams"][0]["codec_name"] == "mp3"
    assert abs(int(probed["format"]["bit_rate"]) / 1000 - 96) < 96 * 0.35


@pytest.mark.parametrize(
    ("fields", "bitrate", "channels"),
    [
        ({}, 192, 1),  # the codec's default
        ({"maxAudioBitrate": 256}, 256, 1),
        ({"maxAudioBitrate": 320, "maxTranscodingAudioBitrate": 128}, 128, 1),
        ({"maxTranscodingAudioBitrate": 128_000}, 128, 1),  # sent in bits per second
        ({"maxTranscodingAudioBitrate": 8}, 32, 1),  # below what mp3 encodes: clamped up
        (
            {
                "codecProfiles": [
                    {
                        "type": "AudioCodec",
                        "name": "mp3",
                        "limitations": [
                            {"name": "audioBitrate", "comparison": "LessThanEqual", "values": ["160"], "required": True}
                        ],
                    }
                ]
            },
            160,
            1,
        ),
    ],
)
def test_transcode_bitrate_comes_from_the_players_ceilings(
    api: SubsonicClient, flac_song: Track, fields: dict[str, Any], bitrate: int, channels: int
) -> None:
    info = _info(
        directPlayProfiles=[_direct(["mp3"], ["mp3"])], transcodingProfiles=[_transcode("mp3", "mp3")], **fields
    )
    target = _decision(_decide(api, flac_song, info))["transcodeStream"]
    assert (target["codec"], target["audioBitrate"], target["audioChannels"]) == ("mp3", bitrate, channels)


def test_channels_are_clamped_to_the_profile(api: SubsonicClient, flac_song: Track, tmp_path: Path) -> None:
    Track.objects.filter(pk=flac_song.pk).update(channels=6)
    flac_song.refresh_from_db()
    info = _info(transcodingProfiles=[_transcode("flac", "flac", maxAudioChannels=1)])
    decision = _decision(_decide(api, flac_song, info))
    assert decision["transcodeStream"]["audioChannels"] == 1
    assert "audioBitrate" not in decision["transcodeStream"]  # lossless
    probed = probe(streamed_body(_stream(api, flac_song, decision["transcodeParams"])), tmp_path)
    assert (probed["streams"][0]["codec_name"], probed["streams"][0]["channels"]) == ("flac", 1)


# -- The player's sample rate, bit depth and channel limits shape the transcode --------------------------------------
def test_a_lossless_transcode_is_brought_within_the_players_rate_size_and_channels(
    api: SubsonicClient, hires_song: Track, tmp_path: Path
) -> None:
    limitations = [
        ("audioSamplerate", "LessThanEqual", ["48000"]),
        ("audioBitdepth", "LessThanEqual", ["16"]),
        ("audioChannels", "LessThanEqual", ["1"]),
    ]
    info = _info(
        directPlayProfiles=[_direct(["flac"], ["flac"])],
        transcodingProfiles=[_transcode("flac", "flac")],
        codecProfiles=[_codec_profile("flac", *limitations)],
    )
    decision = _decision(_decide(api, hires_song, info))
    assert decision["canDirectPlay"] is False
    assert set(decision["transcodeReason"]) == {
        "audio sample rate not supported",
        "audio bit depth not supported",
        "audio channels not supported",
    }
    target = decision["transcodeStream"]
    assert (target["audioSamplerate"], target["audioBitdepth"], target["audioChannels"]) == (48000, 16, 1)
    stream = probe(streamed_body(_stream(api, hires_song, decision["transcodeParams"])), tmp_path)["streams"][0]
    assert stream["codec_name"] == "flac"
    assert (int(stream["sample_rate"]), int(stream["bits_per_raw_sample"]), stream["channels"]) == (48000, 16, 1)


def test_a_lossless_transcode_keeps_what_the_player_takes(
    api: SubsonicClient, hires_song: Track, tmp_path: Path
) -> None:
    info = _info(transcodingProfiles=[_transcode("flac", "flac")])  # no direct play: a transcode, unchanged
    target = _decision(_decide(api, hires_song, info))["transcodeStream"]
    assert (target["audioSamplerate"], target["audioBitdepth"], target["audioChannels"]) == (96000, 24, 2)
    params = _decision(_decide(api, hires_song, info))["transcodeParams"]
    stream = probe(streamed_body(_stream(api, hires_song, params)), tmp_path)["streams"][0]
    assert (int(stream["sample_rate"]), int(stream["bits_per_raw_sample"]), stream["channels"]) == (96000, 24, 2)


@pytest.mark.parametrize(
    ("profile", "limitations", "rate"),
    [
        pytest.param(_transcode("mp3", "mp3"), [], 48000, id="mp3 goes no higher than 48 kHz"),
        pytest.param(_transcode("mp3", "mp3"), [("audioSamplerate", "LessThanEqual", ["32000"])], 32000, id="at most"),
        pytest.param(_transcode("aac", "aac"), [("audioSamplerate", "Equals", ["22050", "44100"])], 44100, id="one of"),
        pytest.param(_transcode("ogg", "opus"), [("audioSamplerate", "GreaterThanEqual", ["44100"])], 48000, id="opus"),
    ],
)
def test_a_lossy_transcode_takes_the_highest_rate_the_player_and_the_codec_allow(
    api: SubsonicClient,
    hires_song: Track,
    tmp_path: Path,
    profile: dict[str, Any],
    limitations: list[tuple[str, str, list[str]]],
    rate: int,
) -> None:
    codec = profile["audioCodec"]
    info = _info(transcodingProfiles=[profile], codecProfiles=[_codec_profile(codec, *limitations)])
    decision = _decision(_decide(api, hires_song, info))
    target = decision["transcodeStream"]
    assert (target["codec"], target["audioSamplerate"], target["audioChannels"]) == (codec, rate, 2)
    assert "audioBitdepth" not in target  # lossy: no sample size
    stream = probe(streamed_body(_stream(api, hires_song, decision["transcodeParams"])), tmp_path)["streams"][0]
    assert (stream["codec_name"], int(stream["sample_rate"]), stream["channels"]) == (codec, rate, 2)


def test_a_codec_that_cannot_meet_the_limits_gives_way_to_the_next_profile(
    api: SubsonicClient, hires_song: Track
) -> None:
    info = _info(
        transcodingProfiles=[_transcode("ogg", "opus"), _transcode("mp3", "mp3")],
        codecProfiles=[_codec_profile("opus", ("audioSamplerate", "LessThanEqual", ["44100"]))],
    )  # opus is always 48 kHz
    target = _decision(_decide(api, hires_song, info))["transcodeStream"]
    assert (target["codec"], target["audioSamplerate"]) == ("mp3", 48000)


def test_each_rate_is_its_own_cached_transcode(api: SubsonicClient, hires_song: Track, tmp_path: Path) -> None:
    rates = []
    for ceiling in ("48000", "32000", "48000"):
        info = _info(
            transcodingProfiles=[_transcode("mp3", "mp3")],
            codecProfiles=[_codec_profile("mp3", ("audioSamplerate", "LessThanEqual", [ceiling]))],
        )
        body = streamed_body(_stream(api, hires_song, _decision(_decide(api, hires_song, info))["transcodeParams"]))
        rates.append(int(probe(body, tmp_path)["streams"][0]["sample_rate"]))
    assert rates == [48000, 32000, 48000]
    cached = list((Path(settings.MCMA_CACHE_DIR) / "transcodes").glob("*/*"))
    assert len(cached) == 2


def test_no_profile_this_server_can_produce_is_an_honest_refusal(api: SubsonicClient, flac_song: Track) -> None:
    info = _info(directPlayProfiles=[_direct(["mp3"], ["mp3"])], transcodingProfiles=[_transcode("ts", "aac", "hls")])
    decision = _decision(_decide(api, flac_song, info))
    assert (decision["canDirectPlay"], decision["canTranscode"]) == (False, False)
    assert "no transcoding profile" in decision["errorReason"]
    assert "transcodeParams" not in decision


def test_an_offset_starts_the_transcode_there(api: SubsonicClient, flac_song: Track, tmp_path: Path) -> None:
    info = _info(transcodingProfiles=[_transcode("ogg", "opus")])
    params = _decision(_decide(api, flac_song, info))["transcodeParams"]
    response = _stream(api, flac_song, params, offset=4)
    assert response["Content-Type"] == "audio/ogg"
    assert response["X-Content-Duration"] == f"{SECONDS - 4:.2f}"
    duration = float(probe(streamed_body(response), tmp_path)["format"]["duration"])
    assert abs(duration - (SECONDS - 4)) < 0.5
    assert transcoding.running_transcodes() == 0


def test_an_offset_on_a_direct_play_seeks_in_the_files_own_codec(
    api: SubsonicClient, flac_song: Track, tmp_path: Path
) -> None:
    params = _decision(_decide(api, flac_song, _info(directPlayProfiles=[_direct([], [])])))["transcodeParams"]
    response = _stream(api, flac_song, params, offset=3)
    assert response["X-Content-Duration"] == f"{SECONDS - 3:.2f}"
    body = streamed_body(response)
    assert probe(body, tmp_path)["streams"][0]["codec_name"] == "flac"
    # FLAC piped out carries no length in its header: half the song is about half the file
    assert len(body) < 0.75 * flac_song.size_bytes


@pytest.mark.parametrize(("offset", "message"), [(60, "past the end"), (-1, "offset"), ("soon", "offset")])
def test_bad_offsets_are_subsonic_errors(api: SubsonicClient, flac_song: Track, offset: Any, message: str) -> None:
    params = _decision(_decide(api, flac_song, _info(transcodingProfiles=[_transcode("mp3", "mp3")])))[
        "transcodeParams"
    ]
    reply = parse("getTranscodeStream", "xml", _stream(api, flac_song, params, offset=offset))
    assert reply.error_code == 0
    assert message in reply.error_message
    assert transcoding.running_transcodes() == 0


def _altered(params: str) -> list[str]:
    value, _sep, signature = params.rpartition(":")
    flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    return [f"{value}:{flipped}", params[1:], params + "x", "eyJjIjoiZmxhYyJ9:1abc:forged", "garbage"]


@pytest.mark.security
def test_altered_or_forged_params_never_reach_ffmpeg(
    api: SubsonicClient, flac_song: Track, monkeypatch: pytest.MonkeyPatch
) -> None:
    params = _decision(_decide(api, flac_song, _info(transcodingProfiles=[_transcode("mp3", "mp3")])))[
        "transcodeParams"
    ]
    started: list[Any] = []
    monkeypatch.setattr(transcoding.subprocess, "Popen", lambda *args, **kwargs: started.append(args))
    for value in _altered(params):
        reply = parse("getTranscodeStream", "json", _stream(api, flac_song, value, f="json"))
        assert reply.error_code == 0
        assert "not issued by this server" in reply.error_message
    assert started == []


@pytest.mark.security
def test_params_are_bound_to_the_song_and_the_user(
    api: SubsonicClient, admin_api: SubsonicClient, flac_song: Track, library: Any
) -> None:
    params = _decision(_decide(api, flac_song, _info(transcodingProfiles=[_transcode("mp3", "mp3")])))[
        "transcodeParams"
    ]
    other = library.track("Yesterday")
    reply = parse("getTranscodeStream", "xml", _stream(api, other, params))
    assert "another song or user" in reply.error_message
    reply = parse("getTranscodeStream", "xml", _stream(admin_api, flac_song, params))
    assert "another song or user" in reply.error_message


@pytest.mark.security
def test_params_signed_with_another_key_are_refused(api: SubsonicClient, flac_song: Track, settings: Any) -> None:
    params = _decision(_decide(api, flac_song, _info(transcodingProfiles=[_transcode("mp3", "mp3")])))[
        "transcodeParams"
    ]
    settings.SECRET_KEY = "another-instance-" + "k" * 40
    reply = parse("getTranscodeStream", "xml", _stream(api, flac_song, params))
    assert "not issued by this server" in reply.error_message


def _issued_earlier(params: str, seconds: int) -> str:
    """The same params as this server would have signed them `seconds` ago."""

    class Earlier(signing.TimestampSigner):
        def timestamp(self) -> str:
            return signing.b62_encode(int(time.time()) - seconds)

    return Earlier(salt=PARAMS_SALT).sign_object(signing.loads(params, salt=PARAMS_SALT))


def test_params_last_two_days_by_default(api: SubsonicClient, flac_song: Track) -> None:
    params = _decision(_decide(api, flac_song, _info(transcodingProfiles=[_transcode("mp3", "mp3")])))[
        "transcodeParams"
    ]
    fresh = _stream(api, flac_song, _issued_earlier(params, 47 * 3600))
    assert fresh["Content-Type"] == "audio/mpeg"
    streamed_body(fresh)
    reply = parse("getTranscodeStream", "json", _stream(api, flac_song, _issued_earlier(params, 49 * 3600), f="json"))
    assert reply.error_code == 0
    assert "transcodeParams have expired (they last 172800 seconds)" in reply.error_message
    assert transcoding.running_transcodes() == 0


def test_the_params_lifetime_is_a_setting(api: SubsonicClient, flac_song: Track, settings: Any) -> None:
    settings.TRANSCODE_PARAMS_MAX_AGE = 60
    params = _decision(_decide(api, flac_song, _info(transcodingProfiles=[_transcode("mp3", "mp3")])))[
        "transcodeParams"
    ]
    reply = parse("getTranscodeStream", "xml", _stream(api, flac_song, _issued_earlier(params, 120)))
    assert "expired" in reply.error_message


def test_params_outlive_no_change_of_the_songs_file(api: SubsonicClient, flac_song: Track) -> None:
    params = _decision(_decide(api, flac_song, _info(transcodingProfiles=[_transcode("mp3", "mp3")])))[
        "transcodeParams"
    ]
    Track.objects.filter(pk=flac_song.pk).update(checksum="f" * 64)  # re-encoded or replaced since
    reply = parse("getTranscodeStream", "xml", _stream(api, flac_song, params))
    assert reply.error_code == 0
    assert "file has changed" in reply.error_message


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "is not JSON"),
        (b"", "is empty"),
        (b"[]", "must be a JSON object"),
        (json.dumps({"platform": "Android"}).encode(), "'name'"),
        (json.dumps(_info(maxAudioBitrate="lots")).encode(), "'maxAudioBitrate'"),
        (json.dumps(_info(maxAudioBitrate=-1)).encode(), "'maxAudioBitrate'"),
        (json.dumps(_info(directPlayProfiles={})).encode(), "'directPlayProfiles'"),
        (json.dumps(_info(directPlayProfiles=[{"containers": [], "protocols": HTTP}])).encode(), "audioCodecs"),
        (json.dumps(_info(directPlayProfiles=[_direct([], [1])])).encode(), "audioCodecs"),
        (json.dumps(_info(transcodingProfiles=[_transcode("mp3", "mp3", "rtsp")])).encode(), "protocol"),
        (json.dumps(_info(codecProfiles=[{"type": "VideoCodec", "name": "h264"}])).encode(), "AudioCodec"),
        (
            json.dumps(
                _info(
                    codecProfiles=[
                        {
                            "type": "AudioCodec",
                            "name": "mp3",
                            "limitations": [
                                {"name": "audioBitrate", "comparison": "Less", "values": ["1"], "required": True}
                            ],
                        }
                    ]
                )
            ).encode(),
            "comparison",
        ),
        (
            json.dumps(
                _info(
                    codecProfiles=[
                        {
                            "type": "AudioCodec",
                            "name": "mp3",
                            "limitations": [
                                {"name": "audioBitrate", "comparison": "Equals", "values": ["²"], "required": True}
                            ],
                        }
                    ]
                )
            ).encode(),
            "whole numbers",
        ),
        (b"[" * 100_000, "is not JSON"),
    ],
)
def test_malformed_client_info_is_error_10_naming_the_problem(
    api: SubsonicClient, flac_song: Track, body: bytes, message: str
) -> None:
    reply = _decide(api, flac_song, None, raw_body=body)
    assert reply.error_code == 10
    assert "Malformed ClientInfo" in reply.error_message
    assert message in reply.error_message


@pytest.mark.parametrize(
    ("query", "code", "message"),
    [
        ({"mediaType": "video"}, 0, "mediaType"),
        ({"mediaType": "podcast"}, 0, "Podcasts"),
        ({"mediaId": "tr-999999"}, 70, "not found"),
        ({"mediaId": ""}, 10, "mediaId"),
    ],
)
def test_bad_media_parameters(
    api: SubsonicClient, flac_song: Track, query: dict[str, str], code: int, message: str
) -> None:
    reply = _decide(api, flac_song, _info(), query=query)
    assert reply.error_code == code
    assert message in reply.error_message


def test_a_decision_must_be_posted(api: SubsonicClient, flac_song: Track) -> None:
    reply = api.call("getTranscodeDecision", "json", mediaId=f"tr-{flac_song.pk}", mediaType="song")
    assert reply.error_code == 0
    assert "POST" in reply.error_message


def test_getting_a_stream_needs_params(api: SubsonicClient, flac_song: Track) -> None:
    reply = api.call("getTranscodeStream", "json", mediaId=f"tr-{flac_song.pk}", mediaType="song")
    assert reply.error_code == 10
    assert "transcodeParams" in reply.error_message
