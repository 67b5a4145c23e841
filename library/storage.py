"""Managed media storage under MEDIA_ROOT: safe paths, deterministic names and atomic writes.

A file reaches MEDIA_ROOT only as a temp file in the destination directory that is fsync'ed and then renamed
(`os.replace`) into place, so a crash leaves either the old file, the new file, or a `.mcma-*.part` temp file
that `temp_files_sweep` removes -- never a half-written file under a real name.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import random
import re
import shutil
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Literal

import blake3
from django.conf import settings

from library.tags import TrackTags
from mcma.errors import InvalidInputError

StoreMode = Literal["copy", "move", "hardlink"]
StrPath = str | os.PathLike[str]

TEMP_PREFIX = ".mcma-"
TEMP_SUFFIX = ".part"
_CHUNK = 1024 * 1024
_SYNC_THREADS = 8
# Bytes, not characters: most filesystems cap a name at 255 bytes, and we need room for " (NN)" and a suffix.
_MAX_COMPONENT_BYTES = 120
_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]')
_WINDOWS_RESERVED = {"con", "prn", "aux", "nul"} | {f"com{i}" for i in range(1, 10)} | {f"lpt{i}" for i in range(1, 10)}

# Where bulk imports stage copies before they know the destination folder (same filesystem: renames stay atomic).
STAGING_DIR = ".staging"

VARIOUS_ARTISTS = "Various Artists"
UNKNOWN_ARTIST = "[Unknown Artist]"
UNKNOWN_ALBUM = "[Unknown Album]"


class UnsafePathError(InvalidInputError):
    code = "unsafe_path"


def media_root() -> Path:
    return _resolved_root(str(settings.MEDIA_ROOT))


@functools.lru_cache(maxsize=4)
def _resolved_root(configured: str) -> Path:
    return Path(configured).resolve()


def media_path(relative: str) -> Path:
    """The absolute path of `relative` inside MEDIA_ROOT; `UnsafePathError` if it is absolute or escapes."""
    if not relative or "\x00" in relative:
        raise UnsafePathError("empty or invalid media path")
    candidate = Path(relative)
    if candidate.is_absolute() or ".." in candidate.parts:
        raise UnsafePathError(f"media path {relative!r} must be relative and stay inside the library")
    root = media_root()
    resolved = (root / candidate).resolve()
    if resolved != root and root not in resolved.parents:
        raise UnsafePathError(f"media path {relative!r} leaves the library")
    return resolved


def media_folder(relative_dir: str, folders: dict[str, Path] | None = None) -> Path:
    """MEDIA_ROOT/`relative_dir`, checked as `media_path` does and created if missing. `folders`: a memo of the
    folders already resolved and created for one batch of files (most of them share a few album folders), so
    each costs its path resolution and mkdir once per batch rather than once per file."""
    if folders is not None and (known := folders.get(relative_dir)) is not None:
        return known
    folder = media_path(relative_dir)
    folder.mkdir(parents=True, exist_ok=True)
    if folders is not None:
        folders[relative_dir] = folder
    return folder


def media_path_in(relative: str, folders: dict[str, Path]) -> Path:
    """`media_path` of a file whose folder is created if missing, through a `media_folder` memo. The last
    component is checked lexically: it is a name we create, and renames and links act on a symlink itself
    rather than follow it."""
    head, _sep, name = relative.rpartition("/")
    if not head or name in ("", ".", "..") or "\x00" in name:
        path = media_path(relative)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path
    return media_folder(head, folders) / name


def file_checksum(path: StrPath) -> str:
    """BLAKE3 hex digest (256 bits) of the file's bytes: a cryptographic hash several times as fast as SHA-256,
    which matters because an import hashes every byte of the library."""
    digest = blake3.blake3()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def read_whole(path: Path) -> bytes:
    """The file's bytes, with fewer system calls than `Path.read_bytes` (no buffered reader: no terminal check,
    no seeks); an import reads every file of the library this way."""
    with open(path, "rb", buffering=0) as reader:
        return reader.readall()


def bytes_checksum(data: bytes) -> str:
    """`file_checksum` of a file whose bytes are already in memory."""
    return blake3.blake3(data).hexdigest()


# ---------------------------------------------------------------------------------------------------------------
# Atomic writes
# ---------------------------------------------------------------------------------------------------------------
# Why a hard link can be refused: another filesystem, a filesystem without links, the link limit, or a
# protected source (fs.protected_hardlinks). Each of these means "copy instead", never a failed import.
_LINK_REFUSED = (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EACCES)


def _link_if_possible(src: Path, link: StrPath) -> bool:
    """Hard-link `src` as `link`; False when the filesystem refuses, so the caller copies."""
    try:
        os.link(src, link)
    except OSError as exc:
        if exc.errno not in _LINK_REFUSED:
            raise
        return False
    return True


def store_file(src: Path, relative_dest: str, *, mode: StoreMode, replace: bool = True) -> Path:
    """Put `src` at MEDIA_ROOT/`relative_dest` atomically and return the destination.

    `copy` leaves `src` alone; `move` renames it when on the same filesystem (else copies, then unlinks it);
    `hardlink` links when possible and falls back to a copy across filesystems. With `replace=False` an existing
    destination is never overwritten: `FileExistsError` is raised instead (the caller picks another name).
    """
    dest = media_path(relative_dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if mode == "hardlink":
        tmp = _temp_name(dest)
        if _link_if_possible(src, tmp):
            _commit(tmp, dest, replace=replace)
            return dest
    if mode == "move":
        try:
            # Same filesystem: a rename is already atomic; fsync the source first so the data is durable.
            _fsync_path(src)
            if replace:
                os.replace(src, dest)
            else:
                os.link(src, dest)  # EEXIST instead of overwriting
                src.unlink()
            _fsync_dir(dest.parent)
            return dest
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
                raise
    with src.open("rb") as reader:
        _write_atomic(reader, dest, replace=replace)
    if mode == "move":
        src.unlink()
    return dest


class StagedFile:
    """A complete copy (or hard link) of a source file under a temp name, made durable (`sync_paths`) by whoever
    staged it, then `place`d under its final name by the importer, which syncs the folders of a whole batch
    once before writing its rows: a final name only ever holds complete bytes.
    """

    def __init__(self, tmp: StrPath, checksum: str, size: int) -> None:
        # Where the bytes are: the temp name, then the final name once placed. Kept as a string: importers
        # send staged files between processes by the thousand, and unpickling a Path re-parses it.
        self._location = os.fspath(tmp)
        self.placed_as = ""  # the MEDIA_ROOT-relative final name, once `place` has moved the file there
        self.checksum = checksum
        self.size = size  # what was copied, which may differ from an earlier stat if the source changed since

    @property
    def path(self) -> Path:
        return Path(self._location)

    @property
    def location(self) -> str:
        """`path` as a string, for the importer's per-file calls (each Path built costs a parse)."""
        return self._location

    def place(self, relative_dest: str, *, replace: bool, folders: dict[str, Path] | None = None) -> Path:
        """Rename into place (the folder is not synced); `FileExistsError` if taken and `replace` is False.
        `folders`: a `media_folder` memo shared by the files of one batch."""
        dest = media_path_in(relative_dest, {} if folders is None else folders)
        _rename(self._location, dest, replace=replace)
        self._location, self.placed_as = os.fspath(dest), relative_dest
        return dest

    def discard(self) -> None:
        """Remove the file, wherever it is now: only for a file no row points at."""
        _unlink_quietly(self._location)


