"""Opaque, stable ids with a kind prefix: `ar-12`, `al-3`, `tr-45`, `pl-7`, `ir-2`, `sh-9`.

Only `[a-z0-9-]` is used so an id is safe in a URL and as a file name (Amperfy caches covers by id). The prefix
lets `getCoverArt`, `star`, `getMusicDirectory` and `download` tell kinds apart without a lookup.

Items of an external catalogue not (yet) in the library have `ext-<code>-<the source's own id>` ids: `ext-yt-`
a song, `ext-yta-` an album, `ext-ytr-` an artist of YouTube Music. Once an external song is downloaded its id
keeps naming the library track (players cache ids), so `decode` resolves it like a `tr-` id.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from enum import StrEnum

from library.selectors import track_pk_by_source
from sources.base import EXTERNAL_ID_PATTERN, ExternalItem, ResultKind
from subsonic.errors import ErrorCode, SubsonicError


class Kind(StrEnum):
    ARTIST = "ar"
    ALBUM = "al"
    TRACK = "tr"
    PLAYLIST = "pl"
    RADIO = "ir"
    SHARE = "sh"


# Our prefixes, plus other servers' spellings that clients synthesise (Navidrome's media-file covers are `mf-`).
_BY_PREFIX = {kind.value: kind for kind in Kind} | {"mf": Kind.TRACK}
_ID = re.compile(r"^([a-z]{2})-(\d{1,18})$")
# Substreamer strips, and other servers append, a `_<hex>` cache-buster to cover ids.
_COVER_SUFFIX = re.compile(r"_[0-9a-fA-F]+$")


# The sources whose catalogue players may browse, by the short code in their ids (one source alias per code), and
# the letter each kind adds to the code (one per kind of `downloads.services.catalogue.CATALOGUE_KINDS`).
EXTERNAL_SOURCES = {"yt": "youtube"}
_EXTERNAL_KINDS = {"": ResultKind.SONG, "a": ResultKind.ALBUM, "r": ResultKind.ARTIST}
_EXTERNAL_BY_CODE = {
    code + letter: (alias, kind) for code, alias in EXTERNAL_SOURCES.items() for letter, kind in _EXTERNAL_KINDS.items()
}
_EXTERNAL_CODES = {key: code for code, key in _EXTERNAL_BY_CODE.items()}
EXTERNAL_PREFIX = "ext-"
_EXTERNAL_ID = re.compile(rf"^ext-([a-z0-9]{{1,8}})-({EXTERNAL_ID_PATTERN})$")
_WELL_FORMED_ITEM_ID = re.compile(rf"^{EXTERNAL_ID_PATTERN}$")


class ExternalNotInLibraryError(SubsonicError):
    """An external item the library does not hold: not found (70) wherever only library items are served."""

    def __init__(self, ref: ExternalItem) -> None:
        super().__init__(
            ErrorCode.NOT_FOUND, f"{ref.kind.title()} {ref.external_id!r} of {ref.source} is not in the library"
        )
        self.ref = ref


def external_id(source: str, kind: ResultKind, item_id: str) -> str | None:
    """The `ext-` id of a source's item; None when players cannot name that source's items of this kind, or this
    item (an id with characters no `ext-` id may hold)."""
    code = _EXTERNAL_CODES.get((source, kind))
    if code is None or not _WELL_FORMED_ITEM_ID.match(item_id):
        return None
    return f"{EXTERNAL_PREFIX}{code}-{item_id}"


def external_ref(raw: str) -> ExternalItem | None:
    """The item an `ext-` id names (whether or not the source is enabled); None for any other id, error 70 for an
    `ext-` id that is malformed or of an unknown source."""
    text = raw.strip()
    if not text.startswith(EXTERNAL_PREFIX):
        return None
    match = _EXTERNAL_ID.match(text)
    found = _EXTERNAL_BY_CODE.get(match.group(1)) if match is not None else None
    if match is None or found is None:
        raise SubsonicError(ErrorCode.NOT_FOUND, f"Unknown external id: {raw[:64]!r}")
    return ExternalItem(source=found[0], kind=found[1], external_id=match.group(2))


def external_item_id(item: ExternalItem) -> str:
    """The `ext-` id of an item a player named by one (any other item: its source's own id)."""
    return external_id(item.source, item.kind, item.external_id) or item.external_id


def encode(kind: Kind, pk: int) -> str:
    return f"{kind.value}-{pk}"


# The three ids of every list item are spelled out (not via `encode`): they are formatted thousands of times a page.
def artist_id(pk: int) -> str:
    return f"ar-{pk}"


def album_id(pk: int) -> str:
    return f"al-{pk}"


def track_id(pk: int) -> str:
    return f"tr-{pk}"


def playlist_id(pk: int) -> str:
    return encode(Kind.PLAYLIST, pk)


def decode(raw: str, *, allowed: Collection[Kind], bare: Kind | None = None) -> tuple[Kind, int]:
    """Split an id into kind and primary key. A bare number is read as `bare` (some clients turn ids into
    integers). Anything malformed or of a kind the endpoint does not take is "not found" (70)."""
    text = raw.strip()
    if bare is not None and text.isdigit() and len(text) <= 18:
        return bare, int(text)
    ref = external_ref(text)
    if ref is not None:
        return Kind.TRACK, _library_track_pk(ref, allowed)
    match = _ID.match(text)
    if match is not None:
        kind = _BY_PREFIX.get(match.group(1))
        if kind is not None and kind in allowed:
            return kind, int(match.group(2))
    raise SubsonicError(ErrorCode.NOT_FOUND, f"Unknown id: {raw[:64]!r}")


def _library_track_pk(ref: ExternalItem, allowed: Collection[Kind]) -> int:
    if ref.kind is ResultKind.SONG and Kind.TRACK in allowed:
        pk = track_pk_by_source(source=ref.source, source_id=ref.external_id)
        if pk is not None:
            return pk
    raise ExternalNotInLibraryError(ref)


def decode_or_external(
    raw: str, *, allowed: Collection[Kind], bare: Kind | None = None
) -> tuple[Kind, int] | ExternalItem:
    """`decode`, except that an external item the library does not hold is returned as what it is (for the
    endpoints that act on external items too)."""
    try:
        return decode(raw, allowed=allowed, bare=bare)
    except ExternalNotInLibraryError as missing:
        return missing.ref


def decode_as(raw: str, kind: Kind) -> int:
    return decode(raw, allowed=(kind,), bare=kind)[1]


def decode_cover(raw: str) -> tuple[Kind, int]:
    text = raw.strip()
    return decode(
        text if text.startswith(EXTERNAL_PREFIX) else _COVER_SUFFIX.sub("", text),
        allowed=(Kind.ALBUM, Kind.ARTIST, Kind.TRACK, Kind.PLAYLIST),
        bare=Kind.ALBUM,
    )
