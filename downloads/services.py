"""DownloadService: the one place that creates, claims, runs, retries, cancels and completes download jobs.

Reliability rules, because any step may run twice or be killed half-way:
- a job is claimed by one conditional UPDATE (queued/due-retrying, or running with a stale heartbeat);
- while running it holds one of the source's concurrency slots, unique among running jobs in the database;
- work happens in a private directory on MEDIA_ROOT's filesystem, wiped at the start of every attempt;
- the library path is chosen and saved on the job *before* the file is moved there, so an attempt that died
  between the move and the commit is repaired by the next one (same path, overwritten) or by the final failure;
- the Track and the job's success are committed in one transaction, after re-checking the job is still ours;
- long waits are `next_retry_at` in the database; `download_jobs_sweep` re-sends what is due or was never sent.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import re
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Max, Q
from django.utils import timezone
from kombu.exceptions import OperationalError as KombuOperationalError

from accounts.models import User
from downloads.errors import (
    PAUSES_SOURCE,
    RETRYABLE,
    Classified,
    DownloadRequestsNotAllowedError,
    ImplausibleFileError,
    JobCancelledError,
    classify,
    retry_delay,
)
from downloads.models import ACTIVE_STATES, DownloadJob, ErrorClass, JobKind, JobPhase, JobState
from downloads.selectors import user_may_request_downloads
from downloads.ytdlp import DownloadOptions, DownloadProgress, audio_download
from library.enrichment.services import enrichment_enqueue
from library.importing import album_cover_store, albums_refresh, track_delete_file, track_upsert
from library.models import Track
from library.services import pending_references_apply
from library.storage import file_checksum, library_relative_path, media_path, media_root, store_file
from library.tags import TrackTags, read_tags, write_tags
from mcma.errors import ConflictError, InvalidInputError, NotFoundError, PermissionDeniedError
from sources.base import Capability, ResultKind, Searchable
from sources.errors import CapabilityMissingError, SourceUnavailableError
from sources.registry import get_source
from sources.resolving import Resolvable, SourceRequestError, TrackMetadata

logger = logging.getLogger(__name__)

_EXTERNAL_ID = re.compile(r"^[A-Za-z0-9_\-]{1,255}$")
# A downloaded file whose duration is off by more than this is not the track that was asked for.
_DURATION_TOLERANCE_MS = 10_000
_DURATION_TOLERANCE_RATIO = 0.10
_RESEND_BATCH = 50


class RunStatus(StrEnum):
    SUCCEEDED = "succeeded"
    RETRY = "retry"
    FAILED = "failed"
    CANCELLED = "cancelled"
    DEFERRED = "deferred"  # no slot free, or the source is paused: the job stays queued
    EXPANDED = "expanded"  # an album/playlist created its child jobs
    SKIPPED = "skipped"  # nothing to do: unknown, finished, or running elsewhere


@dataclass(frozen=True)
class RunOutcome:
    status: RunStatus
    delay: float | None = None


@dataclass(frozen=True)
class DownloadRequestResult:
    """What a download request led to: a new job, the already-active job, or the track already in the library."""

    job: DownloadJob | None
    track: Track | None
    created: bool


@dataclass(frozen=True)
class SweepReport:
    recovered: int = 0
    resent: int = 0
    parents_finished: int = 0


# ---------------------------------------------------------------------------------------------------------------
# Requests
# ---------------------------------------------------------------------------------------------------------------
def _resolvable_source(name: str, *, check_health: bool = True) -> Resolvable:
    """The source `name`, if it can download and is healthy (UnknownSourceError / SourceUnavailableError).

    Runs skip the health check: the backend's own calls then fail with the precise error (a disabled source,
    or `cookies_config` from the cookies guard), which is what the job should record.
    """
    source = get_source(name)
    if Capability.DOWNLOAD not in source.capabilities or not isinstance(source, Resolvable):
        raise CapabilityMissingError(f"source {name!r} cannot download", details={"source": name})
    if not check_health:
        return source
    health = source.health()
    if not health.available:
        raise SourceUnavailableError(health.message, details={"source": name, **health.details})
    return source


def _check_may_request(user: User | None) -> None:
    if user is not None and not user_may_request_downloads(user=user):
        raise DownloadRequestsNotAllowedError(
            f"user {user.username!r} may not request downloads; an admin can allow it (can_request_downloads)",
            details={"user": user.username},
        )


def download_request(*, user: User | None, source: str, external_id: str, kind: str) -> DownloadRequestResult:
    """Ask for `external_id` of `source` to be downloaded; idempotent while a job for it is active."""
    _check_may_request(user)
    external_id = external_id.strip()
    if kind not in JobKind.values:
        raise InvalidInputError(f"kind must be one of {', '.join(JobKind.values)}", details={"kind": kind})
    if not _EXTERNAL_ID.match(external_id):
        raise InvalidInputError(
            "external_id must be 1-255 letters, digits, '-' or '_'", details={"external_id": external_id}
        )
    _resolvable_source(source)
    if kind == JobKind.SONG:
        track = Track.objects.filter(source=source, source_id=external_id).first()
        if track is not None:
            return DownloadRequestResult(job=None, track=track, created=False)
    existing = _active_job(source, external_id)
    if existing is not None:
        return DownloadRequestResult(job=existing, track=None, created=False)
    try:
        with transaction.atomic():
            job = DownloadJob.objects.create(source=source, external_id=external_id, kind=kind, requested_by=user)
            _enqueue_on_commit([job.pk])
    except IntegrityError:
        # Another request for the same item won the race; the partial unique constraint saw to it.
        existing = _active_job(source, external_id)
        if existing is None:
            raise
        return DownloadRequestResult(job=existing, track=None, created=False)
    return DownloadRequestResult(job=job, track=None, created=True)


@transaction.atomic
def download_request_referencing(
    *, user: User, source: str, external_id: str, reference: Callable[[], object] | None = None
) -> DownloadRequestResult:
    """Request a song's download for something `user` did with it while it is not in the library; `reference`
    records that (a `library.services.pending_reference_add` call), and the completion of the download applies
    it. Should the song have landed meanwhile, it is applied at once: either way exactly once."""
    result = download_request(user=user, source=source, external_id=external_id, kind=JobKind.SONG)
    if result.job is not None:
        # Holding the job's row orders this reference before, or after, the completion that applies references.
        DownloadJob.objects.select_for_update().filter(pk=result.job.pk).first()
    if reference is not None:
        reference()
    track = Track.objects.filter(source=source, source_id=external_id).first()
    if track is not None:
        pending_references_apply(track=track)
    return result


def download_request_lookup(*, user: User | None, source: str, query_or_url: str, kind: str) -> DownloadRequestResult:
    """Request a download from a link of the source, or from the best hit of a search for `query_or_url`."""
    _check_may_request(user)  # before the search: a refused user must not make us query the source
    backend = _resolvable_source(source)
    reference = backend.reference_from_url(query_or_url)
    if reference is not None:
        found_kind, external_id = reference
        return download_request(user=user, source=source, external_id=external_id, kind=str(found_kind))
    if kind not in JobKind.values:
        raise InvalidInputError(f"kind must be one of {', '.join(JobKind.values)}", details={"kind": kind})
    if not isinstance(backend, Searchable):
        raise CapabilityMissingError(f"{source!r} cannot search; give a link instead", details={"source": source})
    found = backend.search(query=query_or_url, kind=ResultKind(kind), limit=5)
    hits = [hit for hit in found if hit.extra.get("available", True)]
    if not hits:
        raise NotFoundError(f"{source} has no {kind} matching {query_or_url!r}", details={"query": query_or_url})
    return download_request(user=user, source=source, external_id=hits[0].external_id, kind=kind)


def _active_job(source: str, external_id: str) -> DownloadJob | None:
    return DownloadJob.objects.filter(source=source, external_id=external_id, state__in=ACTIVE_STATES).first()


# ---------------------------------------------------------------------------------------------------------------
# Enqueueing: after commit, and never fatal (the sweep re-sends what the broker did not take)
# ---------------------------------------------------------------------------------------------------------------
def _enqueue_on_commit(job_ids: Iterable[Any], *, countdown: float | None = None) -> None:
    ids = [str(i) for i in job_ids]
    if ids:
        transaction.on_commit(lambda: _send(ids, countdown=countdown))


def _send(job_ids: list[str], *, countdown: float | None = None) -> None:
    from downloads.tasks import download_task  # the task module imports this one

    sent: list[str] = []
    for job_id in job_ids:
        try:
            # Publish retries follow CELERY_TASK_PUBLISH_RETRY_POLICY (one quick retry), like every other send.
            download_task.apply_async(args=(job_id,), countdown=countdown or 0)
        except (KombuOperationalError, OSError) as exc:
            logger.warning("broker unavailable, %d download job(s) stay queued for the sweep: %s", len(job_ids), exc)
            break
        sent.append(job_id)
    if sent:
        DownloadJob.objects.filter(pk__in=sent).update(enqueued_at=timezone.now())


# ---------------------------------------------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------------------------------------------
def download_job_run(*, job_id: str) -> RunOutcome:
    """Run one attempt of the job (called by the Celery task; safe to call twice or after a crash)."""
    job = DownloadJob.objects.filter(pk=job_id).only("kind").first()
    if job is None:
        return RunOutcome(RunStatus.SKIPPED)
    if job.kind != JobKind.SONG:
        return _collection_run(job_id)
    claimed, deferred = _claim(job_id, with_slot=True)
    if claimed is None:
        return deferred or RunOutcome(RunStatus.SKIPPED)
    try:
        _song_pipeline(claimed)
    except JobCancelledError:
        return _after_cancel(claimed)
    except Exception as exc:
        return _after_failure(claimed, exc)
    finally:
        _work_dir_remove(claimed)
    return RunOutcome(RunStatus.SUCCEEDED)


def _claimable(now: datetime) -> Q:
    stale = now - timedelta(seconds=settings.DOWNLOAD_STALE_AFTER_SECONDS)
    waiting = Q(state__in=[JobState.QUEUED, JobState.RETRYING], cancel_requested=False) & (
        Q(next_retry_at__isnull=True) | Q(next_retry_at__lte=now)
    )
    lost = Q(state=JobState.RUNNING, cancel_requested=False, heartbeat_at__lt=stale) & ~Q(phase=JobPhase.CHILDREN)
    return waiting | lost


def _claim(job_id: str, *, with_slot: bool) -> tuple[DownloadJob | None, RunOutcome | None]:
    now = timezone.now()
    with transaction.atomic():
        job = DownloadJob.objects.select_for_update().filter(_claimable(now), pk=job_id).first()
        if job is None:
            return None, None
        paused_until = source_paused_until(source=job.source, now=now)
        if paused_until is not None:
            return None, RunOutcome(RunStatus.DEFERRED, delay=(paused_until - now).total_seconds())
        if job.attempt >= job.max_attempts:
            # Only a job that kept losing its worker gets here: claims of exhausted jobs never happen otherwise.
            _finish(job, JobState.FAILED, classified=_worker_lost(job, exhausted=True))
            _stray_file_remove(job)
            return None, RunOutcome(RunStatus.FAILED)
        slot: int | None = None
        if with_slot:
            slot = _take_slot(job, now)
            if slot is None:
                return None, RunOutcome(RunStatus.DEFERRED)
        else:
            _mark_running(job, now, slot=None)
        job.refresh_from_db()
        return job, None


def _mark_running(job: DownloadJob, now: datetime, *, slot: int | None) -> None:
    DownloadJob.objects.filter(pk=job.pk).update(
        state=JobState.RUNNING,
        phase=JobPhase.RESOLVING,
        concurrency_slot=slot,
        attempt=F("attempt") + 1,
        heartbeat_at=now,
        started_at=job.started_at or now,
        next_retry_at=None,
        bytes_done=0,
        percent=0.0,
        speed=None,
        eta=None,
    )


def _take_slot(job: DownloadJob, now: datetime) -> int | None:
    """One of the source's free concurrency slots, claimed with the job; None when all are busy."""
    taken = set(
        DownloadJob.objects.filter(source=job.source, state=JobState.RUNNING, concurrency_slot__isnull=False)
        .exclude(pk=job.pk)
        .values_list("concurrency_slot", flat=True)
    )
    for slot in range(max(1, settings.DOWNLOAD_CONCURRENCY_PER_SOURCE)):
        if slot in taken:
            continue
        try:
            with transaction.atomic():
                _mark_running(job, now, slot=slot)
        except IntegrityError:
            continue  # another worker took this slot between our read and our write
        return slot
    return None