def stage_file(
    src: Path,
    relative_dir: str,
    *,
    hardlink: bool = False,
    data: bytes | None = None,
    folders: dict[str, Path] | None = None,
) -> StagedFile:
    """Copy (or hard-link, falling back to a copy) `src` to a temp file in MEDIA_ROOT/`relative_dir`, hashing
    it on the way; `data`: the bytes of `src`, already read by the caller; `folders`: a `media_folder` memo.
    Nothing is fsync'ed: call `sync_paths()` on the temp files before committing them."""
    tmp = os.path.join(media_folder(relative_dir, folders), _temp_basename())
    if hardlink and _link_if_possible(src, tmp):
        if data is not None:
            return StagedFile(tmp, bytes_checksum(data), len(data))
        return StagedFile(tmp, file_checksum(tmp), os.stat(tmp).st_size)
    try:
        if data is not None:
            _write_new(tmp, data)
            return StagedFile(tmp, bytes_checksum(data), len(data))
        digest = blake3.blake3()
        size = 0
        with src.open("rb") as reader, open(tmp, "xb") as writer:
            while chunk := reader.read(_CHUNK):
                digest.update(chunk)
                writer.write(chunk)
                size += len(chunk)
    except BaseException:
        _unlink_quietly(tmp)
        raise
    return StagedFile(tmp, digest.hexdigest(), size)


