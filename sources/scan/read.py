"""Phase 3: read the tags of the new and changed files of a batch, and stage their copies.

A changed file whose bytes still match the stored checksum was only touched: its tags are not read again.
Every failure is per file (`UnreadableAudioError`, or an I/O error while hashing) and never stops the batch.
`file_prepare` is self-contained (plain, picklable arguments and result) so the pipeline can run it in worker
processes, next to the process that writes the database.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath

from library import storage
from library.storage import album_artist_name, file_checksum
from library.tags import TrackTags, UnreadableAudioError, read_tags
from sources.scan.diff import Change


@dataclass(frozen=True)
class Read:
    change: Change
    tags: TrackTags


@dataclass(frozen=True)
class Touched:
    """Same bytes as the stored copy; only size/mtime bookkeeping changes."""

    change: Change


@dataclass(frozen=True)
class Unreadable:
    change: Change
    reason: str


@dataclass(frozen=True)
class Prepared:
    """One file after phase 3: its reading, and for a `Read` its staged copy (or why it could not be made)."""

    result: Read | Touched | Unreadable
    staged: storage.StagedFile | None = None
    stage_error: Exception | None = None


def cover_trimmer() -> Callable[[Read | Touched | Unreadable], Read | Touched | Unreadable]:
    """Embedded pictures can be megabytes each; only the first track of an album keeps its bytes (for the
    album's cover), so a batch of hi-res albums stays small in memory. One trimmer per batch, fed in order."""
    cover_kept: set[tuple[str, str]] = set()

    def trim(result: Read | Touched | Unreadable) -> Read | Touched | Unreadable:
        if not isinstance(result, Read) or result.tags.cover is None:
            return result
        tags = result.tags
        album_key = (album_artist_name(tags).casefold(), tags.album.casefold())
        if album_key in cover_kept:
            return Read(result.change, tags.without_cover())
        cover_kept.add(album_key)
        return result

    return trim


def read_change(change: Change) -> Read | Touched | Unreadable:
    candidate = change.candidate
    try:
        if candidate.size == 0:
            raise UnreadableAudioError("the file is empty (0 bytes)")
        # New files are hashed while they are copied; only known ones need the hash now, to spot a touch.
        if change.known is not None and change.known.checksum == file_checksum(candidate.path):
            return Touched(change)
        return Read(change, read_tags(candidate.path))
    except UnreadableAudioError as exc:
        return Unreadable(change, exc.message)
    except OSError as exc:
        return Unreadable(change, f"cannot read the file: {exc.strerror or exc}")


def file_prepare(change: Change, *, hardlink: bool) -> Prepared:
    """Read the file's tags, then copy (or link) it to a temp name: into the staging folder when it is new,
    beside its stored copy when it is an update (so the later rename stays in one folder). The copy is
    fsync'ed here, in parallel with the process that commits, instead of in that process's batch sync."""
    result = read_change(change)
    if not isinstance(result, Read):
        return Prepared(result)
    known = change.known
    folder = str(PurePosixPath(known.path).parent) if known is not None and known.path else storage.STAGING_DIR
    try:
        staged = storage.stage_file(change.candidate.path, folder, hardlink=hardlink, sync=True)
    except (OSError, storage.UnsafePathError) as exc:
        return Prepared(result, stage_error=exc)
    return Prepared(result, staged=staged)