def source_paused_until(*, source: str, now: datetime | None = None) -> datetime | None:
    """When a rate limit or bot check on `source` ends, if one is in force (shared by every worker via the DB)."""
    now = now or timezone.now()
    until = DownloadJob.objects.filter(
        source=source, state=JobState.RETRYING, error_class__in=list(PAUSES_SOURCE), next_retry_at__gt=now
    ).aggregate(until=Max("next_retry_at"))["until"]
    return until if isinstance(until, datetime) else None


def _work_root() -> Path:
    return Path(settings.DOWNLOAD_TEMP_DIR) if settings.DOWNLOAD_TEMP_DIR else media_root() / ".incoming"


def _work_dir(job: DownloadJob) -> Path:
    """Per attempt: a worker that lost its job (and cleans up late) never touches its successor's files."""
    return _work_root() / str(job.pk) / str(job.attempt)


def _work_dir_remove(job: DownloadJob) -> None:
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
        _beat(
            job,
            bytes_done=progress.downloaded_bytes,
            bytes_total=total,
            percent=round(percent, 1),
            speed=progress.speed,
            eta=progress.eta,
        )

    return write


def _song_pipeline(job: DownloadJob) -> None:
    existing = Track.objects.filter(source=job.source, source_id=job.external_id).first()
    if existing is not None:
        # Finished by an earlier attempt that died before its ack, or downloaded by another route.
        _complete(job, existing, planned=None)
        return
    source = _resolvable_source(job.source, check_health=False)
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
                album_cover_store(album=track.album, image=cover, mime=cover_mime)
            albums_refresh([track.album_id])
            _complete(locked, track, planned=planned)
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


