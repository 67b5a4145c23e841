"""What a source backend is: a name, a health check and a set of capabilities, each a one-method protocol.

Backends are plain classes built by `sources.registry` from `settings.MCMA_SOURCES`; callers ask the registry for a
source, check `capabilities` (or `isinstance` against a runtime-checkable protocol) and call the one method they
need. Results cross this boundary as frozen dataclasses, never as a backend library's own objects.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Protocol, runtime_checkable

from library.storage import StoreMode


class Capability(StrEnum):
    IMPORT = "import"
    SEARCH = "search"
    DOWNLOAD = "download"


@dataclass(frozen=True)
class SourceHealth:
    available: bool
    message: str = ""
    details: dict[str, object] = field(default_factory=dict)


class ResultKind(StrEnum):
    SONG = "song"
    ALBUM = "album"
    PLAYLIST = "playlist"
    ARTIST = "artist"


# A source's own id of an item, as this server accepts it anywhere (download requests, players' `ext-` ids): the
# characters that are safe in a URL and a file name.
EXTERNAL_ID_PATTERN = "[A-Za-z0-9_-]{1,255}"


@dataclass(frozen=True)
class ExternalItem:
    """An item of a source's catalogue, whichever protocol named it: the source's alias, its kind, its own id."""

    source: str
    kind: ResultKind
    external_id: str


@dataclass(frozen=True)
class SearchResult:
    """One hit of an external search, in the shape shared by every source."""

    source: str
    kind: ResultKind
    external_id: str
    title: str
    artists: tuple[str, ...] = ()
    album: str = ""
    # The song's album on the source ("" when it has none, or for other kinds).
    album_id: str = ""
    duration_ms: int | None = None
    year: int | None = None
    explicit: bool | None = None
    thumbnail_url: str = ""
    # A song's identity beyond the source, when the source knows it: the library may hold the same recording.
    isrc: str = ""
    musicbrainz_recording_id: str = ""
    # Source-specific facts (e.g. YouTube videoType) that callers may show but never use for identity.
    extra: Mapping[str, object] = field(default_factory=dict)


@runtime_checkable
class Source(Protocol):
    name: str
    capabilities: frozenset[Capability]
    # Switched on by its settings; a disabled source is listed nowhere a user browses (Subsonic music folders).
    enabled: bool

    def health(self) -> SourceHealth: ...


@runtime_checkable
class FolderImportable(Protocol):
    """A source whose music is a folder tree the scanner walks (Capability.IMPORT)."""

    def import_root(self) -> Path:
        """The resolved root folder; raises `SourceUnavailableError` when it is not usable."""
        ...

    def import_mode(self) -> StoreMode:
        """How the scanner puts this folder's files into managed storage ("hardlink" is tried on the same
        filesystem only, falling back to a copy)."""
        ...


@runtime_checkable
class Searchable(Protocol):
    """A source that answers text searches (Capability.SEARCH)."""

    def search(self, *, query: str, kind: ResultKind | None = None, limit: int = 20) -> Sequence[SearchResult]: ...


@dataclass(frozen=True)
class ArtistMetadata:
    """An artist of a source's catalogue: what its page lists (albums and singles, top songs), as search hits."""

    source: str
    external_id: str
    name: str
    biography: str = ""
    image_url: str = ""
    albums: tuple[SearchResult, ...] = ()
    top_songs: tuple[SearchResult, ...] = ()


@runtime_checkable
class ArtistBrowsable(Protocol):
    """A source whose artists can be browsed: their albums and top songs."""

    def resolve_artist(self, *, external_id: str) -> ArtistMetadata: ...
