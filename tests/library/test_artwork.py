"""Covers: the Cover Art Archive (a hit, no cover, 503, a slow answer, an answer that is not an image), pictures
that are not images skipped with a reason by the scan, artist images, COVER_ART_PRIORITY and placeholders."""

from __future__ import annotations

import dataclasses
import io
import os
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from PIL import Image

from library import coverartarchive, metadata
from library.covers import image_problem, placeholder_image
from library.ingest.covers import album_cover_store
from library.models import Album, Artist, Track
from library.tags import read_tags, write_tags
from sources import services
from sources.registry import reset_sources
from tests.factories.library import AlbumFactory
from tests.fakes.coverart_server import FakeCoverArchive

pytestmark = pytest.mark.django_db

RELEASE = "0e9f3a3e-1f5b-4a4e-9d7e-3a5d2c1b0a99"


def _jpeg(side: int = 64, colour: tuple[int, int, int] = (10, 120, 200)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (side, side), colour).save(out, "JPEG")
    return out.getvalue()


def test_the_archive_front_is_stored_for_an_album_without_cover(fake_coverart: FakeCoverArchive) -> None:
    album = AlbumFactory.create(musicbrainz_release_id=RELEASE)
    fake_coverart.fronts[RELEASE] = _jpeg()

    assert metadata.cover_archive_pending() == [album.pk]
    assert metadata.album_cover_archive_fetch(album_id=album.pk) is True

    album.refresh_from_db()
    assert album.cover_path == f"covers/albums/{album.pk}.jpg"
    assert (Path(settings.MEDIA_ROOT) / album.cover_path).read_bytes() == fake_coverart.fronts[RELEASE]
    assert fake_coverart.requests[0] == f"/release/{RELEASE}/front-1200"
    assert metadata.cover_archive_pending() == []


@pytest.mark.parametrize("mode", ["normal", "not_image"])
def test_no_cover_or_not_an_image_is_remembered(fake_coverart: FakeCoverArchive, mode: Any) -> None:
    album = AlbumFactory.create(musicbrainz_release_id=RELEASE)
    fake_coverart.mode = mode
    if mode == "not_image":
        fake_coverart.fronts[RELEASE] = _jpeg()

    assert metadata.album_cover_archive_fetch(album_id=album.pk) is False

    album.refresh_from_db()
    assert (album.cover_path, album.cover_archive_checked_at is not None) == ("", True)
    assert metadata.cover_archive_pending() == []


@pytest.mark.parametrize("mode", ["down", "slow"])
def test_an_unavailable_archive_is_asked_again_later(fake_coverart: FakeCoverArchive, mode: Any) -> None:
    album = AlbumFactory.create(musicbrainz_release_id=RELEASE)
    fake_coverart.fronts[RELEASE] = _jpeg()
    fake_coverart.mode = mode

    with pytest.raises(coverartarchive.CoverArchiveUnavailableError):
        metadata.album_cover_archive_fetch(album_id=album.pk)

    assert metadata.cover_archive_pending() == [album.pk]


def test_a_503_is_retried_within_the_call(fake_coverart: FakeCoverArchive) -> None:
    album = AlbumFactory.create(musicbrainz_release_id=RELEASE)
    fake_coverart.fronts[RELEASE] = _jpeg()
    fake_coverart.down_for = 1  # METADATA_HTTP_RETRIES=1: the second attempt gets the cover

    assert metadata.album_cover_archive_fetch(album_id=album.pk) is True
    assert fake_coverart.requests == [f"/release/{RELEASE}/front-1200"] * 2 + [f"/images/{RELEASE}.jpg"]