def _complete(job: DownloadJob, track: Track, *, planned: str | None) -> None:
    """The job succeeded with `track`: what users did with the song while it downloaded now points at it."""
    pending_references_apply(track=track)
    enrichment_enqueue(track_ids=[track.pk])
    now = timezone.now()
    DownloadJob.objects.filter(pk=job.pk).update(
        state=JobState.SUCCEEDED,
        phase=JobPhase.NONE,
        track=track,
        percent=100.0,
        eta=None,
        concurrency_slot=None,
        next_retry_at=None,
        finished_at=now,
        heartbeat_at=now,
        error_class=ErrorClass.NONE,
        error_code="",
        error_message="",
    )
    _after_slot_release(job)


def _after_cancel(job: DownloadJob) -> RunOutcome:
    with transaction.atomic():
        locked = DownloadJob.objects.select_for_update().filter(pk=job.pk).first()
        if locked is None or locked.state != JobState.RUNNING or locked.attempt != job.attempt:
            return RunOutcome(RunStatus.SKIPPED)  # taken over by a newer attempt: not ours to finish
        _finish(locked, JobState.CANCELLED)
        _stray_file_remove(locked)
    return RunOutcome(RunStatus.CANCELLED)


def _after_failure(job: DownloadJob, exc: Exception) -> RunOutcome:
    classified = classify(exc)
    if classified.code == "unexpected":
        logger.exception("download job %s failed unexpectedly", job.pk)
    else:
        logger.info("download job %s: %s (%s)", job.pk, classified.code, classified.message)
    return _fail_or_retry(job, classified)


