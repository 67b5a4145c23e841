"""The one size rule of the rebuildable caches (transcodes, remote covers): least recently used out first."""

from __future__ import annotations

import os
from pathlib import Path

from library.disk_cache import cache_file_used, cache_trim


def _file(path: Path, size: int, age: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    os.utime(path, (1_700_000_000 - age, 1_700_000_000 - age))
    return path


def test_the_least_recently_used_files_go_until_the_rest_fit(tmp_path: Path) -> None:
    old = _file(tmp_path / "ab" / "old.jpg", 400, age=300)
    used = _file(tmp_path / "cd" / "used.jpg", 400, age=200)
    new = _file(tmp_path / "new.jpg", 400, age=100)
    writing = _file(tmp_path / ".cover-123.part", 400, age=1000)
    cache_file_used(used)  # read a moment ago: now the most recent

    assert cache_trim(tmp_path, max_bytes=1000) == 1
    assert not old.exists()
    assert (used.exists(), new.exists(), writing.exists()) == (True, True, True)
    assert cache_trim(tmp_path, max_bytes=1000) == 0
    assert cache_trim(tmp_path, max_bytes=0) == 2
    assert writing.exists()  # a file being written is never pulled from under its writer


def test_a_missing_folder_is_an_empty_cache(tmp_path: Path) -> None:
    assert cache_trim(tmp_path / "none", max_bytes=0) == 0
