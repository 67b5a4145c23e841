"""Phase 3: read the tags of the new and changed files of a batch.

A changed file whose bytes still match the stored checksum was only touched: its tags are not read again.
Every failure is per file (`UnreadableAudioError`, or an I/O error while hashing) and never stops the batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

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


def read_batch(changes: Iterable[Change]) -> Iterator[Read | Touched | Unreadable]:
    # Embedded pictures can be megabytes each; only the first track of an album keeps its bytes (for the
    # album's cover), so a batch of hi-res albums stays small in memory.
    cover_kept: set[tuple[str, str]] = set()
    for change in changes:
        candidate = change.candidate
        try:
            if candidate.size == 0:
                raise UnreadableAudioError("the file is empty (0 bytes)")
            # New files are hashed while they are copied; only known ones need the hash now, to spot a touch.
            if change.known is not None and change.known.checksum == file_checksum(candidate.path):
                yield Touched(change)
                continue
            tags = read_tags(candidate.path)
            if tags.cover is not None:
                album_key = (album_artist_name(tags).casefold(), tags.album.casefold())
                if album_key in cover_kept:
                    tags = tags.without_cover()
                cover_kept.add(album_key)
            yield Read(change, tags)
        except UnreadableAudioError as exc:
            yield Unreadable(change, exc.message)
        except OSError as exc:
            yield Unreadable(change, f"cannot read the file: {exc.strerror or exc}")