def _fail_or_retry(job: DownloadJob, classified: Classified) -> RunOutcome:
    with transaction.atomic():
        locked = DownloadJob.objects.select_for_update().filter(pk=job.pk).first()
        if locked is None or locked.state != JobState.RUNNING or locked.attempt != job.attempt:
            return RunOutcome(RunStatus.SKIPPED)
        if locked.cancel_requested:
            _finish(locked, JobState.CANCELLED)
            return RunOutcome(RunStatus.CANCELLED)
        limit = min(locked.max_attempts, classified.max_attempts or locked.max_attempts)
        if classified.error_class in RETRYABLE and locked.attempt < limit:
            delay = retry_delay(
                classified=classified,
                attempt=locked.attempt,
                base=settings.DOWNLOAD_RETRY_BASE_SECONDS,
                cap=settings.DOWNLOAD_RETRY_CAP_SECONDS,
                pause=settings.DOWNLOAD_RATE_LIMIT_PAUSE_SECONDS,
            )
            DownloadJob.objects.filter(pk=locked.pk).update(
                state=JobState.RETRYING,
                phase=JobPhase.NONE,
                concurrency_slot=None,
                next_retry_at=timezone.now() + timedelta(seconds=delay),
                speed=None,
                eta=None,
                **_error_fields(classified),
            )
            if delay <= settings.DOWNLOAD_MAX_COUNTDOWN_SECONDS:
                _enqueue_on_commit([locked.pk], countdown=delay)
            _after_slot_release(locked)
            return RunOutcome(RunStatus.RETRY, delay=delay)
        _finish(locked, JobState.FAILED, classified=classified)
        _stray_file_remove(locked)
    return RunOutcome(RunStatus.FAILED)


