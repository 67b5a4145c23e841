"""Track rows from tags: their fields (fitted to the columns, see `limits`), credits and genres, written for a
whole batch: new tracks with plain inserts (`insert`), changed ones with the ORM's save; a single track is a
batch of one."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from library import storage
from library.ingest.identity import Relations, ResolveCache, relations_resolve
from library.ingest.insert import insert_rows
from library.ingest.limits import fitted
from library.models import Album, MetadataStatus, Track, TrackArtist
from library.skips import skips_after_file_read
from library.tags import TrackTags
from library.text import fold, sort_name


@dataclass(frozen=True)
class TrackFile:
    """A file already stored in the library, with the tags read from it: what a track row is made of."""

    source_id: str
    tags: TrackTags
    stored_path: str  # relative to MEDIA_ROOT
    size_bytes: int
    checksum: str
    source_mtime_ns: int | None = None
    source_metadata: dict[str, Any] | None = None  # None: an existing track keeps its own


@dataclass(frozen=True)
class SavedTrack:
    """What a batch write tells its caller of each track (model instances would cost more than the insert)."""

    pk: int
    album: Album
    created: bool


def tracks_save(*, source: str, files: Sequence[TrackFile], cache: ResolveCache) -> list[SavedTrack]:
    """Create or update the tracks (source, source_id) of `files`, in their order, with their artists, album,
    credits and genres. All or nothing: a conflict (a row that appeared meanwhile, a path already taken) raises
    `IntegrityError` and rolls the whole call back. Album and artist counts are not refreshed here (batch callers
    refresh once per batch): call `refresh.albums_refresh` afterwards."""
    if not files:
        return []
    with _atomic_for(cache):
        relations = relations_resolve([file.tags for file in files], cache=cache)
        source_ids = [file.source_id for file in files]
        existing = {
            t.source_id: t for t in Track.objects.select_for_update().filter(source=source, source_id__in=source_ids)
        }
        new_rows = []
        for file, rel in zip(files, relations, strict=True):
            fields = _track_fields(file, rel)
            track = existing.get(file.source_id)
            if track is None:
                new_rows.append(
                    {
                        **fields,
                        "source": source,
                        "source_id": file.source_id,
                        "source_metadata": file.source_metadata or {},
                    }
                )
                continue
            skips = skips_after_file_read(current=track.metadata_skips, read=file.tags.skipped)
            for attname, value in fields.items():  # a changed file, rare: the ORM's own save, with its auto_now
                setattr(track, attname, value)
            track.metadata_skips = skips
            # New tags replaced what identification wrote: identify the file again.
            track.metadata_status, track.metadata_reason = MetadataStatus.PENDING, ""
            if file.source_metadata is not None:
                track.source_metadata = file.source_metadata
            track.save()
        insert_rows(Track, new_rows)
        ids = dict(Track.objects.filter(source=source, source_id__in=source_ids).values_list("source_id", "pk"))
        saved = [
            SavedTrack(ids[file.source_id], rel.album, created=file.source_id not in existing)
            for file, rel in zip(files, relations, strict=True)
        ]
        changed = [item.pk for item in saved if not item.created]
        TrackArtist.objects.filter(track_id__in=changed).delete()
        insert_rows(
            TrackArtist,
            [
                {"track_id": item.pk, "artist_id": artist.pk, "role": role, "position": position}
                for item, rel in zip(saved, relations, strict=True)
                for position, (artist, role) in enumerate(rel.credits)
            ],
        )
        track_genres = Track.genres.through
        track_genres.objects.filter(track_id__in=changed).delete()
        insert_rows(
            track_genres,
            [
                {"track_id": item.pk, "genre_id": genre.pk}
                for item, rel in zip(saved, relations, strict=True)
                for genre in rel.genres
            ],
        )
        return saved


def track_upsert(
    *,
    source: str,
    source_id: str,
    tags: TrackTags,
    stored_path: str,
    size_bytes: int,
    checksum: str,
    source_mtime_ns: int | None = None,
    source_metadata: dict[str, Any] | None = None,
) -> tuple[Track, bool]:
    """`tracks_save` of one file: (track, created)."""
    file = TrackFile(source_id, tags, stored_path, size_bytes, checksum, source_mtime_ns, source_metadata)
    (saved,) = tracks_save(source=source, files=[file], cache=ResolveCache())
    return Track.objects.select_related("album", "artist").get(pk=saved.pk), saved.created


def track_delete_file(*, stored_path: str) -> None:
    """Undo a store whose database write failed: no file may stay in MEDIA_ROOT without a Track."""
    with contextlib.suppress(storage.UnsafePathError, OSError):
        storage.delete_file(stored_path)


@contextlib.contextmanager
def _atomic_for(cache: ResolveCache) -> Iterator[None]:
    """A transaction (or savepoint) after whose rollback the cache is cleared: rows it created are gone."""
    try:
        with transaction.atomic():
            yield
    except BaseException:
        cache.clear()
        raise


def _track_fields(file: TrackFile, rel: Relations) -> dict[str, Any]:
    tags = file.tags
    title = tags.title or "Untitled"
    return fitted(
        Track,
        {
            "title": title,
            "title_key": fold(title),
            "sort_title": sort_name(title),
            "album_id": rel.album.pk,
            "artist_id": rel.credits[0][0].pk,
            "artist_display": rel.display,
            "track_number": tags.track_number,
            "disc_number": tags.disc_number or 1,
            "disc_subtitle": tags.disc_subtitle,
            "year": tags.year,
            "date": tags.date,
            "duration_ms": tags.duration_ms,
            "bitrate": tags.bitrate,
            "sample_rate": tags.sample_rate,
            "bit_depth": tags.bit_depth,
            "channels": tags.channels,
            "codec": tags.codec,
            "suffix": tags.suffix,
            "content_type": tags.content_type,
            "has_embedded_cover": tags.has_cover,
            "musicbrainz_recording_id": tags.musicbrainz_recording_id,
            "musicbrainz_track_id": tags.musicbrainz_track_id,
            "musicbrainz_release_id": tags.musicbrainz_release_id,
            "musicbrainz_artist_id": tags.musicbrainz_artist_id,
            "musicbrainz_album_artist_id": tags.musicbrainz_album_artist_id,
            "isrc": tags.isrc,
            "replaygain_track_gain": tags.replaygain_track_gain,
            "replaygain_track_peak": tags.replaygain_track_peak,
            "replaygain_album_gain": tags.replaygain_album_gain,
            "replaygain_album_peak": tags.replaygain_album_peak,
            "replaygain_base_gain": tags.replaygain_base_gain,
            "bpm": tags.bpm,
            "comment": tags.comment,
            "lyrics": tags.lyrics,
            "synced_lyrics": tags.synced_lyrics,
            "explicit": tags.explicit,
            "metadata_skips": dict(tags.skipped) or None,
            "path": file.stored_path,
            "size_bytes": file.size_bytes,
            "checksum": file.checksum,
            "source_mtime_ns": file.source_mtime_ns,
            "source_size": file.size_bytes,
            "is_missing": False,
        },
    )
