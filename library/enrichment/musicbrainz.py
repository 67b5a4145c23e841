"""MusicBrainz: a recording looked up by id over the JSON web service (ws/2), as a plain dataclass.

Plain JSON over requests rather than musicbrainzngs: musicbrainzngs (last release 2020) parses the XML service,
keeps its host and its rate limiter in process-wide globals, so neither the origin setting nor a limit shared by
every worker process could be honoured without patching it. requests is already a dependency.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings

from library import remote
from library.enrichment.errors import (
    MetadataNotFoundError,
    MetadataRecordIncompleteError,
    MetadataServiceUnavailableError,
)

SERVICE = "musicbrainz"
_INCLUDES = "artists+artist-credits+releases+release-groups+media+isrcs+genres"
# Genres MusicBrainz users voted for at least this often, most voted first, at most this many.
_GENRE_MIN_VOTES = 1
_GENRE_LIMIT = 5


@dataclass(frozen=True)
class Credit:
    name: str
    artist_id: str
    join_phrase: str = ""


@dataclass(frozen=True)
class Release:
    id: str
    title: str
    status: str
    date: str  # YYYY, YYYY-MM or YYYY-MM-DD, or ""
    credit: tuple[Credit, ...]
    release_group_id: str
    release_type: str  # "album", "album + compilation" …
    first_release_date: str
    track_id: str
    track_number: int | None
    disc_number: int | None


@dataclass(frozen=True)
class Recording:
    id: str
    title: str
    credit: tuple[Credit, ...]
    isrcs: tuple[str, ...]
    genres: tuple[str, ...]
    releases: tuple[Release, ...]


def credit_display(credit: tuple[Credit, ...]) -> str:
    """The credit as MusicBrainz shows it: "A feat. B"."""
    return "".join(part.name + part.join_phrase for part in credit).strip()


def recording_get(recording_id: str) -> Recording:
    data = remote.get_json(
        f"{settings.MUSICBRAINZ_URL.rstrip('/')}/ws/2/recording/{recording_id}",
        service=SERVICE,
        timeout=settings.METADATA_TIMEOUT_SECONDS,
        interval=settings.MUSICBRAINZ_MIN_INTERVAL_SECONDS,
        params={"inc": _INCLUDES, "fmt": "json"},
        unavailable=MetadataServiceUnavailableError,
    )
    if data is None:
        raise MetadataNotFoundError("MusicBrainz has no such recording (HTTP 404)")
    return _recording(data, asked=recording_id)


def _recording(data: dict[str, Any], *, asked: str) -> Recording:
    missing = [name for name in ("id", "title") if not _text(data.get(name))]
    credit = _credit(data.get("artist-credit"))
    if not credit:
        missing.append("artist-credit")
    if missing:
        raise MetadataRecordIncompleteError(
            f"MusicBrainz recording {asked} lacks {', '.join(missing)}", details={"missing": missing}
        )
    genres = sorted(
        (g for g in _dicts(data.get("genres")) if _text(g.get("name")) and _count(g) >= _GENRE_MIN_VOTES),
        key=lambda g: (-_count(g), _text(g.get("name"))),
    )
    return Recording(
        id=_text(data["id"]),
        title=_text(data["title"]),
        credit=credit,
        isrcs=tuple(isrc for isrc in (data.get("isrcs") or ()) if isinstance(isrc, str) and isrc),
        genres=tuple(_text(g["name"]) for g in genres[:_GENRE_LIMIT]),
        releases=tuple(release for item in _dicts(data.get("releases")) if (release := _release(item)) is not None),
    )


def _release(data: dict[str, Any]) -> Release | None:
    """A release of the recording, or None when it lacks an id or a title (then it is not offered)."""
    if not _text(data.get("id")) or not _text(data.get("title")):
        return None
    group = _dict(data.get("release-group"))
    track_id, track_number, disc_number = "", None, None
    for medium in _dicts(data.get("media")):
        for track in _dicts(medium.get("tracks") or medium.get("track")):
            track_id = _text(track.get("id"))
            track_number = _positive(track.get("position")) or _positive(track.get("number"))
            disc_number = _positive(medium.get("position"))
            break
        if track_id:
            break
    kinds = [_text(group.get("primary-type")), *(_text(kind) for kind in group.get("secondary-types") or ())]
    return Release(
        id=_text(data["id"]),
        title=_text(data["title"]),
        status=_text(data.get("status")),
        date=_text(data.get("date"))[:10],
        credit=_credit(data.get("artist-credit")),
        release_group_id=_text(group.get("id")),
        release_type=" + ".join(kind.lower() for kind in kinds if kind)[:100],
        first_release_date=_text(group.get("first-release-date"))[:10],
        track_id=track_id,
        track_number=track_number,
        disc_number=disc_number,
    )


def _credit(value: Any) -> tuple[Credit, ...]:
    parts = []
    for item in _dicts(value):
        artist = _dict(item.get("artist"))
        name = _text(item.get("name")) or _text(artist.get("name"))
        if not name:
            return ()
        parts.append(
            Credit(name=name, artist_id=_text(artist.get("id")), join_phrase=_text(item.get("joinphrase"), strip=False))
        )
    return tuple(parts)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _text(value: Any, *, strip: bool = True) -> str:
    if not isinstance(value, str):
        return ""
    return value.strip() if strip else value


def _count(genre: dict[str, Any]) -> int:
    count = genre.get("count")
    return count if isinstance(count, int) else 0


def _positive(value: Any) -> int | None:
    number = value if isinstance(value, int) else int(value) if isinstance(value, str) and value.isdigit() else None
    return number if number is not None and 0 < number <= 32767 else None