def _error_fields(classified: Classified) -> dict[str, Any]:
    return {
        "error_class": classified.error_class,
        "error_code": classified.code,
        "error_message": classified.message,
    }


def _finish(job: DownloadJob, state: JobState, *, classified: Classified | None = None) -> None:
    """Move a job (locked by the caller) to a final state and let its parent and waiting jobs know."""
    fields: dict[str, Any] = {
        "state": state,
        "phase": JobPhase.NONE,
        "concurrency_slot": None,
        "next_retry_at": None,
        "speed": None,
        "eta": None,
        "finished_at": timezone.now(),
    }
    if classified is not None:
        fields.update(_error_fields(classified))
    DownloadJob.objects.filter(pk=job.pk).update(**fields)
    _after_slot_release(job)


def _after_slot_release(job: DownloadJob) -> None:
    """A slot became free or a child finished: hand the slot to the next waiting job, refresh the parent."""
    if job.parent_id:
        parent_id = job.parent_id
        transaction.on_commit(lambda: collection_refresh(job_id=str(parent_id)))
    if job.kind == JobKind.SONG:
        waiting = (
            DownloadJob.objects.filter(
                source=job.source, kind=JobKind.SONG, state__in=[JobState.QUEUED, JobState.RETRYING]
            )
            .filter(Q(next_retry_at__isnull=True) | Q(next_retry_at__lte=timezone.now()))
            .exclude(pk=job.pk)
            .order_by("created_at")
            .values_list("pk", flat=True)[:1]
        )
        _enqueue_on_commit(list(waiting))


def _stray_file_remove(job: DownloadJob) -> None:
    planned = job.meta.get("planned_path")
    if isinstance(planned, str) and planned and not Track.objects.filter(path=planned).exists():
        with contextlib.suppress(OSError, InvalidInputError):
            if media_path(planned).exists():
                track_delete_file(stored_path=planned)


