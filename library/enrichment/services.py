"""Identification of tracks: find the MusicBrainz recording, change what a confident match says, record it.

A track moves `pending` → `enriched` (a confident match was applied), `unmatched` (nothing confident, or the
record is incomplete; `metadata_reason` says which) or `failed` (the file could not be fingerprinted, or a service
gave an answer that can never work). A service that is down or rate-limiting raises
MetadataServiceUnavailableError and leaves the track pending: the task retries it later, no work is dropped.

Tracks tagged with a MusicBrainz recording id are looked up by it; the others are fingerprinted and looked up on
AcoustID, and only a score at or above METADATA_MATCH_THRESHOLD changes anything. Each applied match is a
TrackEnrichment with every changed field's old and new value, so `enrichment_revert` can put them back; fields in
`Track.edited_fields` (edited by hand) are never written.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as KombuOperationalError

from library import storage
from library.enrichment import acoustid, musicbrainz, tagging
from library.enrichment.errors import (
    FingerprintError,
    MetadataAnswerMalformedError,
    MetadataNotFoundError,
    MetadataRecordIncompleteError,
)
from library.ingest import identity, refresh
from library.models import Album, ArtistRole, MetadataStatus, Track, TrackArtist, TrackEnrichment
from library.remote import RemoteMalformedError, RemoteRefusedError
from library.text import fold, sort_name
from mcma.errors import InvalidInputError, NotFoundError

logger = logging.getLogger(__name__)

# Every field identification may change, in the order it writes them. "artist" covers the artist, the credit
# shown and the credited artists; "album" the album the track files under (its artist, name and release id).
ENRICHED_FIELDS = (
    "title",
    "artist",
    "album",
    "track_number",
    "disc_number",
    "year",
    "date",
    "genres",
    "isrc",
    "musicbrainz_recording_id",
    "musicbrainz_track_id",
    "musicbrainz_release_id",
    "musicbrainz_artist_id",
    "musicbrainz_album_artist_id",
)
# Admin form fields that stand for one of ENRICHED_FIELDS when edited by hand.
_EDIT_ALIASES = {"artist_display": "artist", "sort_title": "title"}
TASK_NAME = "library.enrich_tracks"
TASK_BATCH = 50


@dataclass(frozen=True)
class EnrichmentOutcome:
    track_id: int
    status: MetadataStatus
    reason: str = ""
    changed: tuple[str, ...] = ()


@dataclass
class EnrichmentSummary:
    outcomes: list[EnrichmentOutcome] = field(default_factory=list)

    def count(self, status: MetadataStatus) -> int:
        return sum(1 for outcome in self.outcomes if outcome.status == status)


# ---------------------------------------------------------------------------------------------------------------
# Enqueueing (after an import and a download)
# ---------------------------------------------------------------------------------------------------------------
def enrichment_enabled() -> bool:
    return settings.MUSICBRAINZ_ENABLED


def enrichment_enqueue(*, track_ids: Sequence[int] | None = None) -> None:
    """Identify these tracks (None: every pending one) in a worker, once the current transaction commits.
    Does nothing while MUSICBRAINZ_ENABLED is off; a broker that is down leaves them pending for `enrich`."""
    if not enrichment_enabled():
        return
    ids = list(track_ids) if track_ids is not None else None
    transaction.on_commit(lambda: _send(ids))


def _send(track_ids: list[int] | None) -> None:
    batches: list[list[int] | None] = (
        [None]
        if track_ids is None
        else [track_ids[start : start + TASK_BATCH] for start in range(0, len(track_ids), TASK_BATCH)]
    )
    try:
        for batch in batches:
            current_app.send_task(TASK_NAME, args=[batch])
    except (KombuOperationalError, OSError) as exc:
        logger.warning("broker unavailable: tracks stay pending for `manage.py enrich --pending`: %s", exc)


# ---------------------------------------------------------------------------------------------------------------
# Identification
# ---------------------------------------------------------------------------------------------------------------
def tracks_enrich(
    *, track_ids: Iterable[int], on_track: Callable[[EnrichmentOutcome], None] | None = None
) -> EnrichmentSummary:
    """Identify each track in turn. MetadataServiceUnavailableError stops the run (the rest stay as they were)."""
    summary = EnrichmentSummary()
    for track_id in track_ids:
        outcome = track_enrich(track_id=track_id)
        summary.outcomes.append(outcome)
        if on_track is not None:
            on_track(outcome)
    return summary


def track_enrich(*, track_id: int) -> EnrichmentOutcome:
    if not enrichment_enabled():
        raise InvalidInputError("Identification is off: set MUSICBRAINZ_ENABLED=true.")
    track = _track(track_id)
    try:
        recording, score, reason = _identify(track)
    except (MetadataRecordIncompleteError, MetadataNotFoundError) as exc:
        return _leave(track, MetadataStatus.UNMATCHED, exc.message)
    except (FingerprintError, MetadataAnswerMalformedError) as exc:
        return _leave(track, MetadataStatus.FAILED, exc.message)
    except (RemoteMalformedError, RemoteRefusedError) as exc:  # the same question would get the same answer
        return _leave(track, MetadataStatus.FAILED, str(exc))
    if recording is None:
        return _leave(track, MetadataStatus.UNMATCHED, reason)
    return _apply(track, recording, score)


def _track(track_id: int) -> Track:
    track = Track.objects.select_related("album__album_artist", "artist").filter(pk=track_id).first()
    if track is None:
        raise NotFoundError(f"Track {track_id} does not exist.", details={"track_id": track_id})
    return track


def _identify(track: Track) -> tuple[musicbrainz.Recording | None, float, str]:
    if track.musicbrainz_recording_id:
        return musicbrainz.recording_get(track.musicbrainz_recording_id), 1.0, ""
    if not settings.ACOUSTID_API_KEY:
        return None, 0.0, "no MusicBrainz recording id in the tags, and no ACOUSTID_API_KEY to fingerprint with"
    matches = acoustid.lookup(acoustid.fingerprint(storage.media_path(track.path)))
    if not matches:
        return None, 0.0, "AcoustID knows no recording with this fingerprint"
    best = matches[0]
    threshold = settings.METADATA_MATCH_THRESHOLD
    if best.score < threshold:
        return None, best.score, f"best AcoustID match scores {best.score:.2f}, below the threshold {threshold:.2f}"
    return musicbrainz.recording_get(best.recording_id), best.score, ""


def _leave(track: Track, status: MetadataStatus, reason: str) -> EnrichmentOutcome:
    Track.objects.filter(pk=track.pk).update(metadata_status=status, metadata_reason=reason[:500])
    return EnrichmentOutcome(track_id=track.pk, status=status, reason=reason)


def _release_choose(track: Track, recording: musicbrainz.Recording) -> musicbrainz.Release | None:
    """The release the track most likely comes from: one its album-mates were already matched to (so a release's
    tracks stay one album), then one named like its album, then an album (not a single), then an official one,
    then the earliest."""
    if not recording.releases:
        return None
    siblings = set(
        Track.objects.filter(album_id=track.album_id)
        .exclude(pk=track.pk)
        .exclude(musicbrainz_release_id="")
        .values_list("musicbrainz_release_id", flat=True)
    )
    album_key = fold(track.album.name)

    def rank(release: musicbrainz.Release) -> tuple[bool, bool, bool, bool, str]:
        return (
            release.id not in siblings,
            fold(release.title) != album_key,
            not release.release_type.startswith("album"),
            release.status.lower() != "official",
            release.date or "9999",
        )

    return min(recording.releases, key=rank)


def _wanted(recording: musicbrainz.Recording, release: musicbrainz.Release | None) -> dict[str, Any]:
    primary = recording.credit[0]
    wanted: dict[str, Any] = {
        "title": recording.title[:500],
        "artist": _artist_value(
            primary.name, primary.artist_id, musicbrainz.credit_display(recording.credit), recording.credit
        ),
        "genres": list(recording.genres) or None,
        "isrc": recording.isrcs[0][:15] if recording.isrcs else None,
        "musicbrainz_recording_id": recording.id,
        "musicbrainz_artist_id": primary.artist_id or None,
    }
    if release is not None:
        album_credit = release.credit or recording.credit
        wanted.update(
            album={
                "name": release.title[:500],
                "artist": musicbrainz.credit_display(album_credit)[:500],
                "artist_musicbrainz_id": album_credit[0].artist_id if len(album_credit) == 1 else "",
                "release_id": release.id,
            },
            track_number=release.track_number,
            disc_number=release.disc_number,
            date=release.date or None,
            year=_year(release.date),
            musicbrainz_release_id=release.id,
            musicbrainz_track_id=release.track_id or None,
            musicbrainz_album_artist_id=album_credit[0].artist_id if len(album_credit) == 1 else None,
        )
    return wanted


def _artist_value(name: str, artist_id: str, display: str, credit: Sequence[musicbrainz.Credit]) -> dict[str, Any]:
    return {
        "name": name[:500],
        "musicbrainz_id": artist_id,
        "display": display[:1000],
        "credits": [
            [part.name[:500], part.artist_id, ArtistRole.PRIMARY if i == 0 else ArtistRole.FEATURED]
            for i, part in enumerate(credit)
        ],
    }


def _year(date: str) -> int | None:
    return int(date[:4]) if len(date) >= 4 and date[:4].isdigit() and int(date[:4]) > 0 else None


@transaction.atomic
def _apply(track: Track, recording: musicbrainz.Recording, score: float) -> EnrichmentOutcome:
    release = _release_choose(track, recording)
    old_album_id, old_artist_id = track.album_id, track.artist_id
    edited = set(track.edited_fields or ())
    changes: dict[str, list[Any]] = {}
    for name, new in _wanted(recording, release).items():
        if new is None or name in edited:
            continue
        old = _current(track, name)
        if old != new:
            changes[name] = [old, new]
            _write(track, name, new)
    track.metadata_status = MetadataStatus.ENRICHED
    track.metadata_reason = f"recording {recording.id}, score {score:.2f}"
    track.save()
    if release is not None:
        _album_facts_fill(track.album_id, release)
    _refresh(track, {old_album_id, track.album_id}, {old_artist_id, track.artist_id})
    TrackEnrichment.objects.create(
        track=track,
        musicbrainz_recording_id=recording.id,
        musicbrainz_release_id=release.id if release else "",
        score=score,
        changes=changes,
    )
    if changes and settings.METADATA_WRITE_TAGS:
        transaction.on_commit(lambda: tagging.track_tags_write(track_id=track.pk))
    return EnrichmentOutcome(
        track_id=track.pk, status=MetadataStatus.ENRICHED, reason=track.metadata_reason, changed=tuple(changes)
    )


def _album_facts_fill(album_id: int, release: musicbrainz.Release) -> None:
    """What the release says about the album, where the album does not say it yet."""
    album = Album.objects.get(pk=album_id)
    facts = {
        "musicbrainz_release_group_id": release.release_group_id,
        "release_type": release.release_type,
        "release_date": release.date,
        "original_year": _year(release.first_release_date),
        "is_compilation": "compilation" in release.release_type or None,
    }
    blank = {name: value for name, value in facts.items() if value and not getattr(album, name)}
    if blank:
        Album.objects.filter(pk=album_id).update(**blank)


def _refresh(track: Track, album_ids: set[int], artist_ids: set[int]) -> None:
    album_artists = Album.objects.filter(pk__in=album_ids).values_list("album_artist_id", flat=True)
    refresh.albums_refresh(album_ids)
    refresh.artists_refresh({*artist_ids, *album_artists})


# ---------------------------------------------------------------------------------------------------------------
# Field values: read in the form they are recorded in, and written back from it
# ---------------------------------------------------------------------------------------------------------------
def _current(track: Track, name: str) -> Any:
    if name == "artist":
        credits = [
            [credit.artist.name, credit.artist.musicbrainz_id, credit.role]
            for credit in track.artist_credits.select_related("artist").order_by("position")
        ]
        return {
            "name": track.artist.name,
            "musicbrainz_id": track.artist.musicbrainz_id,
            "display": track.artist_display,
            "credits": credits,
        }
    if name == "album":
        album = track.album
        return {
            "name": album.name,
            "artist": album.album_artist.name,
            "artist_musicbrainz_id": album.album_artist.musicbrainz_id,
            "release_id": album.musicbrainz_release_id,
        }
    if name == "genres":
        return sorted(track.genres.values_list("name", flat=True))
    return getattr(track, name)


def _write(track: Track, name: str, value: Any) -> None:
    if name == "title":
        track.title, track.title_key, track.sort_title = value, fold(value)[:500], sort_name(value)[:500]
    elif name == "artist":
        _artist_write(track, value)
    elif name == "album":
        album_artist = identity.artist_resolve(name=value["artist"], musicbrainz_id=value["artist_musicbrainz_id"])
        track.album = identity.album_resolve(
            album_artist=album_artist, name=value["name"], musicbrainz_release_id=value["release_id"]
        )
    elif name == "genres":
        track.genres.set(identity.genres_resolve(value))
    elif name == "disc_number":
        track.disc_number = value or 1
    else:
        setattr(track, name, value)


def _artist_write(track: Track, value: dict[str, Any]) -> None:
    track.artist = identity.artist_resolve(name=value["name"], musicbrainz_id=value["musicbrainz_id"])
    track.artist_display = value["display"] or track.artist.name
    rows, seen = [], set()
    for position, (name, artist_id, role) in enumerate(value["credits"]):
        artist = track.artist if position == 0 else identity.artist_resolve(name=name, musicbrainz_id=artist_id)
        if (artist.pk, role) not in seen:
            seen.add((artist.pk, role))
            rows.append(TrackArtist(track=track, artist=artist, role=role, position=position))
    TrackArtist.objects.filter(track=track).delete()
    TrackArtist.objects.bulk_create(rows)


# ---------------------------------------------------------------------------------------------------------------
# Revert and hand edits
# ---------------------------------------------------------------------------------------------------------------
@transaction.atomic
def enrichment_revert(*, track_id: int) -> TrackEnrichment:
    """Put back what the track's latest enrichment changed, except fields edited by hand since then."""
    track = _track(track_id)
    enrichment = track.enrichments.filter(reverted_at__isnull=True).first()
    if enrichment is None:
        raise NotFoundError(f"Track {track_id} has no enrichment to revert.", details={"track_id": track_id})
    old_album_id, old_artist_id = track.album_id, track.artist_id
    edited = set(track.edited_fields or ())
    for name, (old, _new) in enrichment.changes.items():
        if name not in edited and name in ENRICHED_FIELDS:
            _write(track, name, old)
    track.metadata_status = MetadataStatus.UNMATCHED
    track.metadata_reason = f"enrichment from recording {enrichment.musicbrainz_recording_id} reverted"
    track.save()
    _refresh(track, {old_album_id, track.album_id}, {old_artist_id, track.artist_id})
    enrichment.reverted_at = timezone.now()
    enrichment.save(update_fields=["reverted_at"])
    if enrichment.changes and settings.METADATA_WRITE_TAGS:
        transaction.on_commit(lambda: tagging.track_tags_write(track_id=track.pk))
    return enrichment


