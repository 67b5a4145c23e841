"""stream with format / maxBitRate / timeOffset / estimateContentLength: ffmpeg transcodes while it streams.

Every transcode is decoded again with ffprobe: codec, bitrate within tolerance, duration after the offset.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
from django.conf import settings
from django.core import signals
from django.db import close_old_connections
from django.test import RequestFactory

from accounts.models import User
from library import transcoding
from library.models import Track
from library.transcoding import NO_LIMITS, TranscodePlan, transcode_plan
from mcma.errors import InvalidInputError
from tests.audio import probe
from tests.subsonic.conftest import SECONDS, streamed_body
from tests.subsonic.support import SubsonicClient


def _stream(api: SubsonicClient, track: Track, **params: Any) -> Any:
    return api.client.get("/rest/stream.view", {"id": f"tr-{track.pk}", **params, **api.auth_params()})


def _hang_up(response: Any) -> None:
    """Close the response as the WSGI server does when the player goes away. `request_finished` would close the
    test's database connection, so that handler stays off meanwhile, as the test client keeps it."""
    signals.request_finished.disconnect(close_old_connections)
    try:
        response.close()
    finally:
        signals.request_finished.connect(close_old_connections)


def _ffmpeg_children() -> list[psutil.Process]:
    """ffmpeg processes this test process started and has not reaped."""
    return [child for child in psutil.Process().children() if child.name() == "ffmpeg"]


def _transcoding(user_pk: int, track: Track, fmt: str) -> Any:
    """A transcode response straight from the view helper, as a WSGI server holds it (no test-client wrapper,
    whose own close would undo `_hang_up`'s care)."""
    request = RequestFactory().get("/rest/stream")
    return transcoding.playback_response(
        request,
        track=track,
        path=Path(settings.MEDIA_ROOT) / track.path,
        user_id=user_pk,
        limits=NO_LIMITS,
        requested_format=fmt,
        max_bitrate=0,
        offset_seconds=0,
        estimate_length=False,
    )


@pytest.mark.parametrize(
    ("fmt", "bitrate", "codec_name", "content_type"),
    [("mp3", 192, "mp3", "audio/mpeg"), ("opus", 96, "opus", "audio/ogg"), ("aac", 128, "aac", "audio/aac")],
)
def test_stream_transcodes_to_the_asked_format_and_bitrate(
    api: SubsonicClient, flac_song: Track, tmp_path: Path, fmt: str, bitrate: int, codec_name: str, content_type: str
) -> None:
    response = _stream(api, flac_song, format=fmt, maxBitRate=bitrate)

    assert response.status_code == 200
    assert response["Content-Type"] == content_type
    probed = probe(streamed_body(response), tmp_path)
    stream = probed["streams"][0]
    assert stream["codec_name"] == codec_name
    assert abs(float(probed["format"]["duration"]) - SECONDS) < 0.5
    if "bit_rate" in probed["format"]:
        assert abs(int(probed["format"]["bit_rate"]) / 1000 - bitrate) < bitrate * 0.35


@pytest.mark.parametrize(("fmt", "rate"), [("mp3", 48000), ("aac", 96000), ("opus", 48000)])
def test_stream_sends_the_sources_rate_where_the_codec_takes_it(
    api: SubsonicClient, hires_song: Track, tmp_path: Path, fmt: str, rate: int
) -> None:
    stream = probe(streamed_body(_stream(api, hires_song, format=fmt)), tmp_path)["streams"][0]
    assert (int(stream["sample_rate"]), stream["channels"]) == (rate, 2)


def test_a_bitrate_limit_alone_transcodes_to_the_default_format(
    api: SubsonicClient, flac_song: Track, tmp_path: Path
) -> None:
    response = _stream(api, flac_song, maxBitRate=128)
    assert response["Content-Type"] == "audio/ogg"
    assert probe(streamed_body(response), tmp_path)["streams"][0]["codec_name"] == "opus"


def test_the_users_limit_applies_without_any_parameter(api: SubsonicClient, flac_song: Track, tmp_path: Path) -> None:
    User.objects.filter(username=api.username).update(max_bitrate=96)
    response = _stream(api, flac_song)
    assert response["Content-Type"] == "audio/ogg"
    assert probe(streamed_body(response), tmp_path)["streams"][0]["codec_name"] == "opus"


def test_time_offset_starts_the_transcode_there(api: SubsonicClient, flac_song: Track, tmp_path: Path) -> None:
    response = _stream(api, flac_song, format="mp3", timeOffset=4)
    assert response["X-Content-Duration"] == "2.00"
    duration = float(probe(streamed_body(response), tmp_path)["format"]["duration"])
    assert abs(duration - 2.0) < 0.5