def _worker_lost(job: DownloadJob, *, exhausted: bool) -> Classified:
    message = "the worker running this download stopped (crash, restart or kill)"
    if exhausted:
        message += f"; gave up after {job.attempt} attempts"
    return Classified(error_class=ErrorClass.TRANSIENT, code="worker_lost", message=message)


# ---------------------------------------------------------------------------------------------------------------
# Albums and playlists: a parent job that creates one child job per track, then follows them
# ---------------------------------------------------------------------------------------------------------------
def _collection_run(job_id: str) -> RunOutcome:
    job, deferred = _claim(job_id, with_slot=False)
    if job is None:
        return deferred or RunOutcome(RunStatus.SKIPPED)
    try:
        source = _resolvable_source(job.source, check_health=False)
        collection = source.resolve_collection(kind=ResultKind(job.kind), external_id=job.external_id)
    except Exception as exc:
        return _after_failure(job, exc)
    if not collection.track_ids:
        return _fail_or_retry(
            job,
            Classified(
                error_class=ErrorClass.PERMANENT,
                code="empty_collection",
                message=f"this {job.kind} has no downloadable tracks",
            ),
        )
    with transaction.atomic():
        locked = DownloadJob.objects.select_for_update().filter(pk=job.pk, state=JobState.RUNNING).first()
        if locked is None or locked.attempt != job.attempt or locked.cancel_requested:
            return RunOutcome(RunStatus.SKIPPED)
        in_library = set(
            Track.objects.filter(source=job.source, source_id__in=collection.track_ids).values_list(
                "source_id", flat=True
            )
        )
        created: list[Any] = []
        attached: list[str] = []
        for external_id in collection.track_ids:
            if external_id in in_library:
                continue
            existing = _active_job(job.source, external_id)
            if existing is None:
                try:
                    with transaction.atomic():
                        child = DownloadJob.objects.create(
                            source=job.source,
                            external_id=external_id,
                            kind=JobKind.SONG,
                            parent=locked,
                            requested_by=locked.requested_by,
                            max_attempts=locked.max_attempts,
                        )
                    created.append(child.pk)
                    continue
                except IntegrityError:
                    existing = _active_job(job.source, external_id)
            if existing is not None:
                attached.append(str(existing.pk))
        meta = {
            **locked.meta,
            "collection": {
                "title": collection.title,
                "artists": list(collection.artists),
                "year": collection.year,
                "track_ids": list(collection.track_ids),
            },
            "attached_job_ids": attached,
        }
        DownloadJob.objects.filter(pk=locked.pk).update(
            title=collection.title[:500], phase=JobPhase.CHILDREN, heartbeat_at=timezone.now(), meta=meta
        )
        _enqueue_on_commit(created)
    collection_refresh(job_id=str(job.pk))
    return RunOutcome(RunStatus.EXPANDED)


def collection_refresh(*, job_id: str) -> DownloadJob | None:
    """Recompute an album/playlist job from its tracks; finish it when every track is settled."""
    with transaction.atomic():
        job = (
            DownloadJob.objects.select_for_update()
            .filter(pk=job_id, state=JobState.RUNNING, phase=JobPhase.CHILDREN)
            .first()
        )
        if job is None:
            return None
        track_ids = list((job.meta.get("collection") or {}).get("track_ids") or [])
        related = DownloadJob.objects.filter(Q(parent=job) | Q(pk__in=job.meta.get("attached_job_ids") or []))
        states = list(related.values_list("external_id", "state"))
        in_library = set(
            Track.objects.filter(source=job.source, source_id__in=track_ids).values_list("source_id", flat=True)
        )
        total = len(track_ids)
        done = len(in_library)
        failed = sum(1 for ext, state in states if state == JobState.FAILED and ext not in in_library)
        pending = sum(1 for _ext, state in states if state in ACTIVE_STATES)
        fields: dict[str, Any] = {"percent": round(100.0 * done / total, 1) if total else 100.0}
        if pending == 0:
            fields.update(phase=JobPhase.NONE, finished_at=timezone.now())
            if failed:
                fields.update(
                    state=JobState.FAILED,
                    error_class=ErrorClass.PERMANENT,
                    error_code="tracks_failed",
                    error_message=f"{failed} of {total} tracks failed; retry them from the job's tracks",
                )
            else:
                fields.update(state=JobState.SUCCEEDED, error_class="", error_code="", error_message="")
        DownloadJob.objects.filter(pk=job.pk).update(**fields)
    job.refresh_from_db()
    return job


