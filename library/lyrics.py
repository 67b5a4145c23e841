"""Lyrics: the `.lrc`/`.txt` sidecars a scan finds beside a track, LRCLIB for songs with
none, and the choice among them by LYRICS_PRIORITY (like Navidrome's LyricsPriority).

Embedded lyrics stay on `Track` (written by the import from the tags); everything else is a `TrackLyrics` row
per (track, kind), so a rescan of the audio file never loses a sidecar's or LRCLIB's lyrics.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import transaction

from library import lrclib
from library.lrc import StructuredLyrics, lrc_parse, plain_parse
from library.models import LyricsKind, Track, TrackLyrics
from library.remote import RemoteRefusedError
from library.skips import lyrics_key, track_skip_set

logger = logging.getLogger(__name__)

EMBEDDED = "embedded"
SIDECAR_SUFFIXES = (LyricsKind.LRC.value, LyricsKind.TXT.value)
# A lyrics sidecar bigger than this is not lyrics (the longest songs' LRC files are tens of kilobytes).
SIDECAR_MAX_BYTES = 512 * 1024


@dataclass(frozen=True)
class ChosenLyrics:
    """The lyrics a track is served with: where they came from and their structured versions (synced first)."""

    origin: str  # the LYRICS_PRIORITY name they came from
    versions: list[StructuredLyrics]

    @property
    def plain_text(self) -> str:
        """The unsynchronised text (the legacy getLyrics): the plain version, else the synced one unstamped."""
        plain = next((item for item in self.versions if not item.synced), None)
        chosen = plain or (self.versions[0] if self.versions else None)
        return "\n".join(line.text for line in chosen.lines).strip() if chosen else ""


NO_LYRICS = ChosenLyrics(origin="", versions=[])


def _versions(*, synced: str, plain: str) -> list[StructuredLyrics]:
    found = [lrc_parse(synced)] if synced.strip() else []
    if plain.strip():
        found.append(plain_parse(plain))
    return [item for item in found if item.lines]


# ---------------------------------------------------------------------------------------------------------------
# The choice (LYRICS_PRIORITY)
# ---------------------------------------------------------------------------------------------------------------
def lyrics_choose(track: Track, documents: Iterable[TrackLyrics]) -> ChosenLyrics:
    """The first source in LYRICS_PRIORITY with lyrics. `documents`: the track's TrackLyrics rows."""
    by_kind = {document.kind: document for document in documents}
    for name in settings.LYRICS_PRIORITY:
        if name == EMBEDDED:
            versions = _versions(synced=track.synced_lyrics, plain=track.lyrics)
        else:
            document = by_kind.get(name)
            if document is None or not document.text.strip():
                continue
            versions = _versions(
                synced=document.text if document.synced else "", plain="" if document.synced else document.text
            )
        if versions:
            return ChosenLyrics(origin=name, versions=versions)
    return NO_LYRICS


def track_lyrics(track: Track) -> ChosenLyrics:
    return lyrics_choose(track, TrackLyrics.objects.filter(track=track))


# ---------------------------------------------------------------------------------------------------------------
# Sidecars (called by the scan for every file it walks)
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Sidecar:
    """A `.lrc`/`.txt` file beside an audio file with the same stem."""

    path: Path
    mtime_ns: int
    size: int

    @property
    def kind(self) -> str:
        return self.path.suffix.lower()

    @property
    def stamp(self) -> str:
        return f"{self.mtime_ns}:{self.size}"


def sidecar_read(sidecar: Sidecar) -> tuple[str, bool]:
    """(text, synced) of a sidecar; ValueError with the reason when it cannot be used."""
    if sidecar.size > SIDECAR_MAX_BYTES:
        raise ValueError(f"{sidecar.path.name} is {sidecar.size:,} bytes, more than lyrics ({SIDECAR_MAX_BYTES:,})")
    try:
        data = sidecar.path.read_bytes()[: SIDECAR_MAX_BYTES + 1]
    except OSError as exc:
        raise ValueError(f"cannot read {sidecar.path.name}: {exc.strerror or exc}") from exc
    if b"\x00" in data:
        raise ValueError(f"{sidecar.path.name} is binary, not text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")  # older LRC editors on Windows
    if sidecar.kind == LyricsKind.TXT:
        return text.strip(), False
    parsed = lrc_parse(text)
    if not parsed.lines:
        raise ValueError(f"{sidecar.path.name} has no timed line ({parsed.skipped_lines} lines not understood)")
    return text.strip(), True


