"""Streaming tracks and serving covers over REST: real files in MEDIA_ROOT, Range, permissions, bad paths."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from tests.audio import AudioMaker, probe
from tests.factories.accounts import UserFactory
from tests.factories.library import AlbumFactory, TrackFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def stored_track(audio_maker: AudioMaker) -> Any:
    relative = "Artist/Album (2001)/01 Song.mp3"
    audio_maker.make(Path(settings.MEDIA_ROOT) / relative, "mp3", tags={"title": "Song"})
    size = (Path(settings.MEDIA_ROOT) / relative).stat().st_size
    return TrackFactory.create(path=relative, size_bytes=size, content_type="audio/mpeg")


def test_stream_full_and_ranges(api_client_for: Any, stored_track: Any) -> None:
    client = api_client_for(UserFactory.create())
    url = f"/api/v1/tracks/{stored_track.pk}/stream"
    raw = (Path(settings.MEDIA_ROOT) / stored_track.path).read_bytes()
    full = client.get(url, HTTP_ACCEPT="audio/*")
    assert full.status_code == 200
    assert full["Content-Type"] == "audio/mpeg"
    assert b"".join(full.streaming_content) == raw
    tail = client.get(url, HTTP_RANGE="bytes=-500")
    assert tail.status_code == 206
    assert b"".join(tail.streaming_content) == raw[-500:]
    head = client.head(url, HTTP_RANGE="bytes=0-")
    assert head.status_code == 206
    assert head["Content-Length"] == str(len(raw))
    assert head.content == b""
    assert client.get(url, HTTP_RANGE="bytes=500-499").status_code == 416
    beyond = client.get(url, HTTP_RANGE=f"bytes={len(raw)}-")
    assert beyond.status_code == 416
    assert beyond["Content-Range"] == f"bytes */{len(raw)}"
    assert client.get(url, HTTP_RANGE="bytes=0-1,5-9").status_code == 200
    assert client.get(url, HTTP_IF_NONE_MATCH=full["ETag"]).status_code == 304


def test_stream_needs_auth_and_the_stream_role(api_client_for: Any, stored_track: Any) -> None:
    url = f"/api/v1/tracks/{stored_track.pk}/stream"
    assert api_client_for(None).get(url).status_code == 401
    response = api_client_for(UserFactory.create(can_stream=False)).get(url)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


@pytest.mark.parametrize("path", ["../outside.mp3", "/etc/passwd", "missing/file.mp3", ""])
def test_stream_of_a_bad_or_missing_path_is_json_404(api_client_for: Any, path: str, tmp_path: Path) -> None:
    (tmp_path / "outside.mp3").write_bytes(b"secret")
    track = TrackFactory.create(path=path or "x")
    if not path:
        type(track).objects.filter(pk=track.pk).update(path="")
    response = api_client_for(UserFactory.create()).get(f"/api/v1/tracks/{track.pk}/stream", HTTP_ACCEPT="audio/mpeg")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "not_found"


def test_cover_is_served_from_media_root(api_client_for: Any) -> None:
    image = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100
    relative = "covers/ab/cover.png"
    (Path(settings.MEDIA_ROOT) / relative).parent.mkdir(parents=True)
    (Path(settings.MEDIA_ROOT) / relative).write_bytes(image)
    album = AlbumFactory.create(cover_path=relative)
    client = api_client_for(UserFactory.create())
    response = client.get(f"/api/v1/albums/{album.pk}/cover", HTTP_ACCEPT="image/webp,image/*")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert b"".join(response.streaming_content) == image
    listed = client.get(f"/api/v1/albums/{album.pk}").json()
    assert listed["cover_url"] == f"/api/v1/albums/{album.pk}/cover"


def test_album_without_cover_is_json_404(api_client_for: Any) -> None:
    album = AlbumFactory.create(cover_path="")
    client = api_client_for(UserFactory.create())
    response = client.get(f"/api/v1/albums/{album.pk}/cover", HTTP_ACCEPT="image/*")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert client.get(f"/api/v1/albums/{album.pk}").json()["cover_url"] is None


def test_rest_stream_transcodes_on_request(api_client_for: Any, audio_maker: AudioMaker) -> None:
    relative = "a/b.flac"
    path = audio_maker.make(Path(settings.MEDIA_ROOT) / relative, "flac", seconds=2.0)
    track = TrackFactory.create(path=relative, suffix="flac", codec="flac", bitrate=700, duration_ms=2000, channels=1)
    client = api_client_for(UserFactory())

    transcoded = client.get(f"/api/v1/tracks/{track.pk}/stream", {"format": "mp3", "max_bitrate": 128})
    assert transcoded.status_code == 200
    assert transcoded["Content-Type"] == "audio/mpeg"
    body = b"".join(transcoded.streaming_content)  # the test client closes it once read; closing again would
    # fire request_finished unguarded and close the test's PostgreSQL connection
    assert body[:3] in (b"ID3", b"\xff\xfb", b"\xff\xf3") or body[0] == 0xFF

    raw = client.get(f"/api/v1/tracks/{track.pk}/stream", {"format": "raw"})
    assert b"".join(raw.streaming_content) == path.read_bytes()
    assert client.get(f"/api/v1/tracks/{track.pk}/stream", {"format": "wma"}).status_code == 400
    assert client.get(f"/api/v1/tracks/{track.pk}/stream", {"max_bitrate": "-1"}).status_code == 400


@pytest.fixture
def rest_flac(audio_maker: AudioMaker) -> Any:
    relative = "c/d.flac"
    audio_maker.make(Path(settings.MEDIA_ROOT) / relative, "flac", seconds=4.0)
    return TrackFactory.create(
        path=relative, suffix="flac", codec="flac", bitrate=700, duration_ms=4000, channels=1, sample_rate=44100
    )


def test_rest_stream_has_the_subsonic_streams_options(api_client_for: Any, rest_flac: Any, tmp_path: Path) -> None:
    client = api_client_for(UserFactory())
    url = f"/api/v1/tracks/{rest_flac.pk}/stream"
    seeked = client.get(url, {"format": "opus", "max_bitrate": 96, "time_offset": 1})
    assert seeked["X-Content-Duration"] == "3.00"
    probed = probe(b"".join(seeked.streaming_content), tmp_path)
    assert probed["streams"][0]["codec_name"] == "opus"
    assert abs(float(probed["format"]["duration"]) - 3.0) < 0.5

    exact = client.get(url, {"format": "mp3", "max_bitrate": 128, "estimate_length": "true"})
    body = b"".join(exact.streaming_content)
    assert int(exact["Content-Length"]) == len(body) == 4 * 128_000 // 8

    capped = client.get(url, {"max_bitrate": 64})  # a limit alone: the default format
    assert capped["Content-Type"] == "audio/ogg"
    b"".join(capped.streaming_content)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"format": "mp3", "time_offset": 4}, "timeOffset"),
        ({"format": "mp3", "time_offset": -1}, "time_offset"),
        ({"max_bitrate": 100_001}, "max_bitrate"),
        ({"max_bitrate": "lots"}, "max_bitrate"),
        ({"estimate_length": "maybe"}, "estimate_length"),
    ],
)
def test_rest_stream_refuses_bad_options_with_400(
    api_client_for: Any, rest_flac: Any, query: dict[str, Any], field: str
) -> None:
    response = api_client_for(UserFactory()).get(f"/api/v1/tracks/{rest_flac.pk}/stream", query)
    assert response.status_code == 400
    assert field in json.dumps(response.json())
