"""stream/download (Range, HEAD, POST, roles), getCoverArt (id forms, resizing, cache), lyrics, avatar."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from PIL import Image

from accounts.models import User
from library import services
from library.models import Album, Artist, Play, Track
from tests.audio import AudioMaker
from tests.factories.accounts import UserFactory
from tests.images import bomb_png
from tests.subsonic.conftest import Library, client_for
from tests.subsonic.support import SubsonicClient, parse


@pytest.fixture
def song(library: Library, audio_maker: AudioMaker) -> Track:
    """'Something' backed by a real FLAC file in MEDIA_ROOT."""
    track = library.track("Something")
    relative = "The Beatles/Abbey Road (1969)/02 Something.flac"
    audio_maker.make(Path(settings.MEDIA_ROOT) / relative, "flac", tags={"title": "Something"})
    size = (Path(settings.MEDIA_ROOT) / relative).stat().st_size
    Track.objects.filter(pk=track.pk).update(path=relative, suffix="flac", content_type="audio/flac", size_bytes=size)
    track.refresh_from_db()
    return track


def _store_image(relative: str, size: tuple[int, int], mode: str = "RGB") -> None:
    path = Path(settings.MEDIA_ROOT) / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, (200, 30, 30) if mode == "RGB" else (200, 30, 30, 128)).save(path)


@pytest.mark.parametrize("http", ["get", "post"])
def test_stream_serves_the_raw_file(api: SubsonicClient, song: Track, http: str) -> None:
    response = api.raw("stream", http=http, id=f"tr-{song.pk}", format="raw", maxBitRate=128, **api.auth_params())
    assert response.status_code == 200
    assert response["Content-Type"] == "audio/flac"
    body = b"".join(response.streaming_content)  # type: ignore[attr-defined]
    assert body == (Path(settings.MEDIA_ROOT) / song.path).read_bytes()
    assert response["Content-Length"] == str(song.size_bytes)
    assert response["Accept-Ranges"] == "bytes"
    assert not Play.objects.exists()  # streaming is not a play; only scrobble is


def test_stream_ranges_and_head(api: SubsonicClient, song: Track) -> None:
    url_params = {"id": f"tr-{song.pk}", **api.auth_params()}
    partial = api.client.get("/rest/stream.view", url_params, headers={"Range": "bytes=10-19"})
    assert partial.status_code == 206
    assert partial["Content-Range"] == f"bytes 10-19/{song.size_bytes}"
    assert b"".join(partial.streaming_content) == (Path(settings.MEDIA_ROOT) / song.path).read_bytes()[10:20]  # type: ignore[attr-defined]
    unsatisfiable = api.client.get("/rest/stream", url_params, headers={"Range": f"bytes={song.size_bytes + 5}-"})
    assert unsatisfiable.status_code == 416
    head = api.client.head("/rest/stream", url_params)
    assert head.status_code == 200
    assert head["Content-Length"] == str(song.size_bytes)


def test_download_is_an_attachment(api: SubsonicClient, song: Track) -> None:
    response = api.raw("download", id=f"tr-{song.pk}", **api.auth_params())
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    assert "Something.flac" in response["Content-Disposition"]


def test_binary_endpoint_errors_are_xml_documents(api: SubsonicClient, library: Library, fmt: str) -> None:
    reply = api.call("stream", fmt, id="tr-999999")
    assert reply.error_code == 70
    track = library.track("Help!")  # in the database, but its file is not on disk
    assert api.call("stream", fmt, id=f"tr-{track.pk}").error_code == 70
    assert api.call("download", fmt).error_code == 10


def test_stream_and_download_roles(song: Track, fmt: str) -> None:
    limited = client_for(UserFactory.create(username="kid", can_stream=False, can_download=False))
    assert limited.call("stream", fmt, id=f"tr-{song.pk}").error_code == 50
    assert limited.call("download", fmt, id=f"tr-{song.pk}").error_code == 50


def test_missing_file_flag_hides_the_stream(api: SubsonicClient, song: Track, fmt: str) -> None:
    Track.objects.filter(pk=song.pk).update(is_missing=True)
    assert api.call("stream", fmt, id=f"tr-{song.pk}").error_code == 70


def _image(response: object) -> Image.Image:
    data = b"".join(response.streaming_content)  # type: ignore[attr-defined]
    return Image.open(io.BytesIO(data))


def test_cover_art_for_every_id_form(api: SubsonicClient, user: User, library: Library) -> None:
    _store_image("covers/abbey.png", (900, 600))
    Album.objects.filter(pk=library.abbey.pk).update(cover_path="covers/abbey.png")
    playlist = services.playlist_create(owner=user, name="P", track_ids=[library.track("Something").pk])
    song = library.track("Something")
    for cover_id in (
        f"al-{library.abbey.pk}",
        f"al-{library.abbey.pk}_5f3a",  # a cache-buster suffix, as some clients keep or strip
        f"ar-{library.beatles.pk}",  # no artist image: borrows an album cover
        f"tr-{song.pk}",
        f"mf-{song.pk}",
        f"pl-{playlist.pk}",
        str(library.abbey.pk),
    ):
        response = api.raw("getCoverArt", id=cover_id, **api.auth_params())
        assert response.status_code == 200, cover_id
        assert response["Content-Type"] == "image/png", cover_id
        assert _image(response).size == (900, 600)


def test_cover_art_is_resized_and_cached(api: SubsonicClient, library: Library) -> None:
    _store_image("covers/debut.jpg", (1000, 500))
    Album.objects.filter(pk=library.debut.pk).update(cover_path="covers/debut.jpg")
    response = api.raw("getCoverArt", id=f"al-{library.debut.pk}", size=300, **api.auth_params())
    assert response["Content-Type"] == "image/jpeg"
    assert _image(response).size == (300, 150)
    cached = list((Path(settings.MCMA_CACHE_DIR) / "covers").rglob("*.jpg"))
    assert len(cached) == 1
    again = api.raw("getCoverArt", id=f"al-{library.debut.pk}", size=300, **api.auth_params())
    assert _image(again).size == (300, 150)
    assert list((Path(settings.MCMA_CACHE_DIR) / "covers").rglob("*.jpg")) == cached
    # Never upscaled; absurd sizes are clamped.
    assert _image(api.raw("getCoverArt", id=f"al-{library.debut.pk}", size=5000, **api.auth_params())).size == (
        1000,
        500,
    )


def test_transparent_covers_stay_png(api: SubsonicClient, library: Library) -> None:
    _store_image("covers/help.png", (400, 400), mode="RGBA")
    Album.objects.filter(pk=library.help_.pk).update(cover_path="covers/help.png")
    response = api.raw("getCoverArt", id=f"al-{library.help_.pk}", size=100, **api.auth_params())
    assert response["Content-Type"] == "image/png"
    assert _image(response).mode == "RGBA"


def test_artist_image_wins_over_album_cover(api: SubsonicClient, library: Library) -> None:
    _store_image("artists/bjork.jpg", (50, 60))
    Artist.objects.filter(pk=library.bjork.pk).update(image_path="artists/bjork.jpg")
    assert _image(api.raw("getCoverArt", id=f"ar-{library.bjork.pk}", **api.auth_params())).size == (50, 60)


def test_cover_art_errors(api: SubsonicClient, user: User, library: Library, fmt: str) -> None:
    assert api.call("getCoverArt", fmt, id="al-999999").error_code == 70
    assert api.call("getCoverArt", fmt, id="xx-1").error_code == 70
    assert api.call("getCoverArt", fmt).error_code == 10
    private = services.playlist_create(owner=UserFactory.create(), name="secret")
    assert api.call("getCoverArt", fmt, id=f"pl-{private.pk}").error_code == 70
    Album.objects.filter(pk=library.abbey.pk).update(cover_path="covers/not-an-image.jpg")
    (Path(settings.MEDIA_ROOT) / "covers").mkdir()
    (Path(settings.MEDIA_ROOT) / "covers/not-an-image.jpg").write_bytes(b"plain text")
    assert api.call("getCoverArt", fmt, id=f"al-{library.abbey.pk}", size=100).error_code == 70


@pytest.mark.security
def test_get_cover_art_of_a_decompression_bomb_is_error_70_with_the_reason(
    api: SubsonicClient, library: Library, fmt: str
) -> None:
    bomb_png(Path(settings.MEDIA_ROOT) / "covers/bomb.png")
    Album.objects.filter(pk=library.abbey.pk).update(cover_path="covers/bomb.png")

    reply = api.call("getCoverArt", fmt, id=f"al-{library.abbey.pk}", size=1007)

    assert reply.error_code == 70
    assert "too large to resize" in reply.error_message


def test_binary_errors_use_text_xml_for_dsub(client: Client, user: User, library: Library) -> None:
    """DSub only recognises an error body on binary endpoints by a text/xml content type."""
    response = client.get("/rest/getCoverArt.view", {"id": "al-999999", "u": "alice", "p": "wrong", "c": "DSub"})
    reply = parse("getCoverArt", "xml", response, legacy=True)
    assert reply.error_code == 40


LRC = "[ar:The Beatles]\n[00:01.00]Something in the way\n[00:04.25]she moves\n[00:02.5]attracts me"


def test_lyrics_by_song_id(api: SubsonicClient, library: Library, fmt: str) -> None:
    song = library.track("Something")
    Track.objects.filter(pk=song.pk).update(synced_lyrics=LRC, lyrics="Something in the way\nshe moves")
    reply = api.call("getLyricsBySongId", fmt, id=f"tr-{song.pk}")
    synced, plain = reply.items("lyricsList", "structuredLyrics")
    assert synced["synced"] == "true"
    assert synced["displayTitle"] == "Something"
    lines = reply.items("lyricsList", "structuredLyrics", "line")
    assert [(line.get("start"), line["value"]) for line in lines[:3]] == [
        ("1000", "Something in the way"),
        ("2500", "attracts me"),
        ("4250", "she moves"),
    ]
    assert plain["synced"] == "false"
    assert [line["value"] for line in lines[3:]] == ["Something in the way", "she moves"]


def test_lyrics_by_song_id_without_lyrics(api: SubsonicClient, library: Library, fmt: str) -> None:
    reply = api.call("getLyricsBySongId", fmt, id=f"tr-{library.tracks[0].pk}")
    assert reply.items("lyricsList", "structuredLyrics") == []
    assert api.call("getLyricsBySongId", fmt, id="tr-999999").error_code == 70


def test_legacy_lyrics_by_artist_and_title(api: SubsonicClient, library: Library, fmt: str) -> None:
    Track.objects.filter(pk=library.track("Something").pk).update(synced_lyrics=LRC)
    reply = api.call("getLyrics", fmt, artist="the beatles", title="SOMETHING")
    lyrics = reply.one("lyrics")
    assert lyrics["artist"] == "The Beatles"
    assert lyrics["value"] == "Something in the way\nattracts me\nshe moves"
    nothing = api.call("getLyrics", fmt, artist="Nobody", title="Nothing").one("lyrics")
    assert "artist" not in nothing


def test_avatar_is_a_clear_not_found(api: SubsonicClient, fmt: str) -> None:
    reply = api.call("getAvatar", fmt, username="alice")
    assert reply.error_code == 70
    assert "avatar" in reply.error_message.lower()
    assert api.call("getAvatar", fmt).error_code == 10
