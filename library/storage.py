"""Managed media storage under MEDIA_ROOT: safe paths, deterministic names and atomic writes.

A file reaches MEDIA_ROOT only as a temp file in the destination directory that is fsync'ed and then renamed
(`os.replace`) into place, so a crash leaves either the old file, the new file, or a `.mcma-*.part` temp file
that `temp_files_sweep` removes -- never a half-written file under a real name.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import os
import re
import shutil
import tempfile
import time
import unicodedata
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Literal

from django.conf import settings

from library.tags import TrackTags
from mcma.errors import InvalidInputError

StoreMode = Literal["copy", "move", "hardlink"]

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


def media_path_in(relative: str, folders: dict[str, Path]) -> Path:
    """`media_path`, resolving each folder once per `folders` memo (one batch of files, most of them sharing
    a few album folders). The last component is checked lexically: it is a name we create, and renames and
    links act on a symlink itself rather than follow it."""
    head, _sep, name = relative.rpartition("/")
    if not head or name in ("", ".", "..") or "\x00" in name:
        return media_path(relative)
    folder = folders.get(head)
    if folder is None:
        folder = folders[head] = media_path(head)
    return folder / name


def relative_media_path(path: Path) -> str:
    """The MEDIA_ROOT-relative POSIX path of an absolute path inside it."""
    return path.resolve().relative_to(media_root()).as_posix()


def file_checksum(path: Path) -> str:
    """BLAKE2b-256 hex digest of the file's bytes."""
    digest = hashlib.blake2b(digest_size=32)
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------------------------------
# Atomic writes
# ---------------------------------------------------------------------------------------------------------------
# Why a hard link can be refused: another filesystem, a filesystem without links, the link limit, or a
# protected source (fs.protected_hardlinks). Each of these means "copy instead", never a failed import.
_LINK_REFUSED = (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EACCES)


def _link_if_possible(src: Path, link: Path) -> bool:
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
    """A complete copy (or hard link) of a source file under a temp name beside its destination.

    Bulk importers stage a whole batch, make it durable with one `sync_paths()`, then `commit` each file under
    its final name and sync the folders once more before writing rows: two grouped syncs per batch instead of
    two flushes per file, with the same guarantee that a final name only ever holds complete bytes.
    """

    def __init__(self, tmp: Path, checksum: str, size: int, *, synced: bool = False) -> None:
        self.tmp = tmp
        self.checksum = checksum
        self.size = size  # what was copied, which may differ from an earlier stat if the source changed since
        self.synced = synced  # its bytes are durable already: `sync_paths` may skip it

    def commit(self, relative_dest: str, *, replace: bool, folders: dict[str, Path] | None = None) -> Path:
        """Rename into place (no per-file fsync); `FileExistsError` if taken and `replace` is False.
        `folders`: a memo of resolved folders shared by the commits of one batch (see `media_path_in`)."""
        dest = media_path(relative_dest) if folders is None else media_path_in(relative_dest, folders)
        if dest.parent != self.tmp.parent:
            dest.parent.mkdir(parents=True, exist_ok=True)
        if replace:
            os.replace(self.tmp, dest)
        else:
            try:
                os.link(self.tmp, dest)
            except OSError as exc:
                if exc.errno not in (errno.EPERM, errno.EMLINK, errno.ENOTSUP) or dest.exists():
                    raise
                os.replace(self.tmp, dest)
            _unlink_quietly(self.tmp)
        return dest

    def discard(self) -> None:
        _unlink_quietly(self.tmp)


def stage_file(src: Path, relative_dir: str, *, hardlink: bool = False, sync: bool = False) -> StagedFile:
    """Copy (or hard-link, falling back to a copy) `src` to a temp file in MEDIA_ROOT/`relative_dir`, hashing
    it on the way. Unless `sync` (for workers that stage in parallel with the committing process), nothing is
    fsync'ed: call `sync_paths()` on the temp files before committing them."""
    folder = media_path(relative_dir)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = _temp_name(folder / "staged")
    if hardlink and _link_if_possible(src, tmp):
        if sync:
            _fsync_path(tmp)
        return StagedFile(tmp, file_checksum(tmp), tmp.stat().st_size, synced=sync)
    digest = hashlib.blake2b(digest_size=32)
    size = 0
    try:
        with src.open("rb") as reader, open(tmp, "xb") as writer:
            while chunk := reader.read(_CHUNK):
                digest.update(chunk)
                writer.write(chunk)
                size += len(chunk)
            if sync:
                writer.flush()
                os.fsync(writer.fileno())
    except BaseException:
        _unlink_quietly(tmp)
        raise
    return StagedFile(tmp, digest.hexdigest(), size, synced=sync)


def sync_paths(paths: Iterable[Path]) -> None:
    """fsync many files (and then their folders) at once: the calls overlap in a small thread pool, so the
    filesystem can fold them into a few journal commits instead of paying one disk flush per file."""
    files = list(dict.fromkeys(paths))
    if not files:
        return
    with ThreadPoolExecutor(max_workers=_SYNC_THREADS) as pool:
        list(pool.map(_fsync_path, files))
        list(pool.map(_fsync_dir, dict.fromkeys(p.parent for p in files)))


def store_bytes(data: bytes, relative_dest: str, *, replace: bool = True) -> Path:
    """Write `data` to MEDIA_ROOT/`relative_dest` atomically (covers, sidecars)."""
    dest = media_path(relative_dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_name(dest)
    try:
        with open(tmp, "xb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        _commit(tmp, dest, replace=replace)
    finally:
        _unlink_quietly(tmp)
    return dest


def delete_file(relative: str) -> None:
    """Remove a stored file if present (used to undo a store whose database write failed)."""
    with contextlib.suppress(FileNotFoundError):
        media_path(relative).unlink()


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
        if replace:
            os.replace(tmp, dest)
        else:
            # link() fails with EEXIST instead of overwriting: the no-clobber rename POSIX lacks.
            try:
                os.link(tmp, dest)
            except OSError as exc:
                if exc.errno not in (errno.EPERM, errno.EMLINK, errno.ENOTSUP) or dest.exists():
                    raise
                os.replace(tmp, dest)  # no hard links on this filesystem: best effort
            _unlink_quietly(tmp)
    finally:
        _unlink_quietly(tmp)
    _fsync_dir(dest.parent)


def _temp_name(dest: Path) -> Path:
    fd, name = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=TEMP_SUFFIX, dir=dest.parent)
    os.close(fd)
    os.unlink(name)  # callers create it exclusively (open "xb" / link), so no one else can take the name
    return Path(name)


def _unlink_quietly(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
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
