"""Hostile `Range` headers through every door that serves a file: REST stream, Subsonic stream/download, and the
public, unauthenticated share link. All of them go through `library.streaming.range_parse`; these pin that they
answer 416 with `Content-Range: bytes */SIZE`, or a correct 206, and never a 500."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from accounts.models import User
from library.models import Track
from tests.audio import AudioMaker
from tests.subsonic.conftest import Library, client_for
from tests.subsonic.support import SubsonicClient

pytestmark = [pytest.mark.django_db, pytest.mark.security]

HUGE = "9" * 5000

UNSATISFIABLE = [f"bytes={HUGE}-", f"bytes={HUGE}-{HUGE}", "bytes=--5", "bytes=-5-9", "bytes=9-5", "bytes=-0"]


@pytest.fixture
def song(library: Library, audio_maker: AudioMaker) -> Track:
    track = library.track("Yesterday")
    audio_maker.make(Path(settings.MEDIA_ROOT) / "y.mp3", "mp3")
    size = (Path(settings.MEDIA_ROOT) / "y.mp3").stat().st_size
    Track.objects.filter(pk=track.pk).update(path="y.mp3", content_type="audio/mpeg", size_bytes=size)
    track.refresh_from_db()
    return track


Get = Callable[[str], Any]


@pytest.fixture(params=["rest", "subsonic-stream", "subsonic-download", "share"])
def get_with_range(request: pytest.FixtureRequest, song: Track, user: User, api: SubsonicClient) -> Get:
    """GET the song through one entry point with the given Range header."""
    if request.param == "rest":
        rest = request.getfixturevalue("api_client_for")(user)
        return lambda header: rest.get(f"/api/v1/tracks/{song.pk}/stream", HTTP_RANGE=header)
    if request.param == "share":
        User.objects.filter(pk=user.pk).update(can_share=True)
        url = client_for(user).call("createShare", "json", id=f"tr-{song.pk}").one("shares", "share")["url"]
        anonymous = Client()
        return lambda header: anonymous.get(f"{url}/0", headers={"Range": header})
    method = request.param.removeprefix("subsonic-")
    params = {"id": f"tr-{song.pk}", **api.auth_params()}
    return lambda header: api.client.get(f"/rest/{method}", params, headers={"Range": header})


@pytest.mark.parametrize("header", UNSATISFIABLE)
def test_absurd_ranges_are_416_with_the_size(get_with_range: Get, song: Track, header: str) -> None:
    response = get_with_range(header)

    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{song.size_bytes}"


@pytest.mark.parametrize("header", [f"bytes=0-{HUGE}", f"bytes=-{HUGE}"])
def test_huge_ends_and_suffixes_mean_the_whole_file(get_with_range: Get, song: Track, header: str) -> None:
    response = get_with_range(header)

    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes 0-{song.size_bytes - 1}/{song.size_bytes}"
    assert b"".join(response.streaming_content) == (Path(settings.MEDIA_ROOT) / song.path).read_bytes()
