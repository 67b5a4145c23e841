"""Opaque, stable ids with a kind prefix: `ar-12`, `al-3`, `tr-45`, `pl-7`, `ir-2`, `sh-9`.

Only `[a-z0-9-]` is used so an id is safe in a URL and as a file name (Amperfy caches covers by id). The prefix
lets `getCoverArt`, `star`, `getMusicDirectory` and `download` tell kinds apart without a lookup.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from enum import StrEnum

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
    match = _ID.match(text)
    if match is not None:
        kind = _BY_PREFIX.get(match.group(1))
        if kind is not None and kind in allowed:
            return kind, int(match.group(2))
    raise SubsonicError(ErrorCode.NOT_FOUND, f"Unknown id: {raw[:64]!r}")


def decode_as(raw: str, kind: Kind) -> int:
    return decode(raw, allowed=(kind,), bare=kind)[1]


def decode_cover(raw: str) -> tuple[Kind, int]:
    return decode(
        _COVER_SUFFIX.sub("", raw.strip()),
        allowed=(Kind.ALBUM, Kind.ARTIST, Kind.TRACK, Kind.PLAYLIST),
        bare=Kind.ALBUM,
    )
