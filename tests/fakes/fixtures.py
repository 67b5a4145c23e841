"""Pytest fixtures wiring the fake YouTube Music server into settings (import them into a conftest or test module)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache

from sources.registry import reset_sources
from tests.audio import AudioMaker
from tests.fakes.media_server import MediaStore
from tests.fakes.ytmusic_server import Catalog, FakeYTMusicServer, demo_catalog, ytmusic_server


@pytest.fixture(scope="session")
def cover_jpeg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real 64x64 JPEG made by ffmpeg."""
    path = tmp_path_factory.mktemp("covers") / "cover.jpg"
    args = ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "color=c=red:s=64x64"]
    subprocess.run([*args, "-frames:v", "1", str(path)], check=True, capture_output=True, timeout=60)
    return path


@pytest.fixture(scope="session")
def fake_media(audio_maker: AudioMaker, cover_jpeg: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("fake-media")
    return {
        "tone.opus": audio_maker.make(folder / "tone.opus", "opus", seconds=2.0),
        "long.opus": audio_maker.make(folder / "long.opus", "opus", seconds=30.0),
        "tone.m4a": audio_maker.make(folder / "tone.m4a", "m4a", seconds=2.0),
        "cover.jpg": cover_jpeg,
        "not-audio.opus": _not_audio(folder),
    }


def _not_audio(folder: Path) -> Path:
    path = folder / "not-audio.opus"
    path.write_bytes(b"<html>" + b"x" * 4000 + b"</html>")
    return path


@dataclass
class FakeYouTube:
    server: FakeYTMusicServer
    catalog: Catalog
    media: MediaStore
    work_dir: Path

    @property
    def base_url(self) -> str:
        return self.server.base_url


@pytest.fixture
def fake_youtube(settings: Any, tmp_path: Path, fake_media: dict[str, Path]) -> Iterator[FakeYouTube]:
    """The `youtube` source enabled against a fake YouTube Music on 127.0.0.1, downloads via the generic extractor."""
    media = MediaStore()
    for name, path in fake_media.items():
        media.add_file(name, path, mime="audio/ogg" if name == "not-audio.opus" else None)
    catalog = demo_catalog()
    with ytmusic_server(catalog, media) as server:
        settings.MCMA_SOURCES = {
            **settings.MCMA_SOURCES,
            "youtube": {
                "BACKEND": "sources.backends.youtube.YouTubeMusicSource",
                "OPTIONS": {"enabled": True, "base_url": server.base_url, "cookies_file": ""},
            },
        }
        settings.YOUTUBE_REQUESTS_PER_SECOND = 1000.0
        settings.YOUTUBE_REQUEST_TIMEOUT = 2.0
        settings.DOWNLOAD_ALLOWED_EXTRACTORS = ["generic"]
        settings.DOWNLOAD_SOCKET_TIMEOUT = 2.0
        settings.DOWNLOAD_TEMP_DIR = str(tmp_path / "incoming")
        cache.clear()
        reset_sources()
        yield FakeYouTube(server=server, catalog=catalog, media=media, work_dir=tmp_path / "incoming")
    reset_sources()
    cache.clear()
    shutil.rmtree(tmp_path / "incoming", ignore_errors=True)