# ---------------------------------------------------------------------------------------------------------------
# User actions: cancel and retry
# ---------------------------------------------------------------------------------------------------------------
def _check_actor(job: DownloadJob, actor: User) -> None:
    if not (actor.is_admin or job.requested_by_id == actor.pk):
        raise PermissionDeniedError("only the user who asked for this download, or an admin, may change it")


def download_job_cancel(*, job: DownloadJob, actor: User) -> DownloadJob:
    """Cancel a waiting job at once; ask a running one to stop (its worker removes the temp files)."""
    _check_actor(job, actor)
    with transaction.atomic():
        locked = DownloadJob.objects.select_for_update().get(pk=job.pk)
        if locked.state not in ACTIVE_STATES:
            raise ConflictError(f"this download is already {locked.state}", details={"state": locked.state})
        if locked.state == JobState.RUNNING and locked.kind == JobKind.SONG:
            DownloadJob.objects.filter(pk=locked.pk).update(cancel_requested=True)
        else:
            _finish(locked, JobState.CANCELLED)
        if locked.kind != JobKind.SONG:
            for child in DownloadJob.objects.select_for_update().filter(parent=locked, state__in=ACTIVE_STATES):
                if child.state == JobState.RUNNING:
                    DownloadJob.objects.filter(pk=child.pk).update(cancel_requested=True)
                else:
                    _finish(child, JobState.CANCELLED)
    locked.refresh_from_db()
    return locked


def download_job_retry(*, job: DownloadJob, actor: User) -> DownloadJob:
    """Try a failed or cancelled job again with a fresh attempt budget; a waiting retry runs now."""
    _check_actor(job, actor)
    _check_may_request(actor)  # a retry downloads again: the same right as asking the first time
    now = timezone.now()
    with transaction.atomic():
        locked = DownloadJob.objects.select_for_update().get(pk=job.pk)
        if locked.state == JobState.RETRYING:
            DownloadJob.objects.filter(pk=locked.pk).update(next_retry_at=now)
            _enqueue_on_commit([locked.pk])
        elif locked.state in (JobState.FAILED, JobState.CANCELLED):
            _requeue(locked)
        else:
            raise ConflictError(f"a {locked.state} download cannot be retried", details={"state": locked.state})
    locked.refresh_from_db()
    return locked


def _requeue(job: DownloadJob) -> None:
    expanded = job.kind != JobKind.SONG and bool(job.meta.get("collection"))
    try:
        with transaction.atomic():
            DownloadJob.objects.filter(pk=job.pk).update(
                state=JobState.RUNNING if expanded else JobState.QUEUED,
                phase=JobPhase.CHILDREN if expanded else JobPhase.NONE,
                cancel_requested=False,
                next_retry_at=None,
                finished_at=None,
                enqueued_at=None,
                max_attempts=job.attempt + int(settings.DOWNLOAD_MAX_ATTEMPTS),
                **_error_fields(Classified(error_class=ErrorClass.NONE, code="", message="")),
            )
    except IntegrityError as exc:
        raise ConflictError(
            "another download of this item is already active", details={"external_id": job.external_id}
        ) from exc
    if expanded:
        for child in DownloadJob.objects.filter(parent=job, state__in=[JobState.FAILED, JobState.CANCELLED]):
            with contextlib.suppress(ConflictError):
                _requeue(child)
    else:
        _enqueue_on_commit([job.pk])
    if job.parent_id:
        # A track retried on its own reopens its finished album/playlist, which then follows it again.
        with contextlib.suppress(IntegrityError), transaction.atomic():
            DownloadJob.objects.filter(
                pk=job.parent_id, state__in=[JobState.FAILED, JobState.SUCCEEDED], meta__has_key="collection"
            ).update(state=JobState.RUNNING, phase=JobPhase.CHILDREN, finished_at=None)


