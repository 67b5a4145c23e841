"""library.storage: confinement to MEDIA_ROOT, atomic writes, hard links, and deterministic names."""

from __future__ import annotations

import errno
import os
import shutil
import time
from pathlib import Path
from typing import Any

import blake3
import pytest
from django.conf import settings

from library import storage
from library.tags import TrackTags


def _media() -> Path:
    return Path(settings.MEDIA_ROOT)


def _leftover_temp_files() -> list[Path]:
    return [p for p in _media().rglob("*") if p.name.startswith(storage.TEMP_PREFIX)]


@pytest.mark.parametrize("bad", ["", "../x.mp3", "/etc/passwd", "a/../../x.mp3", "a/\x00b.mp3", "a/.."])
def test_media_path_refuses_escapes(bad: str) -> None:
    with pytest.raises(storage.UnsafePathError):
        storage.media_path(bad)


def test_media_path_refuses_symlinked_escape(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (_media() / "link").symlink_to(outside)

    with pytest.raises(storage.UnsafePathError):
        storage.media_path("link/x.mp3")


def test_media_path_resolves_inside() -> None:
    assert storage.media_path("A/B/c.mp3") == _media().resolve() / "A" / "B" / "c.mp3"


def test_copy_is_complete_and_leaves_no_temp_file(tmp_path: Path) -> None:
    src = tmp_path / "src.bin"
    src.write_bytes(os.urandom(3 * 1024 * 1024 + 17))

    dest = storage.store_file(src, "Artist/Album/01 Song.bin", mode="copy")

    assert dest.read_bytes() == src.read_bytes()
    assert src.exists()
    assert _leftover_temp_files() == []
    assert storage.file_checksum(dest) == storage.file_checksum(src)
    assert len(storage.file_checksum(dest)) == 64


def test_no_replace_refuses_to_overwrite(tmp_path: Path) -> None:
    first, second = tmp_path / "1", tmp_path / "2"
    first.write_bytes(b"first")
    second.write_bytes(b"second")
    storage.store_file(first, "x/song.mp3", mode="copy", replace=False)

    modes: tuple[storage.StoreMode, ...] = ("copy", "move", "hardlink")
    for mode in modes:
        with pytest.raises(FileExistsError):
            storage.store_file(second, "x/song.mp3", mode=mode, replace=False)

    assert storage.media_path("x/song.mp3").read_bytes() == b"first"
    assert second.exists()
    assert _leftover_temp_files() == []


def test_replace_overwrites_atomically(tmp_path: Path) -> None:
    src = tmp_path / "v2"
    src.write_bytes(b"version 2")
    storage.store_many_bytes([(b"version 1", "x/song.mp3")])

    storage.store_file(src, "x/song.mp3", mode="copy", replace=True)

    assert storage.media_path("x/song.mp3").read_bytes() == b"version 2"


def test_failed_copy_leaves_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "src"
    src.write_bytes(b"x" * 10_000)

    def disk_full(*_args: Any, **_kwargs: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(shutil, "copyfileobj", disk_full)

    with pytest.raises(OSError, match="No space"):
        storage.store_file(src, "x/song.mp3", mode="copy")

    assert not storage.media_path("x/song.mp3").exists()
    assert _leftover_temp_files() == []


def test_move_removes_the_source(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.write_bytes(b"payload")

    dest = storage.store_file(src, "moved/song.mp3", mode="move")

    assert not src.exists()
    assert dest.read_bytes() == b"payload"


def test_hardlink_shares_the_inode_on_one_filesystem(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.write_bytes(b"payload")

    dest = storage.store_file(src, "linked/song.mp3", mode="hardlink")

    assert dest.stat().st_ino == src.stat().st_ino
    assert src.exists()


def test_hardlink_falls_back_to_copy_across_filesystems(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "src"
    src.write_bytes(b"payload")
    real_link = os.link
    calls: list[str] = []

    def cross_device(a: Any, b: Any, *args: Any, **kwargs: Any) -> None:
        if Path(a) == src:
            calls.append("refused")
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        real_link(a, b, *args, **kwargs)

    monkeypatch.setattr(os, "link", cross_device)

    dest = storage.store_file(src, "copied/song.mp3", mode="hardlink")

    assert calls == ["refused"]
    assert dest.read_bytes() == b"payload"
    assert dest.stat().st_ino != src.stat().st_ino


def test_temp_files_sweep_removes_only_old_temp_files() -> None:
    folder = _media() / "A"
    folder.mkdir()
    old = folder / f"{storage.TEMP_PREFIX}abc{storage.TEMP_SUFFIX}"
    fresh = folder / f"{storage.TEMP_PREFIX}def{storage.TEMP_SUFFIX}"
    keep = folder / "song.mp3"
    for path in (old, fresh, keep):
        path.write_bytes(b"x")
    an_hour_ago = time.time() - 7200
    os.utime(old, (an_hour_ago, an_hour_ago))

    assert storage.temp_files_sweep(older_than_seconds=3600) == 1

    assert not old.exists()
    assert fresh.exists()
    assert keep.exists()


def test_library_relative_path_layout() -> None:
    tags = TrackTags(title="Song", artists=("Band",), album="Record", year=1999, track_number=3, suffix="flac")
    assert storage.library_relative_path(tags, ".flac") == "Band/Record (1999)/03 Song.flac"

    multi = TrackTags(title="Song", artists=("Band",), album="Record", track_number=2, disc_number=1, disc_total=2)
    assert storage.library_relative_path(multi, "mp3") == "Band/Record/01-02 Song.mp3"

    compilation = TrackTags(title="Song", artists=("Someone",), album="Hits", compilation=True)
    assert storage.library_relative_path(compilation, "mp3") == "Various Artists/Hits/Song.mp3"

    bare = TrackTags()
    assert storage.library_relative_path(bare, "MP3") == "[Unknown Artist]/[Unknown Album]/Untitled.mp3"


def test_library_relative_path_sanitises() -> None:
    tags = TrackTags(title='What? "Now" / Then', artists=("AC/DX",), album="..hidden: <tag>", album_artist="")
    path = storage.library_relative_path(tags, "mp3")

    artist, album, name = path.split("/")
    assert artist == "AC_DX"
    assert album == "hidden_ _tag_"
    assert name == "What_ _Now_ _ Then.mp3"
    long = storage.library_relative_path(TrackTags(title="é" * 400), "mp3")
    assert len(long.split("/")[-1].encode()) <= 130
    assert storage.sanitize_component("con", fallback="x") == "_con"


def test_library_relative_path_is_unique_when_taken() -> None:
    tags = TrackTags(title="Song", artists=("Band",), album="Record")
    first = storage.library_relative_path(tags, "mp3")
    storage.store_many_bytes([(b"taken", first)])

    second = storage.library_relative_path(tags, "mp3")

    assert second == "Band/Record/Song (2).mp3"


def test_delete_file_is_quiet_when_absent() -> None:
    storage.store_many_bytes([(b"x", "a/b.mp3")])
    storage.delete_file("a/b.mp3")
    storage.delete_file("a/b.mp3")
    assert not storage.media_path("a/b.mp3").exists()


def test_staged_files_are_placed_without_clobbering(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.write_bytes(b"staged bytes")
    staged = storage.stage_file(src, "A/B")
    storage.sync_paths([staged.path])

    tmp = staged.path
    assert tmp.parent == storage.media_path("A/B")
    assert staged.checksum == storage.file_checksum(src)
    dest = staged.place("A/B/song.mp3", replace=False)
    assert dest.read_bytes() == b"staged bytes"
    assert not tmp.exists()
    assert (staged.path, staged.placed_as) == (dest, "A/B/song.mp3")

    again = storage.stage_file(src, "A/B")
    with pytest.raises(FileExistsError):
        again.place("A/B/song.mp3", replace=False)
    again.discard()
    assert _leftover_temp_files() == []


def test_staged_hardlink_and_replace(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.write_bytes(b"v1")
    storage.stage_file(src, "A").place("A/x.mp3", replace=False)
    src.write_bytes(b"version two")

    linked = storage.stage_file(src, "A", hardlink=True)
    dest = linked.place("A/x.mp3", replace=True)

    assert dest.read_bytes() == b"version two"
    assert dest.stat().st_ino == src.stat().st_ino
    assert linked.checksum == storage.file_checksum(src)


def test_failed_staging_leaves_no_temp_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        storage.stage_file(tmp_path / "missing", "A")

    assert _leftover_temp_files() == []


def test_checksum_is_blake3_of_the_bytes_whichever_way_they_are_read(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    # The BLAKE3 test vector of the empty input.
    assert storage.file_checksum(empty) == "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
    src = tmp_path / "src"
    src.write_bytes(b"some audio" * 200_000)  # more than one read chunk
    expected = blake3.blake3(src.read_bytes()).hexdigest()

    from_memory = storage.stage_file(src, "A", data=src.read_bytes())
    streamed = storage.stage_file(src, "A")

    assert storage.file_checksum(src) == storage.bytes_checksum(src.read_bytes()) == expected
    assert from_memory.checksum == streamed.checksum == expected
    assert from_memory.path.read_bytes() == streamed.path.read_bytes() == src.read_bytes()
    assert from_memory.size == streamed.size == src.stat().st_size


def test_no_clobber_rename(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.write_bytes(b"new")
    taken = tmp_path / "taken"
    taken.write_bytes(b"old")

    with pytest.raises(FileExistsError):
        storage._rename_no_replace(src, taken)
    assert taken.read_bytes() == b"old"
    assert src.exists()

    storage._rename_no_replace(src, tmp_path / "free")
    assert (tmp_path / "free").read_bytes() == b"new"
    assert not src.exists()


def test_sync_paths_syncs_each_file_and_each_folder_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = storage._fsync_path

    def recorded(path: str) -> None:
        calls.append(path)
        real(path)

    monkeypatch.setattr(storage, "_fsync_path", recorded)
    files = [tmp_path / f"f{n}" for n in range(5)]
    for path in files:
        path.write_bytes(b"x")

    storage.sync_paths([*files[:3], *map(str, files[3:]), files[0]])  # Paths and strings alike, repeats once

    assert sorted(calls) == sorted([*map(str, files), str(tmp_path)])


def test_store_many_bytes_writes_all_and_leaves_no_temp_files() -> None:
    dests = storage.store_many_bytes([(b"one", "covers/1.jpg"), (b"two", "covers/2.jpg"), (b"3", "other/3.png")])

    assert [d.read_bytes() for d in dests] == [b"one", b"two", b"3"]
    assert _leftover_temp_files() == []
    with pytest.raises(FileExistsError):
        storage.store_many_bytes([(b"again", "covers/1.jpg")], replace=False)
    assert storage.media_path("covers/1.jpg").read_bytes() == b"one"
    assert _leftover_temp_files() == []
