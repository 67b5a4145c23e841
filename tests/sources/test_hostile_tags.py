"""A valid file whose tags hold NUL or other control characters is imported (cleaned at `library.tags`) on every
database -- PostgreSQL refused the NUL and kept the file out -- and a file that does fail leaves no empty folder
under MEDIA_ROOT. Run this file on SQLite and on PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import IntegrityError

from library.models import Track
from library.storage import STAGING_DIR
from library.tags import TrackTags, write_tags
from sources import services
from tests.audio import AudioMaker

pytestmark = [pytest.mark.django_db, pytest.mark.security]


def _empty_folders() -> list[str]:
    media = Path(settings.MEDIA_ROOT)
    return sorted(
        folder.relative_to(media).as_posix()
        for folder in media.rglob("*")
        if folder.is_dir() and STAGING_DIR not in folder.relative_to(media).parts and not any(folder.iterdir())
    )


def _hostile_file(music_root: Path, audio_maker: AudioMaker, name: str = "01.flac") -> Path:
    path = audio_maker.make(music_root / "incoming" / name, "flac")
    hostile = TrackTags(title="Bad\x00 Title\x1b", artists=("Art\x00ist",), album="Al\x01bum\x00")
    write_tags(path, hostile, cover=None, cover_mime=None)
    return path


def test_a_file_with_nul_in_its_tags_is_imported(music_root: Path, audio_maker: AudioMaker) -> None:
    _hostile_file(music_root, audio_maker)

    scan = services.scan_import_folder(root=music_root, mark_missing=True)

    assert (scan.added, scan.failed, scan.errors) == (1, 0, [])
    track = Track.objects.select_related("album").get()
    assert (track.title, track.artist_display, track.album.name) == ("Bad", "Art; ist", "Album")
    assert "\x00" not in track.path
    assert (Path(settings.MEDIA_ROOT) / track.path).is_file()
    assert _empty_folders() == []


def test_a_file_that_fails_leaves_no_empty_folder(
    music_root: Path, audio_maker: AudioMaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    _hostile_file(music_root, audio_maker)

    def refuse(**_kwargs: Any) -> Any:
        raise IntegrityError("the database refused the row")

    monkeypatch.setattr("sources.scan.store.tracks_save", refuse)

    scan = services.scan_import_folder(root=music_root, mark_missing=True)

    assert (scan.added, scan.failed) == (0, 1)
    assert not Track.objects.exists()
    assert _empty_folders() == []