def sidecars_sync(*, source: str, found: Sequence[tuple[str, Sequence[Sidecar]]]) -> int:
    """Bring the sidecar lyrics of these tracks (by source_id) up to date with the files the scan found beside
    them: files read only when their (mtime, size) changed, then every change of the batch in one transaction
    (an import finds a sidecar beside many of its files). Returns how many changed."""
    wanted = {relative: {item.kind: item for item in sidecars} for relative, sidecars in found}
    tracks = {
        source_id: (pk, skips or {})
        for source_id, pk, skips in Track.objects.filter(source=source, source_id__in=list(wanted)).values_list(
            "source_id", "pk", "metadata_skips"
        )
    }
    stored = {
        (row.track_id, row.kind): row
        for row in TrackLyrics.objects.filter(
            track_id__in=[pk for pk, _skips in tracks.values()], kind__in=SIDECAR_SUFFIXES
        )
    }
    changes = _SidecarChanges()
    for relative, (track_id, skips) in tracks.items():
        sidecars = wanted[relative]
        for kind in SIDECAR_SUFFIXES:
            row = stored.get((track_id, kind))
            changes.add(track_id, kind, sidecars.get(kind), row, skipped=lyrics_key(kind) in skips)
    changes.save()
    return changes.count


@dataclass
class _SidecarChanges:
    """What a batch's sidecars change: lyrics rows to write or delete, and skip reasons to set or clear."""

    written: list[TrackLyrics] = field(default_factory=list)
    deleted: list[int] = field(default_factory=list)
    skips: list[tuple[int, str, str | None]] = field(default_factory=list)
    count: int = 0

    def add(self, track_id: int, kind: str, sidecar: Sidecar | None, row: TrackLyrics | None, *, skipped: bool) -> None:
        skip_key = lyrics_key(kind)
        if sidecar is None:
            if skipped:  # the corrupt sidecar was removed: its reason goes with it
                self.skips.append((track_id, skip_key, None))
            if row is not None:  # the sidecar was removed
                self.deleted.append(row.pk)
            self.count += int(skipped or row is not None)
            return
        if row is not None and row.stamp == sidecar.stamp:
            return
        self.count += 1
        try:
            text, synced = sidecar_read(sidecar)
        except ValueError as exc:
            if row is not None:
                self.deleted.append(row.pk)
            self.skips.append((track_id, skip_key, str(exc)))
            logger.info("lyrics sidecar of track %s skipped: %s", track_id, exc)
            return
        self.written.append(TrackLyrics(track_id=track_id, kind=kind, text=text, synced=synced, stamp=sidecar.stamp))
        if skipped:
            self.skips.append((track_id, skip_key, None))

    def save(self) -> None:
        if not (self.written or self.deleted or self.skips):
            return
        with transaction.atomic():
            if self.deleted:
                TrackLyrics.objects.filter(pk__in=self.deleted).delete()
            TrackLyrics.objects.bulk_create(
                self.written,
                update_conflicts=True,
                unique_fields=["track", "kind"],
                update_fields=["text", "synced", "stamp", "updated_at"],
            )
            for track_id, what, reason in self.skips:
                track_skip_set(track_id=track_id, what=what, reason=reason)


# ---------------------------------------------------------------------------------------------------------------
# LRCLIB (a Celery task, never during a request)
# ---------------------------------------------------------------------------------------------------------------
LRCLIB_BATCH = 50


def lrclib_pending(*, limit: int = LRCLIB_BATCH) -> list[int]:
    """Present tracks with no lyrics anywhere and no LRCLIB answer yet, oldest first."""
    return list(
        Track.objects.filter(is_missing=False, lyrics="", synced_lyrics="")
        .exclude(lyrics_documents__text__gt="")
        .exclude(lyrics_documents__kind=LyricsKind.LRCLIB)
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )


def lrclib_fetch(*, track_id: int) -> bool:
    """Ask LRCLIB for one track and store the answer (lyrics, or "none" as an empty row); True when lyrics were
    found. `lrclib.LrclibUnavailableError` when LRCLIB could not answer: the caller retries later."""
    track = Track.objects.select_related("artist", "album").get(pk=track_id)
    try:
        found = lrclib.lyrics_get(
            artist=track.artist_display or track.artist.name,
            title=track.title,
            album=track.album.name,
            duration_seconds=round(track.duration_ms / 1000),
        )
    except RemoteRefusedError as exc:  # LRCLIB refuses the question itself: asking again will not help
        logger.info("LRCLIB refused the lyrics question of track %s: %s", track_id, exc)
        found = None
    if found is None:
        text, synced = "", False
    elif found.synced.strip() and lrc_parse(found.synced).lines:
        text, synced = found.synced.strip(), True
    else:
        text, synced = found.plain.strip(), False
    TrackLyrics.objects.update_or_create(
        track_id=track_id, kind=LyricsKind.LRCLIB, defaults={"text": text, "synced": synced, "stamp": ""}
    )
    return bool(text)