@pytest.mark.parametrize(
    ("fmt", "bitrate", "offset"), [("mp3", 128, 0), ("opus", 96, 0), ("aac", 160, 0), ("mp3", 64, 2), ("opus", 48, 4)]
)
def test_estimate_content_length_is_exact(
    api: SubsonicClient, flac_song: Track, tmp_path: Path, fmt: str, bitrate: int, offset: int
) -> None:
    response = _stream(api, flac_song, format=fmt, maxBitRate=bitrate, timeOffset=offset, estimateContentLength="true")
    body = streamed_body(response)  # cut or padded to the promise, whichever way the encoder missed it
    assert int(response["Content-Length"]) == len(body) == int((SECONDS - offset) * bitrate * 1000 / 8)
    assert probe(body, tmp_path)["streams"][0]["codec_name"] == fmt


@pytest.mark.parametrize("params", [{"format": "raw"}, {}, {"format": "flac"}, {"format": "mp3", "maxBitRate": 0}])
def test_raw_and_already_fitting_files_are_sent_as_they_are(
    api: SubsonicClient, flac_song: Track, params: dict[str, Any]
) -> None:
    if params.get("format") == "mp3":
        Track.objects.filter(pk=flac_song.pk).update(suffix="mp3", codec="mp3", bitrate=128)
        flac_song.refresh_from_db()
        params = {**params, "maxBitRate": 192}
    response = _stream(api, flac_song, **params)
    assert response["Accept-Ranges"] == "bytes"
    assert streamed_body(response) == (Path(settings.MEDIA_ROOT) / flac_song.path).read_bytes()


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"format": "wma"}, "format must be one of"),
        ({"format": "mp3", "maxBitRate": -5}, "maxBitRate"),
        ({"format": "mp3", "maxBitRate": 10**12}, "maxBitRate"),
        ({"maxBitRate": "lots"}, "maxBitRate"),
        ({"format": "mp3", "timeOffset": 60}, "past the end"),
        ({"format": "mp3", "timeOffset": "soon"}, "timeOffset"),
    ],
)
def test_bad_transcode_parameters_are_subsonic_errors(
    api: SubsonicClient, flac_song: Track, params: dict[str, Any], message: str
) -> None:
    reply = api.call("stream", "json", id=f"tr-{flac_song.pk}", **params)
    assert reply.error_code in (0, 10)
    assert message in reply.error_message
    assert transcoding.running_transcodes() == 0


def test_absurd_bitrates_are_clamped_to_the_codec(flac_song: Track) -> None:
    plan = transcode_plan(
        track=flac_song, requested_format="mp3", max_bitrate=99_999, limits=NO_LIMITS, offset_seconds=0
    )
    assert isinstance(plan, TranscodePlan)
    assert plan.bitrate == 320
    low = transcode_plan(track=flac_song, requested_format="opus", max_bitrate=1, limits=NO_LIMITS, offset_seconds=0)
    assert low is not None
    assert low.bitrate == 16


def test_the_arguments_come_only_from_the_plan(flac_song: Track) -> None:
    plan = transcode_plan(track=flac_song, requested_format="opus", max_bitrate=64, limits=NO_LIMITS, offset_seconds=2)
    assert plan is not None
    args = transcoding.ffmpeg_arguments(path=Path("/music/a.flac"), plan=plan)
    assert args[1:] == [
        *("-nostdin", "-hide_banner", "-loglevel", "error", "-ss", "2.000", "-i", "/music/a.flac"),
        *("-map", "0:a:0", "-vn", "-map_metadata", "-1", "-ac", "1", "-ar", "48000"),
        *("-c:a", "libopus", "-b:a", "64k"),
        *("-f", "ogg", "pipe:1"),
    ]


def test_a_player_hanging_up_kills_ffmpeg_and_frees_the_slot(api: SubsonicClient, flac_song: Track) -> None:
    response = _transcoding(1, flac_song, "mp3")
    assert next(iter(response.streaming_content))
    assert transcoding.running_transcodes() == 1
    assert len(_ffmpeg_children()) == 1
    started = time.monotonic()
    _hang_up(response)
    assert time.monotonic() - started < 1.0
    assert _ffmpeg_children() == []  # killed and reaped: no ffmpeg left behind
    assert transcoding.running_transcodes() == 0


