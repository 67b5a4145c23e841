"""Fixtures for source and scan tests: a music folder made of real audio, configured as the "local" source."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from sources.registry import reset_sources
from tests.audio import AudioMaker


def _jpeg() -> bytes:
    """A real (decodable) 8x8 JPEG: covers that are not images are skipped by the scan."""
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(out, "JPEG")
    return out.getvalue()


JPEG = _jpeg()


@pytest.fixture
def music_root(tmp_path: Path, settings: Any) -> Iterator[Path]:
    """An empty import folder configured as the local source (the test fills it)."""
    root = tmp_path / "music"
    root.mkdir()
    settings.LOCAL_MEDIA_IMPORT_PATH = str(root)
    settings.MCMA_SOURCES = {
        "local": {"BACKEND": "sources.backends.local.LocalSource", "OPTIONS": {"root": str(root)}},
    }
    reset_sources()
    yield root
    reset_sources()


def album_tags(album: str, artist: str, track: int, **extra: str) -> dict[str, str]:
    tags = {"title": f"{album} {track}", "artist": artist, "album": album, "album_artist": artist}
    tags.update(track=str(track), date="2004", genre="Rock")
    tags.update(extra)
    return tags


@pytest.fixture
def small_library(music_root: Path, audio_maker: AudioMaker) -> Path:
    """Two albums (one over two disc folders with a folder cover), a compilation, and the usual junk."""
    for n, fmt in enumerate(("mp3", "flac", "ogg"), start=1):
        audio_maker.make(music_root / "Band" / "First" / f"0{n}.{fmt}", fmt, tags=album_tags("First", "Band", n))
    for disc in (1, 2):
        audio_maker.make(
            music_root / "Band" / "Double" / f"Disc {disc}" / "01.m4a",
            "m4a",
            tags=album_tags("Double", "Band", 1, disc=f"{disc}/2", title=f"Side {disc}"),
        )
    (music_root / "Band" / "Double" / "cover.jpg").write_bytes(JPEG)
    for n, singer in enumerate(("Ana", "Bo"), start=1):
        audio_maker.make(
            music_root / "VA" / f"{n}.opus",
            "opus",
            tags={"title": f"Hit {n}", "artist": singer, "album": "Hits", "compilation": "1", "track": str(n)},
        )
    (music_root / "notes.txt").write_text("liner notes")
    (music_root / "empty.mp3").write_bytes(b"")
    (music_root / ".hidden").mkdir()
    audio_maker.make(music_root / ".hidden" / "secret.mp3", "mp3")
    return music_root
