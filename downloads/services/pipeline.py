"""One attempt at one song: resolve, download into a private work directory, check, tag, then move the file
into the library and commit its Track with the job's success."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from downloads.errors import ImplausibleFileError, JobCancelledError
from downloads.models import DownloadJob, JobPhase, JobState
from downloads.relay import arrival_meta, downloaded_file_detach, work_dir
from downloads.services.requesting import resolvable_source
from downloads.services.transitions import job_complete
from downloads.ytdlp import DownloadOptions, DownloadProgress, audio_download
from library.ingest.covers import album_cover_store
from library.ingest.refresh import albums_refresh
from library.ingest.rows import track_delete_file, track_upsert
from library.models import Track
from library.storage import file_checksum, library_relative_path, store_file
from library.tags import TrackTags, read_tags, write_tags
from sources.resolving import Resolvable, SourceRequestError, TrackMetadata

logger = logging.getLogger(__name__)

# A downloaded file whose duration is off by more than this is not the track that was asked for.
_DURATION_TOLERANCE_MS = 10_000
_DURATION_TOLERANCE_RATIO = 0.10


def _work_dir(job: DownloadJob) -> Path:
    return work_dir(job_id=job.pk, attempt=job.attempt)


def work_dir_remove(job: DownloadJob) -> None:
    attempt_dir = _work_dir(job)
    shutil.rmtree(attempt_dir, ignore_errors=True)
    with contextlib.suppress(OSError):
        attempt_dir.parent.rmdir()  # only when no other attempt is using it


def _download_options() -> DownloadOptions:
    return DownloadOptions(
        allowed_extractors=list(settings.DOWNLOAD_ALLOWED_EXTRACTORS),
        audio_format=settings.DOWNLOAD_FORMAT,
        audio_quality=settings.DOWNLOAD_AUDIO_QUALITY,
        max_filesize=settings.DOWNLOAD_MAX_FILESIZE or None,
        socket_timeout=settings.DOWNLOAD_SOCKET_TIMEOUT,
        rate_limit=settings.DOWNLOAD_RATE_LIMIT_BYTES or None,
    )


def _still_ours(job: DownloadJob) -> Q:
    return Q(pk=job.pk, state=JobState.RUNNING, attempt=job.attempt, cancel_requested=False)


def _beat(job: DownloadJob, **fields: Any) -> None:
    """Record progress and prove the worker is alive; raises JobCancelledError once the job is no longer ours."""
    if not DownloadJob.objects.filter(_still_ours(job)).update(heartbeat_at=timezone.now(), **fields):
        raise JobCancelledError(str(job.pk))


def _progress_writer(job: DownloadJob) -> Callable[[DownloadProgress], None]:
    def write(progress: DownloadProgress) -> None:
        total = progress.total_bytes
        percent = min(100.0, 100.0 * progress.downloaded_bytes / total) if total else 0.0
        fields: dict[str, Any] = {}
        if (announced := arrival_meta(job.meta, job=job, progress=progress)) is not None:
            job.meta = fields["meta"] = announced  # where web processes find the bytes to relay
        _beat(
            job,
            bytes_done=progress.downloaded_bytes,
            bytes_total=total,
            percent=round(percent, 1),
            speed=progress.speed,
            eta=progress.eta,
            **fields,
        )

    return write


def song_pipeline(job: DownloadJob) -> None:
    existing = Track.objects.filter(source=job.source, source_id=job.external_id).first()
    if existing is not None:
        # Finished by an earlier attempt that died before its ack, or downloaded by another route.
        job_complete(job, existing)
        return
    source = resolvable_source(job.source, check_health=False)
    work_dir = _work_dir(job)
    shutil.rmtree(work_dir, ignore_errors=True)
    work_dir.mkdir(parents=True)

    metadata = source.resolve_track(external_id=job.external_id)
    snapshot = _metadata_snapshot(metadata)
    _beat(job, phase=JobPhase.DOWNLOADING, title=metadata.title[:500], meta={**job.meta, "track": snapshot})
    job.meta = {**job.meta, "track": snapshot}
    media = source.media_request(external_id=job.external_id)
    path = audio_download(
        url=media.url,
        work_dir=work_dir / "media",
        options=_download_options(),
        on_progress=_progress_writer(job),
        cookies_file=media.cookies_file,
    )
    downloaded_file_detach(path)  # players may still be relayed the file as it came

    _beat(job, phase=JobPhase.CHECKING)
    _check_duration(read_tags(path).duration_ms, metadata.duration_ms)

    _beat(job, phase=JobPhase.TAGGING)
    cover, cover_mime = _cover(source, metadata)
    tags = _tags_from_metadata(metadata)
    write_tags(path, tags, cover=cover, cover_mime=cover_mime)
    on_disk = read_tags(path)
    tags = dataclasses.replace(
        tags,
        duration_ms=on_disk.duration_ms,
        bitrate=on_disk.bitrate,
        sample_rate=on_disk.sample_rate,
        bit_depth=on_disk.bit_depth,
        channels=on_disk.channels,
        codec=on_disk.codec,
        suffix=on_disk.suffix or path.suffix.lstrip("."),
        content_type=on_disk.content_type,
    )

    _beat(job, phase=JobPhase.IMPORTING)
    planned = _planned_path(job, tags, path.suffix)
    size = path.stat().st_size
    checksum = file_checksum(path)
    store_file(path, planned, mode="move")
    try:
        with transaction.atomic():
            locked = DownloadJob.objects.select_for_update().filter(_still_ours(job)).first()
            if locked is None:
                raise JobCancelledError(str(job.pk))
            track, _created = track_upsert(
                source=job.source,
                source_id=job.external_id,
                tags=tags,
                stored_path=planned,
                size_bytes=size,
                checksum=checksum,
                source_metadata={**snapshot, "job_id": str(job.pk)},
            )
            if cover and cover_mime:
                album_cover_store(album=track.album, image=cover, mime=cover_mime, origin="source")
            albums_refresh([track.album_id])
            job_complete(locked, track)
    except BaseException:
        # Also on SystemExit/KeyboardInterrupt: no file may stay in the library without its Track. A newer
        # attempt that took the job over may be using the same path, so only the owner of the job deletes.
        still_owner = DownloadJob.objects.filter(pk=job.pk, attempt=job.attempt).exists()
        if still_owner and not Track.objects.filter(path=planned).exists():
            track_delete_file(stored_path=planned)
        raise


def _metadata_snapshot(metadata: TrackMetadata) -> dict[str, Any]:
    snapshot = dataclasses.asdict(metadata)
    snapshot["extra"] = dict(metadata.extra)
    snapshot.pop("lyrics", None)  # can be long; it lives in the file and on the Track
    return snapshot


def _check_duration(actual_ms: int, expected_ms: int | None) -> None:
    if actual_ms <= 0:
        raise ImplausibleFileError("the downloaded file has no measurable duration")
    if expected_ms:
        tolerance = max(_DURATION_TOLERANCE_MS, expected_ms * _DURATION_TOLERANCE_RATIO)
        if abs(actual_ms - expected_ms) > tolerance:
            raise ImplausibleFileError(
                f"the downloaded file lasts {actual_ms / 1000:.0f} s "
                f"but the track should last {expected_ms / 1000:.0f} s"
            )


def _cover(source: Resolvable, metadata: TrackMetadata) -> tuple[bytes | None, str | None]:
    """The cover at its largest size; a missing cover never fails a download."""
    if not metadata.cover_url:
        return None, None
    try:
        return source.fetch_image(url=metadata.cover_url)
    except SourceRequestError as exc:
        logger.info("cover for %s unavailable: %s", metadata.external_id, exc)
        return None, None


def _tags_from_metadata(metadata: TrackMetadata) -> TrackTags:
    album_artist = metadata.album_artists[0] if metadata.album_artists else ""
    return TrackTags(
        title=metadata.title,
        artists=list(metadata.artists),
        artist_display=", ".join(metadata.artists),
        album=metadata.album,
        album_artist=album_artist,
        track_number=metadata.track_number,
        track_total=metadata.track_total,
        disc_number=metadata.disc_number,
        year=metadata.year,
        date=str(metadata.year) if metadata.year else "",
        lyrics=metadata.lyrics,
        explicit=metadata.explicit,
        comment=f"{'low-confidence match; ' if metadata.low_confidence else ''}source id {metadata.external_id}",
    )


def _planned_path(job: DownloadJob, tags: TrackTags, suffix: str) -> str:
    """The library path for this job's file, fixed on the job before the move so a re-run reuses it."""
    previous = job.meta.get("planned_path")
    if isinstance(previous, str) and previous and not Track.objects.filter(path=previous).exists():
        planned = previous  # an earlier attempt died after its move: overwrite its file, don't add a second one
    else:
        planned = library_relative_path(tags, suffix)
    job.meta = {**job.meta, "planned_path": planned}
    _beat(job, meta=job.meta)
    return planned
