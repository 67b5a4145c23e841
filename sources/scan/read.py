"""Phase 3: read the tags of the new and changed files of a batch, and stage their copies (durable, under temp
names: only the store, phase 4, gives a file its final name).

A changed file whose bytes still match the stored checksum was only touched: its tags are not read again.
Every failure is per file (`UnreadableAudioError`, or an I/O error while hashing) and never stops the batch.
`files_prepare` is self-contained (plain, picklable arguments and result) so the pipeline can run it in worker
processes, next to the process that writes the database.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

from library import storage
from library.storage import album_artist_name, bytes_checksum, file_checksum
from library.tags import TrackTags, UnreadableAudioError, read_tags
from sources.scan.diff import Change
from sources.scan.walk import Candidate


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

    def detached(self) -> Prepared:
        """Without its `Change`, for the trip back from a worker process to the process that sent the change
        and still has it (see `attached`): that process, the import's busiest, need not unpickle the changes
        it sent."""
        return replace(self, result=replace(self.result, change=_DETACHED))

    def attached(self, change: Change) -> Prepared:
        return replace(self, result=replace(self.result, change=change))


_DETACHED = Change(Candidate("", Path(), 0, 0), None)


def cover_trimmer() -> Callable[[Prepared], Prepared]:
    """Embedded pictures can be megabytes each; only the first track of an album keeps its bytes (for the
    album's cover), so a batch of hi-res albums stays small in memory. One trimmer per chunk or batch, fed in
    order."""
    cover_kept: set[tuple[str, str]] = set()

    def trim(prepared: Prepared) -> Prepared:
        result = prepared.result
        if not isinstance(result, Read) or result.tags.cover is None:
            return prepared
        tags = result.tags
        album_key = (album_artist_name(tags).casefold(), tags.album.casefold())
        if album_key in cover_kept:
            return replace(prepared, result=Read(result.change, tags.without_cover()))
        cover_kept.add(album_key)
        return prepared

    return trim


# Files up to this size are read into memory once, then hashed, parsed and copied from there; bigger ones (long
# hi-res recordings) are streamed, so a worker never holds more than this.
IN_MEMORY_LIMIT = 32 * 1024 * 1024


def _read(change: Change) -> tuple[Read | Touched | Unreadable, bytes | None]:
    """The file's reading, and its bytes when they were read whole."""
    candidate = change.candidate
    try:
        if candidate.size == 0:
            raise UnreadableAudioError("the file is empty (0 bytes)")
        data = storage.read_whole(candidate.path) if candidate.size <= IN_MEMORY_LIMIT else None
        # New files are hashed while they are staged; only known ones need the hash now, to spot a touch.
        if change.known is not None:
            checksum = bytes_checksum(data) if data is not None else file_checksum(candidate.path)
            if checksum == change.known.checksum:
                return Touched(change), None
        return Read(change, read_tags(candidate.path, data=data)), data
    except UnreadableAudioError as exc:
        return Unreadable(change, exc.message), None
    except OSError as exc:
        return Unreadable(change, f"cannot read the file: {exc.strerror or exc}"), None


def file_prepare(change: Change, *, hardlink: bool, folders: dict[str, Path] | None = None) -> Prepared:
    """Read the file's tags, then copy (or link) it to a temp name: into the staging folder when it is new,
    beside its stored copy when it is an update (so the later rename stays in one folder). Not synced.
    `folders`: a `storage.media_folder` memo shared by the files of a chunk."""
    result, data = _read(change)
    if not isinstance(result, Read):
        return Prepared(result)
    known = change.known
    folder = str(PurePosixPath(known.path).parent) if known is not None and known.path else storage.STAGING_DIR
    try:
        staged = storage.stage_file(change.candidate.path, folder, hardlink=hardlink, data=data, folders=folders)
    except (OSError, storage.UnsafePathError) as exc:
        return Prepared(result, stage_error=exc)
    return Prepared(result, staged=staged)


def files_prepare_detached(changes: list[Change], *, hardlink: bool) -> list[Prepared]:
    """`files_prepare` in a worker process: the results go back `detached`, in the order of `changes`."""
    return [prepared.detached() for prepared in files_prepare(changes, hardlink=hardlink)]


def files_prepare(changes: list[Change], *, hardlink: bool) -> list[Prepared]:
    """`file_prepare` for a chunk of files, here in the worker, in parallel with the process that writes the
    previous batch; the chunk's copies are then made durable together. A copy that could not be made durable
    is removed and reported as that file's failure."""
    trim = cover_trimmer()  # a chunk is mostly one or two albums: most pictures need not travel back at all
    folders: dict[str, Path] = {}
    prepared = [trim(file_prepare(change, hardlink=hardlink, folders=folders)) for change in changes]
    staged = [ready.staged for ready in prepared if ready.staged is not None]
    try:
        storage.sync_paths(item.location for item in staged)
    except OSError as exc:
        for item in staged:
            item.discard()
        return [replace(ready, staged=None, stage_error=exc) if ready.staged else ready for ready in prepared]
    return prepared