def _write_new(path: StrPath, data: bytes) -> None:
    """Create `path` (it must not exist) holding `data`, or leave nothing there: three system calls, where a
    buffered writer makes six."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    except BaseException:
        _unlink_quietly(path)
        raise
    finally:
        os.close(fd)


def sync_paths(paths: Iterable[StrPath]) -> None:
    """Make many files and their folders' entries durable at once: the fsyncs overlap in a small thread pool, so
    the filesystem can fold them into a few journal commits."""
    files = list(dict.fromkeys(os.fspath(path) for path in paths))
    _fsync_all(files, _fsync_path)
    sync_folders(files)


def sync_folders(paths: Iterable[StrPath]) -> None:
    """Make the folder entries of these paths (renames into them) durable, each folder once."""
    _fsync_all(list(dict.fromkeys(os.path.dirname(os.fspath(path)) for path in paths)), _fsync_dir)


def _fsync_all(paths: list[str], fsync: Callable[[StrPath], None]) -> None:
    if len(paths) <= 1:
        for path in paths:
            fsync(path)
        return
    with ThreadPoolExecutor(max_workers=min(_SYNC_THREADS, len(paths))) as pool:
        list(pool.map(fsync, paths))


def store_many_bytes(items: Sequence[tuple[bytes, str]], *, replace: bool = True) -> list[Path]:
    """Write each (data, relative_dest) to MEDIA_ROOT/relative_dest atomically (an import batch's album covers),
    with one grouped sync of the temp files and one of their folders."""
    written: list[tuple[Path, Path]] = []
    folders: dict[str, Path] = {}
    try:
        for data, relative_dest in items:
            dest = media_path_in(relative_dest, folders)
            tmp = _temp_name(dest)
            _write_new(tmp, data)
            written.append((tmp, dest))
        sync_paths(tmp for tmp, _dest in written)
        for tmp, dest in written:
            _rename(tmp, dest, replace=replace)
        sync_folders(dest for _tmp, dest in written)
    finally:
        for tmp, _dest in written:
            _unlink_quietly(tmp)
    return [dest for _tmp, dest in written]


def file_rewrite(relative: str, edit: Callable[[Path], None]) -> Path:
    """Change the managed file at `relative` atomically: `edit` works on a temp copy beside it, which then
    replaces the file in one rename, so a reader sees the old file or the new one, never a half-written one."""
    dest = media_path(relative)
    tmp = _temp_name(dest)
    try:
        with dest.open("rb") as reader, open(tmp, "xb") as writer:
            shutil.copyfileobj(reader, writer, _CHUNK)
        edit(tmp)
        _fsync_path(tmp)
        _commit(tmp, dest, replace=True)
    finally:
        _unlink_quietly(tmp)
    return dest


def delete_file(relative: str) -> None:
    """Remove a stored file if present (used to undo a store whose database write failed), and the folders that
    held only it: a failed import must not leave an empty artist/album folder behind."""
    path = media_path(relative)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    root = media_root()
    for folder in path.parents:
        if folder == root or root not in folder.parents:
            return
        try:
            folder.rmdir()  # refuses a folder that is not empty, so a neighbour's file is never at risk
        except OSError:
            return


def _write_atomic(reader: IO[bytes], dest: Path, *, replace: bool) -> None:
    tmp = _temp_name(dest)
    try:
        with open(tmp, "xb") as writer:
            shutil.copyfileobj(reader, writer, _CHUNK)
            writer.flush()
            os.fsync(writer.fileno())
        _commit(tmp, dest, replace=replace)
    finally:
        _unlink_quietly(tmp)


def _commit(tmp: Path, dest: Path, *, replace: bool) -> None:
    try:
        _rename(tmp, dest, replace=replace)
    finally:
        _unlink_quietly(tmp)
    _fsync_dir(dest.parent)


def _rename(src: StrPath, dest: Path, *, replace: bool) -> None:
    if replace:
        os.replace(src, dest)
    else:
        _rename_no_replace(src, dest)


def _rename_no_replace(src: StrPath, dest: Path) -> None:
    """Rename `src` to `dest`, or raise `FileExistsError` if `dest` exists: the no-clobber rename POSIX
    lacks. link() fails with EEXIST instead of overwriting, and the source name is removed after it."""
    try:
        os.link(src, dest)
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EMLINK, errno.ENOTSUP) or dest.exists():
            raise
        os.replace(src, dest)  # no hard links on this filesystem: best effort
    _unlink_quietly(src)


def _temp_name(dest: Path) -> Path:
    """A temp name beside `dest`: see `_temp_basename`."""
    return dest.parent / _temp_basename()


def _temp_basename() -> str:
    """A temp file name that the caller creates exclusively (open "xb", link), so a clash fails rather than
    overwrites; with 64 random bits it never happens in practice. (mkstemp reserves the name by creating the
    file, which the caller then had to remove: an inode allocated and freed per stored file.) The name need
    not be unpredictable, only unique: `random` (reseeded in forked children) rather than a system call for
    every name."""
    return f"{TEMP_PREFIX}{random.getrandbits(64):016x}{TEMP_SUFFIX}"


def _unlink_quietly(path: StrPath) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _fsync_path(path: StrPath) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: StrPath) -> None:
    # Makes the rename itself durable; some filesystems refuse fsync on a directory, which is harmless.
    with contextlib.suppress(OSError):
        _fsync_path(path)


def temp_files_sweep(*, older_than_seconds: float = 3600, folder: str = "") -> int:
    """Remove temp files left by a crash mid-write (under `folder`, default all of MEDIA_ROOT); returns how
    many were removed."""
    cutoff = time.time() - older_than_seconds
    removed = 0
    for path in _iter_temp_files(media_path(folder) if folder else media_root()):
        with contextlib.suppress(FileNotFoundError):
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
    return removed


def _iter_temp_files(root: Path) -> Iterator[Path]:
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            if name.startswith(TEMP_PREFIX) and name.endswith(TEMP_SUFFIX):
                yield Path(dirpath, name)


# ---------------------------------------------------------------------------------------------------------------
# Deterministic names
# ---------------------------------------------------------------------------------------------------------------
def album_artist_name(tags: TrackTags) -> str:
    """The album artist a track files under: tagged, else Various Artists for compilations, else its artist."""
    if tags.compilation and not tags.album_artist:
        return VARIOUS_ARTISTS
    return tags.album_artist or tags.artist or UNKNOWN_ARTIST


@functools.lru_cache(maxsize=4096)  # an album's tracks share their artist and album folder names
def sanitize_component(text: str, *, fallback: str) -> str:
    """One safe path component: no separators or control characters, no leading dot, bounded length."""
    text = unicodedata.normalize("NFC", text)
    text = _UNSAFE.sub("_", text)
    text = " ".join(text.split()).strip(" .")
    if not text:
        text = fallback
    if text.split(".")[0].lower() in _WINDOWS_RESERVED:
        text = f"_{text}"
    encoded = text.encode("utf-8")
    if len(encoded) > _MAX_COMPONENT_BYTES:
        text = encoded[:_MAX_COMPONENT_BYTES].decode("utf-8", "ignore").rstrip(" .")
    return text


def library_relative_path(tags: TrackTags, suffix: str) -> str:
    """'Album Artist/Album (Year)/01-02 Title.ext' for `tags`, made unique when the name is already taken."""
    for candidate in library_relative_paths(tags, suffix):
        if not media_path(candidate).exists():
            return candidate
    raise AssertionError("unreachable: library_relative_paths is endless")


def library_relative_paths(tags: TrackTags, suffix: str) -> Iterator[str]:
    """The deterministic name for `tags`, then "... (2)", "... (3)" and so on, without checking the disk."""
    suffix = re.sub(r"[^a-z0-9]", "", suffix.lower().lstrip(".")) or "bin"
    artist_dir = sanitize_component(album_artist_name(tags), fallback=UNKNOWN_ARTIST)
    album = tags.album or UNKNOWN_ALBUM
    album_dir = sanitize_component(f"{album} ({tags.year})" if tags.year else album, fallback=UNKNOWN_ALBUM)
    prefix = ""
    if tags.track_number:
        multi_disc = (tags.disc_total or 1) > 1 or (tags.disc_number or 1) > 1
        prefix = f"{tags.disc_number or 1:02d}-{tags.track_number:02d} " if multi_disc else f"{tags.track_number:02d} "
    stem = sanitize_component(prefix + (tags.title or "Untitled"), fallback="Untitled")
    base = f"{artist_dir}/{album_dir}/{stem}"
    yield f"{base}.{suffix}"
    counter = 2
    while True:
        yield f"{base} ({counter}).{suffix}"
        counter += 1