def test_the_ceiling_stops_an_ffmpeg_nobody_reads(
    api: SubsonicClient, flac_song: Track, settings: Any, tmp_path: Path
) -> None:
    settings.TRANSCODE_MIN_CEILING_SECONDS = 0
    Track.objects.filter(pk=flac_song.pk).update(duration_ms=100)  # a 0.3 s ceiling (3x the song as stored)
    flac_song.refresh_from_db()
    response = _transcoding(1, flac_song, "flac")  # the six real seconds of FLAC overfill the pipe: ffmpeg blocks
    time.sleep(1.0)  # a paused player
    assert _ffmpeg_children() == [] or all(child.status() == psutil.STATUS_ZOMBIE for child in _ffmpeg_children())
    body = b"".join(response.streaming_content)
    assert body  # what was encoded before the ceiling still goes out
    _hang_up(response)
    assert _ffmpeg_children() == []
    assert transcoding.running_transcodes() == 0
    assert [path for path in _cache_files() if not path.name.startswith(".part-")] == []  # cut short: not kept


def test_a_response_never_iterated_still_frees_its_slot(api: SubsonicClient, flac_song: Track) -> None:
    response = _stream(api, flac_song, format="opus")
    assert transcoding.running_transcodes() == 1
    _hang_up(response)
    assert transcoding.running_transcodes() == 0


def test_the_per_user_limit_makes_extra_requests_wait_then_fail(
    api: SubsonicClient, flac_song: Track, settings: Any
) -> None:
    settings.TRANSCODE_MAX_PER_USER = 1
    settings.TRANSCODE_QUEUE_SECONDS = 0.3
    holding = _stream(api, flac_song, format="mp3")
    try:
        started = time.monotonic()
        reply = api.call("stream", "json", id=f"tr-{flac_song.pk}", format="mp3")
        assert time.monotonic() - started >= 0.3
        assert reply.error_code == 0
        assert "busy" in reply.error_message
    finally:
        _hang_up(holding)
    assert transcoding.running_transcodes() == 0


def test_transcode_offset_is_offered_with_ffmpeg(api: SubsonicClient) -> None:
    names = [e["name"] for e in api.call("getOpenSubsonicExtensions", "json").items("openSubsonicExtensions")]
    assert "transcodeOffset" in names


def test_the_global_limit_makes_another_users_request_wait_then_fail(
    api: SubsonicClient, admin_api: SubsonicClient, flac_song: Track, settings: Any
) -> None:
    settings.TRANSCODE_MAX_PROCESSES = 1
    settings.TRANSCODE_QUEUE_SECONDS = 0.3
    holding = _stream(api, flac_song, format="opus")
    try:
        reply = admin_api.call("stream", "json", id=f"tr-{flac_song.pk}", format="opus")
        assert reply.error_code == 0
        assert "Every transcoder is busy" in reply.error_message
    finally:
        _hang_up(holding)
    assert transcoding.running_transcodes() == 0
    streamed_body(_stream(admin_api, flac_song, format="opus"))  # a slot freed is a slot taken


def test_a_waiting_request_gets_the_slot_freed_in_time(
    api: SubsonicClient, admin_api: SubsonicClient, flac_song: Track, settings: Any, tmp_path: Path
) -> None:
    settings.TRANSCODE_MAX_PROCESSES = 1
    settings.TRANSCODE_QUEUE_SECONDS = 5
    holding = _transcoding(1, flac_song, "mp3")
    timer = threading.Timer(0.3, _hang_up, args=(holding,))
    timer.start()
    started = time.monotonic()
    response = _stream(admin_api, flac_song, format="opus")
    waited = time.monotonic() - started
    timer.join()
    assert 0.25 <= waited < 5
    assert probe(streamed_body(response), tmp_path)["streams"][0]["codec_name"] == "opus"


@pytest.mark.parametrize(("fmt", "channels"), [("mp3", 2), ("opus", 2), ("aac", 2), ("flac", 6)])
def test_channels_are_clamped_to_what_the_codec_encodes(flac_song: Track, fmt: str, channels: int) -> None:
    Track.objects.filter(pk=flac_song.pk).update(channels=6)
    flac_song.refresh_from_db()
    plan = transcode_plan(track=flac_song, requested_format=fmt, max_bitrate=0, limits=NO_LIMITS, offset_seconds=1)
    assert plan is not None
    assert plan.channels == channels
    assert transcoding.ffmpeg_arguments(path=Path("/m.flac"), plan=plan)[14:16] == ["-ac", str(channels)]


def test_a_file_ffmpeg_cannot_decode_is_a_clear_error(api: SubsonicClient, flac_song: Track) -> None:
    (Path(settings.MEDIA_ROOT) / flac_song.path).write_bytes(b"not audio at all " * 1000)
    reply = api.call("stream", "json", id=f"tr-{flac_song.pk}", format="mp3")
    assert reply.error_code == 0
    assert reply.error_message == "The song's file could not be transcoded (is it damaged?); ask for format=raw."
    assert transcoding.running_transcodes() == 0
    assert _ffmpeg_children() == []