def download_jobs_retry_failed(*, actor: User) -> int:
    """Admin: retry every failed job (children through their parent). Returns how many were requeued."""
    if not actor.is_admin:
        raise PermissionDeniedError("only admins may retry every failed download")
    count = 0
    for job in DownloadJob.objects.filter(state=JobState.FAILED).order_by("created_at"):
        job.refresh_from_db()
        if job.state != JobState.FAILED:
            continue  # requeued with its parent a moment ago
        with contextlib.suppress(ConflictError):
            download_job_retry(job=job, actor=actor)
            count += 1
    return count


# ---------------------------------------------------------------------------------------------------------------
# The periodic sweep
# ---------------------------------------------------------------------------------------------------------------
def download_jobs_sweep() -> SweepReport:
    """Recover jobs whose worker died, re-send due retries and never-sent jobs, settle finished collections."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.DOWNLOAD_STALE_AFTER_SECONDS)
    recovered = 0
    for job_id in (
        DownloadJob.objects.filter(state=JobState.RUNNING, heartbeat_at__lt=stale)
        .exclude(phase=JobPhase.CHILDREN)
        .values_list("pk", flat=True)
    ):
        if _recover_lost(str(job_id), stale):
            recovered += 1

    now = timezone.now()  # recovered jobs are due from the moment they were recovered
    resend_before = now - timedelta(seconds=settings.DOWNLOAD_REENQUEUE_AFTER_SECONDS)
    never_or_long_ago = Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=resend_before)
    due = (
        DownloadJob.objects.filter(
            Q(state=JobState.QUEUED, cancel_requested=False) & never_or_long_ago
            | Q(state=JobState.RETRYING, next_retry_at__lte=now)
            & (never_or_long_ago | Q(enqueued_at__lt=F("next_retry_at")))
        )
        .order_by("created_at")
        .values_list("pk", flat=True)[:_RESEND_BATCH]
    )
    due_ids = [str(pk) for pk in due]
    if due_ids:
        _send(due_ids)

    finished = 0
    for parent_id in DownloadJob.objects.filter(state=JobState.RUNNING, phase=JobPhase.CHILDREN).values_list(
        "pk", flat=True
    ):
        refreshed = collection_refresh(job_id=str(parent_id))
        if refreshed is not None and refreshed.state != JobState.RUNNING:
            finished += 1
    return SweepReport(recovered=recovered, resent=len(due_ids), parents_finished=finished)


def _recover_lost(job_id: str, stale: datetime) -> bool:
    with transaction.atomic():
        job = (
            DownloadJob.objects.select_for_update()
            .filter(pk=job_id, state=JobState.RUNNING, heartbeat_at__lt=stale)
            .first()
        )
        if job is None:
            return False
        if job.cancel_requested:
            _finish(job, JobState.CANCELLED)
            _stray_file_remove(job)
        elif job.attempt >= job.max_attempts:
            _finish(job, JobState.FAILED, classified=_worker_lost(job, exhausted=True))
            _stray_file_remove(job)
        else:
            DownloadJob.objects.filter(pk=job.pk).update(
                state=JobState.RETRYING if job.kind == JobKind.SONG else JobState.QUEUED,
                phase=JobPhase.NONE,
                concurrency_slot=None,
                next_retry_at=timezone.now(),
                enqueued_at=None,
                **_error_fields(_worker_lost(job, exhausted=False)),
            )
    _work_dir_remove(job)
    return True