def test_the_sweep_asks_the_archive_only_when_caa_is_in_the_priority(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    AlbumFactory.create(musicbrainz_release_id=RELEASE)
    AlbumFactory.create()  # no release id: nothing to ask
    sent: list[str] = []
    monkeypatch.setattr(metadata.current_app, "send_task", lambda name, args: sent.append(name))

    assert metadata.metadata_sweep()["caa"] == 1
    settings.COVER_ART_PRIORITY = ("embedded", "folder", "placeholder")
    assert metadata.metadata_sweep()["caa"] == 0
    assert sent == ["library.album_cover_archive_fetch"]


def _album_with_cover(origin: str | None, image: bytes) -> Album:
    album = AlbumFactory.create(musicbrainz_release_id=RELEASE)
    relative = f"covers/albums/{album.pk}.jpg"
    (Path(settings.MEDIA_ROOT) / "covers" / "albums").mkdir(parents=True, exist_ok=True)
    (Path(settings.MEDIA_ROOT) / relative).write_bytes(image)
    Album.objects.filter(pk=album.pk).update(cover_path=relative, cover_source=origin)
    album.refresh_from_db()
    return album


def test_the_archive_replaces_a_download_thumbnail(fake_coverart: FakeCoverArchive) -> None:
    album = _album_with_cover("source", _jpeg(16, (1, 1, 1)))
    fake_coverart.fronts[RELEASE] = _jpeg()

    assert metadata.cover_archive_pending() == [album.pk]
    assert metadata.album_cover_archive_fetch(album_id=album.pk) is True

    album.refresh_from_db()
    assert album.cover_source == "caa"
    assert (Path(settings.MEDIA_ROOT) / album.cover_path).read_bytes() == fake_coverart.fronts[RELEASE]


@pytest.mark.parametrize("origin", ["embedded", "folder", "caa", None])
def test_the_archive_never_replaces_an_equal_or_better_cover(fake_coverart: FakeCoverArchive, origin: Any) -> None:
    mine = _jpeg(16, (1, 1, 1))
    album = _album_with_cover(origin, mine)
    fake_coverart.fronts[RELEASE] = _jpeg()

    assert metadata.cover_archive_pending() == []
    assert metadata.album_cover_archive_fetch(album_id=album.pk) is False

    album.refresh_from_db()
    assert (album.cover_source, (Path(settings.MEDIA_ROOT) / album.cover_path).read_bytes()) == (origin, mine)
    assert fake_coverart.requests == []


def test_the_priority_setting_ranks_the_source_thumbnail(fake_coverart: FakeCoverArchive, settings: Any) -> None:
    settings.COVER_ART_PRIORITY = ("embedded", "source", "caa", "placeholder")
    album = _album_with_cover("source", _jpeg(16, (1, 1, 1)))
    assert metadata.cover_archive_pending() == []  # the thumbnail ranks above the archive here

    settings.COVER_ART_PRIORITY = ("embedded", "caa", "placeholder")  # thumbnails not wanted at all
    assert metadata.cover_archive_pending() == [album.pk]
    bare = AlbumFactory.create()
    album_cover_store(album=bare, image=_jpeg(), mime="image/jpeg", origin="source")
    bare.refresh_from_db()
    assert (bare.cover_path, bare.cover_source) == ("", None)


def test_image_problem_names_what_is_wrong(settings: Any) -> None:
    assert image_problem(_jpeg()) == ""
    assert image_problem(b"<html>not a picture</html>") == "the picture is not a readable image"
    gif = io.BytesIO()
    Image.new("RGB", (4, 4)).save(gif, "GIF")
    assert image_problem(gif.getvalue()) == "the picture is GIF, not a JPEG, PNG or WebP"
    settings.COVER_MAX_PIXELS = 100
    assert image_problem(_jpeg(64)) == "the picture has 64x64 pixels, more than 100"


def test_placeholders_differ_by_item_and_are_cached() -> None:
    first, _ = placeholder_image(size=128, seed="al-1", title="Abbey Road", subtitle="The Beatles")
    again, _ = placeholder_image(size=128, seed="al-1", title="Abbey Road", subtitle="The Beatles")
    other, _ = placeholder_image(size=128, seed="al-2", title="Debut", subtitle="Björk")

    assert first == again
    with Image.open(first) as one, Image.open(other) as two:
        assert one.size == two.size == (128, 128)
        assert one.convert("RGB").getpixel((127, 127)) != two.convert("RGB").getpixel((127, 127))


@pytest.fixture
def scan_root(tmp_path: Path, settings: Any) -> Path:
    root = tmp_path / "music"
    root.mkdir()
    settings.MCMA_SOURCES = {"local": {"BACKEND": "sources.backends.local.LocalSource", "OPTIONS": {"root": str(root)}}}
    reset_sources()
    return root


def _scan() -> None:
    services.scan_run(scan_id=services.scan_enqueue(source_name="local").pk)


def test_scan_skips_a_cover_that_is_not_an_image_with_a_reason_and_finds_artist_images(
    scan_root: Path, audio_maker: Any
) -> None:
    tags = {"title": "Song", "artist": "Band", "album": "Record", "album_artist": "Band"}
    audio_maker.make(scan_root / "Band" / "Record" / "01.mp3", "mp3", tags=tags)
    (scan_root / "Band" / "Record" / "cover.jpg").write_bytes(b"this is a text file named like a picture")
    (scan_root / "Band" / "Record" / "folder.png").write_bytes(_jpeg())  # the next candidate is fine
    (scan_root / "Band" / "artist.jpg").write_bytes(_jpeg(32, (1, 2, 3)))

    _scan()

    track = Track.objects.get()
    assert "cover.jpg: the picture is not a readable image" in (track.metadata_skips or {})["cover"]
    assert Album.objects.get().cover_path
    artist = Artist.objects.get(name="Band")
    assert (Path(settings.MEDIA_ROOT) / artist.image_path).read_bytes() == _jpeg(32, (1, 2, 3))


def test_cover_priority_embedded_before_folder(scan_root: Path, audio_maker: Any, settings: Any) -> None:
    path = audio_maker.make(scan_root / "A" / "01.mp3", "mp3", tags={"title": "x", "album": "A", "artist": "B"})
    embedded = _jpeg(16, (250, 0, 0))
    write_tags(path, read_tags(path), cover=embedded, cover_mime="image/jpeg")
    (scan_root / "A" / "cover.jpg").write_bytes(_jpeg(16, (0, 250, 0)))

    _scan()

    album = Album.objects.get()
    assert (Path(settings.MEDIA_ROOT) / album.cover_path).read_bytes() == embedded


@pytest.mark.parametrize(("priority", "replaced"), [(("folder", "caa"), True), (("caa", "folder"), False)])
def test_a_rescan_replaces_an_archive_cover_with_a_folder_image_as_the_setting_says(
    scan_root: Path, audio_maker: Any, settings: Any, priority: Any, replaced: bool
) -> None:
    path = audio_maker.make(scan_root / "A" / "01.mp3", "mp3", tags={"title": "x", "album": "A", "artist": "B"})
    _scan()
    album = Album.objects.get()
    archive = _jpeg(16, (0, 0, 250))
    (Path(settings.MEDIA_ROOT) / "covers" / "albums").mkdir(parents=True, exist_ok=True)
    (Path(settings.MEDIA_ROOT) / f"covers/albums/{album.pk}.png").write_bytes(archive)
    Album.objects.filter(pk=album.pk).update(cover_path=f"covers/albums/{album.pk}.png", cover_source="caa")
    folder = _jpeg(16, (0, 250, 0))
    (scan_root / "A" / "cover.jpg").write_bytes(folder)
    settings.COVER_ART_PRIORITY = priority
    write_tags(path, dataclasses.replace(read_tags(path), title="y"), cover=None, cover_mime=None)
    os.utime(path, (path.stat().st_atime + 10, path.stat().st_mtime + 10))  # changed: the rescan reads it again

    _scan()

    album.refresh_from_db()
    assert (Path(settings.MEDIA_ROOT) / album.cover_path).read_bytes() == (folder if replaced else archive)
    assert album.cover_source == ("folder" if replaced else "caa")
    # the replaced cover had another suffix: its file is gone with it
    assert (Path(settings.MEDIA_ROOT) / f"covers/albums/{album.pk}.png").exists() is not replaced
