"""The YouTube Music source against a fake YouTube Music server on 127.0.0.1 (real ytmusicapi parsing)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import requests

from mcma.errors import InvalidInputError
from sources.backends.youtube import (
    RebasedSession,
    TokenBucket,
    YouTubeMusicSource,
    cookies_file_problem,
    cover_url_full_size,
)
from sources.base import ResultKind
from sources.errors import SourceUnavailableError
from sources.registry import get_source
from sources.resolving import CookiesConfigError, SourceRequestError
from tests.fakes.fixtures import FakeYouTube, cover_jpeg, fake_media, fake_youtube
from tests.fakes.ytmusic_server import OMV, FakeSong

__all__ = ["cover_jpeg", "fake_media", "fake_youtube"]


@pytest.fixture
def source(fake_youtube: FakeYouTube) -> YouTubeMusicSource:
    backend = get_source("youtube")
    assert isinstance(backend, YouTubeMusicSource)
    return backend


def _cookies(tmp_path: Path, mode: int) -> Path:
    path = tmp_path / "cookies.txt"
    path.write_text("# Netscape HTTP Cookie File\n.youtube.com\tTRUE\t/\tTRUE\t0\tSID\tsecret\n")
    path.chmod(mode)
    return path


# -- search -----------------------------------------------------------------------------------------------------
def test_song_search_is_normalised(source: YouTubeMusicSource) -> None:
    results = source.search(query="localhost", kind=ResultKind.SONG)

    by_id = {r.external_id: r for r in results}
    assert set(by_id) == {"vidAAAAAAA1", "vidUGCUGC01"}
    song = by_id["vidAAAAAAA1"]
    assert song.source == "youtube"
    assert song.kind == ResultKind.SONG
    assert song.title == "Localhost Blues"
    assert song.artists == ("The Fakes",)
    assert song.album == "Loopback Dreams"
    assert song.duration_ms == 2000
    assert song.explicit is False
    assert song.thumbnail_url.endswith("#w544")  # the largest thumbnail
    assert song.extra["video_type"] == "MUSIC_VIDEO_TYPE_ATV"
    assert by_id["vidUGCUGC01"].extra["low_confidence"] is True


def test_search_of_each_kind(source: YouTubeMusicSource) -> None:
    albums = source.search(query="loopback", kind=ResultKind.ALBUM)
    playlists = source.search(query="loopback", kind=ResultKind.PLAYLIST)
    artists = source.search(query="guest star", kind=ResultKind.ARTIST)

    assert [(a.kind, a.external_id, a.year, a.artists) for a in albums] == [
        (ResultKind.ALBUM, "MPREb_fakealbum01", 2017, ("The Fakes",))
    ]
    assert [(p.kind, p.external_id, p.title) for p in playlists] == [
        (ResultKind.PLAYLIST, "PLfakeplaylist01", "Loopback Mix")
    ]
    assert [(a.kind, a.title) for a in artists] == [(ResultKind.ARTIST, "Guest Star")]


def test_unfiltered_search_mixes_kinds_and_flags_explicit(source: YouTubeMusicSource) -> None:
    results = source.search(query="loopback")

    kinds = {r.kind for r in results}
    assert {ResultKind.SONG, ResultKind.ALBUM, ResultKind.PLAYLIST} <= kinds
    port_zero = next(r for r in results if r.external_id == "vidAAAAAAA2")
    assert port_zero.explicit is True
    assert port_zero.artists == ("The Fakes", "Guest Star")


def test_search_results_are_cached(source: YouTubeMusicSource, fake_youtube: FakeYouTube) -> None:
    first = source.search(query="localhost", kind=ResultKind.SONG)
    second = source.search(query="  LOCALHOST ", kind=ResultKind.SONG)

    assert first == second
    assert fake_youtube.server.api_calls("search") == 1


def test_empty_query_is_invalid(source: YouTubeMusicSource) -> None:
    with pytest.raises(InvalidInputError):
        source.search(query="   ")


def test_no_results_is_an_empty_list(source: YouTubeMusicSource) -> None:
    assert list(source.search(query="zzz nothing matches", kind=ResultKind.SONG)) == []


# -- failures become SourceRequestError with the facts the classifier needs --------------------------------------
@pytest.mark.parametrize(
    ("fault", "status", "network", "layout_changed"),
    [
        ("429-json", 429, False, False),
        ("429-html", 429, False, False),  # ytmusicapi raises JSONDecodeError here; we still know the status
        ("500", 500, False, False),
        ("hang", None, True, False),
        ("layout", None, False, True),
    ],
)
def test_server_failures_are_translated(
    source: YouTubeMusicSource,
    fake_youtube: FakeYouTube,
    settings: object,
    fault: str,
    status: int | None,
    network: bool,
    layout_changed: bool,
) -> None:
    source.timeout = 0.5
    source._session.timeout = 0.5  # type: ignore[attr-defined]
    fake_youtube.server.hang_seconds = 2.0
    fake_youtube.server.fail_next(fault)

    with pytest.raises(SourceRequestError) as caught:
        source.search(query=f"fault {fault}", kind=ResultKind.SONG)

    assert caught.value.status == status
    assert caught.value.network is network
    assert caught.value.layout_changed is layout_changed


def test_disabled_source_refuses_with_the_reason(settings: object) -> None:
    backend = YouTubeMusicSource(name="youtube", enabled=False)

    health = backend.health()
    assert health.available is False
    assert "YOUTUBE_ENABLED" in health.message
    with pytest.raises(SourceUnavailableError, match="YOUTUBE_ENABLED"):
        backend.search(query="anything")


# -- metadata for downloads ---------------------------------------------------------------------------------------
def test_resolve_track_reads_album_lyrics_and_cover(source: YouTubeMusicSource) -> None:
    meta = source.resolve_track(external_id="vidAAAAAAA1")

    assert meta.title == "Localhost Blues"
    assert meta.artists == ("The Fakes",)
    assert meta.album == "Loopback Dreams"
    assert meta.album_artists == ("The Fakes",)
    assert (meta.track_number, meta.track_total, meta.disc_number, meta.year) == (1, 3, 1, 2017)
    assert meta.duration_ms == 2000
    assert meta.lyrics == "la la la\nlocal host"
    assert meta.cover_url.endswith("#w544")
    assert meta.low_confidence is False
    assert meta.extra["video_type"] == "MUSIC_VIDEO_TYPE_ATV"


def test_resolve_user_upload_is_low_confidence(source: YouTubeMusicSource) -> None:
    meta = source.resolve_track(external_id="vidUGCUGC01")

    assert meta.low_confidence is True
    assert meta.album == ""
    assert meta.track_number is None
    assert meta.artists == ("Guest Star",)


def test_resolve_music_video_finds_its_album_track_by_title(
    source: YouTubeMusicSource, fake_youtube: FakeYouTube
) -> None:
    audio = fake_youtube.catalog.songs["vidAAAAAAA1"]
    fake_youtube.catalog.songs["vidOMVOMV01"] = FakeSong(
        "vidOMVOMV01", audio.title, audio.artists, 2, album_id=audio.album_id, video_type=OMV
    )

    meta = source.resolve_track(external_id="vidOMVOMV01")

    assert (meta.album, meta.track_number) == ("Loopback Dreams", 1)
    assert meta.low_confidence is True  # a music video, not the audio track
    assert meta.extra["video_type"] == OMV


def test_resolve_unknown_track_is_a_404(source: YouTubeMusicSource) -> None:
    with pytest.raises(SourceRequestError) as caught:
        source.resolve_track(external_id="doesNotExist")
    assert caught.value.status == 404


def test_album_metadata_is_cached(source: YouTubeMusicSource, fake_youtube: FakeYouTube) -> None:
    source.resolve_track(external_id="vidAAAAAAA1")
    source.resolve_track(external_id="vidAAAAAAA2")

    assert fake_youtube.server.calls.count("POST browse") == 2  # the album once, the lyrics of track 1 once


def test_resolve_album_lists_available_tracks_only(source: YouTubeMusicSource) -> None:
    album = source.resolve_collection(kind=ResultKind.ALBUM, external_id="MPREb_fakealbum01")

    assert album.title == "Loopback Dreams"
    assert album.year == 2017
    assert album.track_ids == ("vidAAAAAAA1", "vidAAAAAAA2")  # "Greyed Out" is unavailable
    first, second = album.tracks
    assert (first.title, first.artists, first.duration_ms, first.track_number) == (
        "Localhost Blues",
        ("The Fakes",),
        2000,
        1,
    )
    assert (second.artists, second.explicit) == (("The Fakes", "Guest Star"), True)
    assert album.cover_url.startswith(source.base_url)


def test_resolve_playlist_and_refuse_other_kinds(source: YouTubeMusicSource) -> None:
    playlist = source.resolve_collection(kind=ResultKind.PLAYLIST, external_id="PLfakeplaylist01")

    assert playlist.track_ids == ("vidAAAAAAA1", "vidUGCUGC01")
    assert [(t.title, t.duration_ms) for t in playlist.tracks] == [
        ("Localhost Blues", 2000),
        ("Localhost Blues (cover)", 2000),
    ]
    with pytest.raises(InvalidInputError):
        source.resolve_collection(kind=ResultKind.ARTIST, external_id="UCband0000000000000000001")
    with pytest.raises(InvalidInputError):
        source.resolve_collection(kind=ResultKind.ALBUM, external_id="not-an-album")


def test_media_request_uses_the_configured_origin(source: YouTubeMusicSource, fake_youtube: FakeYouTube) -> None:
    media = source.media_request(external_id="vidAAAAAAA1")

    assert media.url == f"{fake_youtube.base_url}/watch?v=vidAAAAAAA1"
    assert media.cookies_file is None


def test_fetch_image_returns_bytes_and_mime(source: YouTubeMusicSource, fake_youtube: FakeYouTube) -> None:
    data, mime = source.fetch_image(url=f"{fake_youtube.base_url}/media/cover.jpg")

    assert mime == "image/jpeg"
    assert data[:2] == b"\xff\xd8"
    with pytest.raises(SourceRequestError):
        source.fetch_image(url=f"{fake_youtube.base_url}/media/tone.opus")  # not an image
    with pytest.raises(SourceRequestError) as caught:
        source.fetch_image(url=f"{fake_youtube.base_url}/status/404")
    assert caught.value.status == 404


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://music.youtube.com/watch?v=abc123&list=RDAMVM", (ResultKind.SONG, "abc123")),
        ("https://music.youtube.com/playlist?list=OLAK5uy_x", (ResultKind.ALBUM, "OLAK5uy_x")),
        ("https://music.youtube.com/playlist?list=PLxyz", (ResultKind.PLAYLIST, "PLxyz")),
        ("https://music.youtube.com/browse/MPREb_abc", (ResultKind.ALBUM, "MPREb_abc")),
        ("some search words", None),
        ("https://music.youtube.com/channel/UC1", None),
    ],
)
def test_reference_from_url(url: str, expected: tuple[ResultKind, str] | None) -> None:
    assert YouTubeMusicSource(name="youtube", enabled=True).reference_from_url(url) == expected


def test_cover_urls_ask_for_the_full_size() -> None:
    url = "https://lh3.googleusercontent.com/abc=w544-h544-l90-rj"

    assert cover_url_full_size(url) == "https://lh3.googleusercontent.com/abc=w1200-h1200-l90-rj"
    assert cover_url_full_size("http://127.0.0.1/cover.jpg") == "http://127.0.0.1/cover.jpg"


# -- cookies guard ------------------------------------------------------------------------------------------------
def test_cookies_guard_accepts_a_private_file(tmp_path: Path) -> None:
    assert cookies_file_problem(str(_cookies(tmp_path, 0o600))) is None


def test_cookies_guard_names_the_exact_chmod(tmp_path: Path) -> None:
    path = _cookies(tmp_path, 0o644)

    problem = cookies_file_problem(str(path))

    assert problem is not None
    assert "0644" in problem
    assert f"chmod 600 {path}" in problem


def test_cookies_guard_missing_and_directory(tmp_path: Path) -> None:
    assert "does not exist" in (cookies_file_problem(str(tmp_path / "nope.txt")) or "")
    assert "not a regular file" in (cookies_file_problem(str(tmp_path)) or "")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_cookies_guard_unreadable(tmp_path: Path) -> None:
    assert "not readable" in (cookies_file_problem(str(_cookies(tmp_path, 0o000))) or "")


def test_unhealthy_cookies_make_the_source_unhealthy_and_refuse_media(tmp_path: Path) -> None:
    path = _cookies(tmp_path, 0o640)
    backend = YouTubeMusicSource(name="youtube", enabled=True, cookies_file=str(path))

    health = backend.health()
    assert health.available is False
    assert f"chmod 600 {path}" in health.message
    with pytest.raises(CookiesConfigError) as caught:
        backend.media_request(external_id="vidAAAAAAA1")
    assert caught.value.code == "cookies_config"

    path.chmod(0o600)
    assert backend.health().available is True
    assert backend.media_request(external_id="vidAAAAAAA1").cookies_file == str(path)


# -- plumbing -----------------------------------------------------------------------------------------------------
def test_rebased_session_rewrites_the_origin_and_sets_a_timeout(fake_youtube: FakeYouTube) -> None:
    session = RebasedSession(base_url=fake_youtube.base_url, timeout=1.5)

    response = session.get("https://music.youtube.com/")

    assert response.status_code == 200
    assert "VISITOR_DATA" in response.text
    assert session.last_status == 200
    with pytest.raises(requests.ConnectionError):
        # Anything not under the YouTube Music origin goes where it says: here, nowhere (loopback only).
        session.get("http://127.0.0.1:9/")


def test_token_bucket_allows_a_burst_then_spaces_requests() -> None:
    now = [100.0]
    bucket = TokenBucket(rate=2.0, burst=2, clock=lambda: now[0])

    assert bucket.wait_time() == 0.0
    assert bucket.wait_time() == 0.0
    assert bucket.wait_time() == pytest.approx(0.5)
    now[0] += 10.0  # refilled, but never beyond the burst
    assert bucket.wait_time() == 0.0
    assert bucket.wait_time() == 0.0
    assert bucket.wait_time() > 0.0