def test_a_file_missing_from_storage_is_not_found(api: SubsonicClient, flac_song: Track) -> None:
    (Path(settings.MEDIA_ROOT) / flac_song.path).unlink()
    reply = api.call("stream", "json", id=f"tr-{flac_song.pk}", format="mp3")
    assert reply.error_code == 70
    assert str(settings.MEDIA_ROOT) not in reply.error_message
    assert transcoding.running_transcodes() == 0


def test_download_always_sends_the_original(api: SubsonicClient, flac_song: Track) -> None:
    User.objects.filter(username=api.username).update(max_bitrate=64)
    response = api.client.get("/rest/download.view", {"id": f"tr-{flac_song.pk}", **api.auth_params()})
    assert response["Content-Type"] == "audio/flac"
    assert streamed_body(response) == (Path(settings.MEDIA_ROOT) / flac_song.path).read_bytes()


def test_a_negative_offset_in_the_plan_is_refused(flac_song: Track) -> None:
    with pytest.raises(InvalidInputError):
        transcode_plan(track=flac_song, requested_format="mp3", max_bitrate=0, limits=NO_LIMITS, offset_seconds=-1)


# -- The transcode cache --------------------------------------------------------------------------------------------
def _cache_files() -> list[Path]:
    return sorted((Path(settings.MCMA_CACHE_DIR) / "transcodes").glob("*/*"))


def test_a_whole_transcode_is_cached_and_replayed_with_ranges(api: SubsonicClient, flac_song: Track) -> None:
    first = streamed_body(_stream(api, flac_song, format="mp3", maxBitRate=128))
    cached = [path for path in _cache_files() if not path.name.startswith(".part-")]
    assert len(cached) == 1
    assert cached[0].read_bytes() == first

    replay = _stream(api, flac_song, format="mp3", maxBitRate=128)
    assert replay["Accept-Ranges"] == "bytes"
    assert replay["Content-Length"] == str(len(first))
    assert streamed_body(replay) == first
    part = api.client.get(
        "/rest/stream",
        {"id": f"tr-{flac_song.pk}", "format": "mp3", "maxBitRate": "128", **api.auth_params()},
        headers={"Range": "bytes=100-199"},
    )
    assert part.status_code == 206
    assert streamed_body(part) == first[100:200]
    assert transcoding.running_transcodes() == 0


def test_a_second_player_gets_the_cached_transcode(
    api: SubsonicClient, admin_api: SubsonicClient, flac_song: Track
) -> None:
    first = streamed_body(_stream(api, flac_song, format="opus", maxBitRate=96))
    other = _stream(admin_api, flac_song, format="opus", maxBitRate=96)
    assert other["Accept-Ranges"] == "bytes"  # served from the cache, not a second ffmpeg
    assert streamed_body(other) == first


def test_a_transcode_cut_short_never_enters_the_cache(api: SubsonicClient, flac_song: Track) -> None:
    response = _transcoding(1, flac_song, "opus")
    next(iter(response.streaming_content))
    _hang_up(response)  # after the first chunk
    assert _cache_files() == []


def test_offset_transcodes_never_enter_the_cache(api: SubsonicClient, flac_song: Track) -> None:
    length_cut = _stream(api, flac_song, format="mp3", maxBitRate=64, estimateContentLength="true", timeOffset=0)
    streamed_body(length_cut)
    # Offsets are never cached; a whole transcode with an exact length promise is (cut or padded only on the wire).
    offset = _stream(api, flac_song, format="mp3", timeOffset=2)
    streamed_body(offset)
    assert all(not path.name.startswith(".part-") for path in _cache_files())


def test_the_cache_drops_the_least_recently_used(api: SubsonicClient, flac_song: Track, settings: Any) -> None:
    streamed_body(_stream(api, flac_song, format="mp3", maxBitRate=96))
    older = _cache_files()[0]
    settings.TRANSCODE_CACHE_SIZE = int(older.stat().st_size * 1.6)  # room for the newer one (128k), not both
    time.sleep(0.05)
    streamed_body(_stream(api, flac_song, format="mp3", maxBitRate=128))
    assert not older.exists()
    assert len(_cache_files()) == 1


def test_no_cache_when_its_size_is_zero(api: SubsonicClient, flac_song: Track, settings: Any) -> None:
    settings.TRANSCODE_CACHE_SIZE = 0
    streamed_body(_stream(api, flac_song, format="mp3"))
    assert _cache_files() == []
