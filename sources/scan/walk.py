"""Phase 1: walk the import root, streaming one entry at a time (never a list of the whole tree).

Yields `Candidate`s (audio files to consider) and `Refusal`s (things deliberately not imported, with why).
Hidden entries (a name starting with "."), symlinks whose target leaves the root, folder symlinks (loops) and
names that are not valid UTF-8 are refused; companion files (folder covers, .lrc/.txt lyrics) are passed over
silently: a lyrics file named like an audio file travels with that file's `Candidate` (`sidecars`), covers are
read beside their track by a later phase.
"""

from __future__ import annotations

import dataclasses
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from library.lyrics import SIDECAR_SUFFIXES, Sidecar
from library.tags import AUDIO_SUFFIXES

COVER_NAMES = ("cover", "folder", "front")
ARTIST_IMAGE_NAMES = ("artist",)
COVER_SUFFIXES = (".jpg", ".jpeg", ".png")
COMPANION_SUFFIXES = frozenset({".lrc"})  # a .txt is a companion only beside an audio file of its name


@dataclass(frozen=True)
class Candidate:
    relative: str  # POSIX path within the root: the track's source_id
    path: Path
    size: int
    mtime_ns: int
    sidecars: tuple[Sidecar, ...] = ()  # lyrics files with the same stem


@dataclass(frozen=True)
class Refusal:
    relative: str
    reason: str
    # Not a choice but an obstacle (an unreadable folder or file): reported as a failure, not a skip.
    failed: bool = False


def is_companion(name: str) -> bool:
    stem, suffix = os.path.splitext(name.lower())
    return suffix in COMPANION_SUFFIXES or (stem in (*COVER_NAMES, *ARTIST_IMAGE_NAMES) and suffix in COVER_SUFFIXES)


def walk(root: Path) -> Iterator[Candidate | Refusal]:
    """Depth-first, sorted within each folder so runs are reproducible. `root` must be resolved."""
    pending: list[Path] = [root]  # folders still to visit: bounded by the tree's breadth, not its size
    while pending:
        folder = pending.pop()
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            yield Refusal(_relative(root, folder), f"cannot read the folder: {exc.strerror or exc}", failed=True)
            continue
        subfolders: list[Path] = []
        prefix = _relative(root, folder)
        prefix = f"{prefix}/" if prefix else ""
        sidecars = _sidecars(entries)
        for entry in entries:
            if _is_sidecar(entry.name, sidecars):
                continue
            relative = prefix + entry.name  # built from the folder's prefix: os.path.relpath per file is costly
            outcome = _classify(root, entry, relative)
            if isinstance(outcome, Path):
                subfolders.append(outcome)
            elif isinstance(outcome, Candidate) and (found := sidecars.get(os.path.splitext(entry.name)[0])):
                yield dataclasses.replace(outcome, sidecars=found)
            elif outcome is not None:
                yield outcome
        pending.extend(reversed(subfolders))


def _sidecars(entries: list[os.DirEntry[str]]) -> dict[str, tuple[Sidecar, ...]]:
    """Lyrics files of one folder by the stem of the audio file they belong to (regular files only: a symlinked
    sidecar is not followed)."""
    audio_stems = {
        stem
        for stem, suffix in map(os.path.splitext, (entry.name for entry in entries))
        if suffix[1:].lower() in AUDIO_SUFFIXES
    }
    found: dict[str, list[Sidecar]] = {}
    for entry in entries:
        stem, suffix = os.path.splitext(entry.name)
        if suffix.lower() not in SIDECAR_SUFFIXES or stem not in audio_stems or entry.name.startswith("."):
            continue
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        found.setdefault(stem, []).append(Sidecar(Path(entry.path), info.st_mtime_ns, info.st_size))
    return {stem: tuple(items) for stem, items in found.items()}


def _is_sidecar(name: str, sidecars: dict[str, tuple[Sidecar, ...]]) -> bool:
    stem, suffix = os.path.splitext(name)
    return suffix.lower() in SIDECAR_SUFFIXES and any(item.path.name == name for item in sidecars.get(stem, ()))


def _relative(root: Path, path: Path) -> str:
    rel = os.path.relpath(path, root)
    return "" if rel == "." else Path(rel).as_posix()


def _classify(root: Path, entry: os.DirEntry[str], relative: str) -> Candidate | Refusal | Path | None:
    name = entry.name
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return Refusal(os.fsencode(relative).decode("utf-8", "replace"), "the file name is not valid UTF-8")
    if name.startswith("."):
        return Refusal(relative, "hidden file or folder")
    try:
        if entry.is_symlink():
            return _classify_symlink(root, entry, relative)
        if entry.is_dir(follow_symlinks=False):
            return Path(entry.path)
        info = entry.stat(follow_symlinks=False)
    except OSError as exc:
        return Refusal(relative, f"cannot read: {exc.strerror or exc}", failed=True)
    if not stat.S_ISREG(info.st_mode):
        return Refusal(relative, "not a regular file")
    return _candidate(relative, Path(entry.path), info)


def _classify_symlink(root: Path, entry: os.DirEntry[str], relative: str) -> Candidate | Refusal | None:
    try:
        target = Path(entry.path).resolve(strict=True)
    except (OSError, RuntimeError):
        return Refusal(relative, "broken symbolic link")
    if target != root and root not in target.parents:
        return Refusal(relative, "symbolic link leads outside the import folder")
    if target.is_dir():
        return Refusal(relative, "symbolic link to a folder (not followed, to avoid loops)")
    try:
        info = target.stat()
    except OSError as exc:
        return Refusal(relative, f"cannot read: {exc.strerror or exc}", failed=True)
    if not stat.S_ISREG(info.st_mode):
        return Refusal(relative, "not a regular file")
    return _candidate(relative, target, info)


def _candidate(relative: str, path: Path, info: os.stat_result) -> Candidate | Refusal | None:
    name = relative.rsplit("/", 1)[-1]  # the link's own name, not its target's
    if is_companion(name):
        return None
    suffix = os.path.splitext(name)[1].lower().lstrip(".")
    if suffix not in AUDIO_SUFFIXES:
        return Refusal(relative, "not an audio file")
    return Candidate(relative=relative, path=path, size=info.st_size, mtime_ns=info.st_mtime_ns)
