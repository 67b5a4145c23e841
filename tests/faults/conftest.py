"""Fixtures of the fault suite (`make faults`): a migrated database template, a library of real audio, the fake
YouTube Music origin, and `stack`, the running processes of one test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from library.tags import TrackTags, write_tags
from tests.audio import AudioMaker
from tests.fakes.fixtures import FakeYouTube, cover_jpeg, fake_media, fake_youtube
from tests.faults.stack import DatabaseTemplate, Stack, base_env, running_stack

__all__ = ["cover_jpeg", "fake_media", "fake_youtube"]

LIBRARY_FILES = 240


@pytest.fixture(scope="session")
def db_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseTemplate]:
    tmp = tmp_path_factory.mktemp("fault-db")
    template = DatabaseTemplate(os.environ.get("DATABASE_URL", ""), tmp)
    template.create(base_env(tmp / "data"))
    try:
        yield template
    finally:
        template.destroy()


@pytest.fixture(scope="session")
def music_library(audio_maker: AudioMaker, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """LIBRARY_FILES real MP3s (one ffmpeg encode, then copies tagged apart), 12 albums of 20 tracks."""
    root = tmp_path_factory.mktemp("fault-music")
    tone = audio_maker.make(root.parent / "tone.mp3", "mp3", seconds=3.0)
    data = tone.read_bytes()
    for n in range(LIBRARY_FILES):
        album, track = divmod(n, 20)
        path = root / f"Artist {album % 3}" / f"Album {album}" / f"{track + 1:02d}.mp3"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        tags = TrackTags(
            title=f"Song {n}", artists=(f"Artist {album % 3}",), album=f"Album {album}", track_number=track + 1
        )
        write_tags(path, tags, cover=None, cover_mime=None)
    return root


@pytest.fixture
def stack(
    tmp_path: Path, db_template: DatabaseTemplate, music_library: Path, fake_youtube: FakeYouTube
) -> Iterator[Stack]:
    env = base_env(tmp_path / "data")
    env.update(
        {
            "LOCAL_MEDIA_IMPORT_PATH": str(music_library),
            "YOUTUBE_ENABLED": "true",
            "YOUTUBE_MUSIC_BASE_URL": fake_youtube.base_url,
            "YOUTUBE_COOKIES_FILE": "",
            "DOWNLOAD_TEMP_DIR": "",
        }
    )
    with running_stack(tmp_path, db_template, env) as running:
        yield running