# What a hand edit over the REST API may change: the names of the fields identification fills in.
EDITABLE_FIELDS = ("title", "artist", "album", "year", "genres", "track_number", "disc_number")


@transaction.atomic
def track_edit(*, track_id: int, changes: dict[str, Any]) -> Track:
    """Write these hand-edited values (EDITABLE_FIELDS; "artist" and "album" as names, "genres" as a list of
    names) and record the fields in `edited_fields`, so identification never overwrites them."""
    unknown = sorted(set(changes) - set(EDITABLE_FIELDS))
    if unknown or not changes:
        raise InvalidInputError(
            f"Editable fields are {', '.join(EDITABLE_FIELDS)}; got {', '.join(unknown) or 'none'}.",
            details={"fields": unknown},
        )
    track = _track(track_id)
    old_album_id, old_artist_id = track.album_id, track.artist_id
    for name, value in changes.items():
        _write(track, name, _edited_value(track, name, value))
    track.save()
    _refresh(track, {old_album_id, track.album_id}, {old_artist_id, track.artist_id})
    track_edited_fields_record(track=track, field_names=changes)
    return track


def _edited_value(track: Track, name: str, value: Any) -> Any:
    """A hand-edited value in the form `_write` takes. A renamed artist loses its MusicBrainz id (it named the
    old one); a renamed album keeps its album artist and release id (a typo fixed is still that release)."""
    if name == "artist":
        musicbrainz_id = track.artist.musicbrainz_id if value == track.artist.name else ""
        return {
            "name": value,
            "musicbrainz_id": musicbrainz_id,
            "display": value,
            "credits": [[value, musicbrainz_id, ArtistRole.PRIMARY]],
        }
    if name == "album":
        album = track.album
        return {
            "name": value,
            "artist": album.album_artist.name,
            "artist_musicbrainz_id": album.album_artist.musicbrainz_id,
            "release_id": album.musicbrainz_release_id,
        }
    return value


def track_edited_fields_record(*, track: Track, field_names: Iterable[str]) -> None:
    """Remember that these fields of the track were edited by hand, so identification leaves them alone."""
    names = {_EDIT_ALIASES.get(name, name) for name in field_names} & set(ENRICHED_FIELDS)
    if not names - set(track.edited_fields or ()):
        return
    track.edited_fields = sorted(names | set(track.edited_fields or ()))
    Track.objects.filter(pk=track.pk).update(edited_fields=track.edited_fields)
