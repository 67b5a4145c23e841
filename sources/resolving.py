"""What a downloadable source tells the download pipeline: full track metadata and collection listings.

Kept apart from `sources.base` (the registry's core protocols) because only sources with Capability.DOWNLOAD
implement it. Results are frozen dataclasses so no backend library object leaks into `downloads/`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from mcma.errors import UpstreamError
from sources.base import ResultKind


@dataclass(frozen=True)
class TrackMetadata:
    """Everything needed to tag and file one downloaded track."""

    external_id: str
    title: str
    artists: tuple[str, ...]
    album: str = ""
    album_artists: tuple[str, ...] = ()
    album_id: str = ""
    track_number: int | None = None
    track_total: int | None = None
    disc_number: int | None = None
    year: int | None = None
    duration_ms: int | None = None
    explicit: bool | None = None
    cover_url: str = ""
    lyrics: str = ""
    # A user upload or a video without an album: the tags are a guess and the UI should say so.
    low_confidence: bool = False
    extra: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class CollectionTrack:
    """One (available) track of an album or playlist, as the collection lists it."""

    external_id: str
    title: str
    artists: tuple[str, ...] = ()
    duration_ms: int | None = None
    track_number: int | None = None
    explicit: bool | None = None


@dataclass(frozen=True)
class CollectionMetadata:
    """An album or playlist: its own facts plus its (available) tracks, in order."""

    kind: ResultKind
    external_id: str
    title: str
    artists: tuple[str, ...] = ()
    year: int | None = None
    tracks: tuple[CollectionTrack, ...] = ()
    cover_url: str = ""
    extra: Mapping[str, object] = field(default_factory=dict)

    @property
    def track_ids(self) -> tuple[str, ...]:
        return tuple(track.external_id for track in self.tracks)


@dataclass(frozen=True)
class MediaRequest:
    """Where the media of one track lives and what the downloader needs to fetch it."""

    url: str
    # A checked cookies file, or None when the source is configured without cookies.
    cookies_file: str | None = None


@runtime_checkable
class Resolvable(Protocol):
    """A source whose items can be downloaded by the pipeline in `downloads/` (Capability.DOWNLOAD)."""

    def resolve_track(self, *, external_id: str) -> TrackMetadata: ...

    def resolve_collection(self, *, kind: ResultKind, external_id: str) -> CollectionMetadata: ...

    def media_request(self, *, external_id: str) -> MediaRequest: ...

    def fetch_image(self, *, url: str) -> tuple[bytes, str]: ...

    def reference_from_url(self, url: str) -> tuple[ResultKind, str] | None: ...


class SourceRequestError(UpstreamError):
    """A call to an external source failed. Carries the facts the download error classifier needs."""

    code = "source_request_failed"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        network: bool = False,
        layout_changed: bool = False,
        details: dict[str, object] | None = None,
    ) -> None:
        super().__init__(message, details=details)
        self.status = status
        # The request never got an answer (connection refused, timeout, reset).
        self.network = network
        # The answer came but no longer has the shape the parser expects: an upgrade of the client is needed.
        self.layout_changed = layout_changed


class CookiesConfigError(SourceRequestError):
    """The configured cookies file is unusable (missing, unreadable, not a file, or readable by others)."""

    code = "cookies_config"
