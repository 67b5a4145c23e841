"""Reads for downloads: job lists per user, one job, and external search hits marked with what we already have."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Max, Prefetch, Q, QuerySet
from django.utils import timezone

from accounts.models import User
from downloads.errors import PAUSES_SOURCE
from downloads.models import ACTIVE_STATES, DownloadJob, JobKind, JobState
from library.models import Track
from mcma.errors import ApplicationError, InvalidInputError, NotFoundError, PermissionDeniedError
from sources.base import ResultKind, Searchable, SearchResult
from sources.errors import CapabilityMissingError
from sources.registry import all_sources, get_source, source_health_check


def user_may_request_downloads(*, user: User | None) -> bool:
    """`can_request_downloads` decides for ordinary users. Admins are always allowed (they can set the flag on
    themselves anyway, so refusing them would only confuse), and so is the operator at the shell (no user)."""
    return user is None or user.is_admin or user.can_request_downloads


def source_paused_until(*, source: str, now: datetime | None = None) -> datetime | None:
    """When a rate limit or bot check on `source` ends, if one is in force (shared by every worker via the DB)."""
    now = now or timezone.now()
    until = DownloadJob.objects.filter(
        source=source, state=JobState.RETRYING, error_class__in=list(PAUSES_SOURCE), next_retry_at__gt=now
    ).aggregate(until=Max("next_retry_at"))["until"]
    return until if isinstance(until, datetime) else None


# The budget is counted over a sliding day, so it never resets for everyone at once at midnight.
BUDGET_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class DownloadBudget:
    """How many songs a user may ask to download per BUDGET_WINDOW (None: no limit), how many were asked for in
    the last one, and when the next one frees up (None while some are left)."""

    limit: int | None
    used: int
    frees_at: datetime | None

    @property
    def exhausted(self) -> bool:
        return self.limit is not None and self.used >= self.limit


def download_budget(*, user: User | None) -> DownloadBudget:
    """The user's own `download_daily_limit`, else DOWNLOAD_DAILY_LIMIT; 0 is no limit. Songs count whichever way
    they were asked for (alone, or as tracks of an album or playlist); admins and the shell have no limit."""
    if user is None or user.is_admin:
        return DownloadBudget(limit=None, used=0, frees_at=None)
    limit = user.download_daily_limit if user.download_daily_limit is not None else settings.DOWNLOAD_DAILY_LIMIT
    if not limit:
        return DownloadBudget(limit=None, used=0, frees_at=None)
    since = timezone.now() - BUDGET_WINDOW
    asked = DownloadJob.objects.filter(requested_by=user, kind=JobKind.SONG, created_at__gt=since)
    used = asked.count()
    frees_at = None
    if used >= limit:
        # Once the (used - limit + 1) oldest songs of the window have aged out, one is free again.
        oldest = asked.order_by("created_at").values_list("created_at", flat=True)[used - limit]
        frees_at = oldest + BUDGET_WINDOW
    return DownloadBudget(limit=limit, used=used, frees_at=frees_at)


def download_jobs_visible(
    *, user: User, state: str | None = None, user_id: int | None = None, top_level: bool = False
) -> QuerySet[DownloadJob]:
    """Users see their own jobs, admins everyone's (optionally one user's)."""
    qs = DownloadJob.objects.select_related("requested_by", "track").order_by("-created_at")
    if not user.is_admin:
        if user_id is not None and user_id != user.pk:
            raise PermissionDeniedError("only admins may list other users' downloads")
        qs = qs.filter(requested_by=user)
    elif user_id is not None:
        qs = qs.filter(requested_by_id=user_id)
    if state:
        if state not in JobState.values:
            raise InvalidInputError(f"state must be one of {', '.join(JobState.values)}", details={"state": state})
        qs = qs.filter(state=state)
    if top_level:
        qs = qs.filter(parent__isnull=True)
    return qs


def download_job_get(*, user: User, job_id: Any) -> DownloadJob:
    """One job the user may see; NotFoundError otherwise (other users' jobs are not revealed)."""
    try:
        return download_jobs_visible(user=user).get(pk=uuid.UUID(str(job_id)))
    except (DownloadJob.DoesNotExist, ValueError) as exc:
        raise NotFoundError("no such download", details={"id": str(job_id)}) from exc


def download_job_state(*, job_id: Any) -> tuple[str, str]:
    """A job's state and error message, whoever asked for it (for a player waiting on a shared download)."""
    row = DownloadJob.objects.filter(pk=job_id).values_list("state", "error_message").first()
    if row is None:
        raise NotFoundError("no such download", details={"id": str(job_id)})
    return row


def download_jobs_active_count(*, source: str | None = None) -> int:
    """Songs queued, running or waiting to retry (what a "scan in progress" indicator should count)."""
    qs = DownloadJob.objects.filter(kind=JobKind.SONG, state__in=ACTIVE_STATES)
    return qs.filter(source=source).count() if source else qs.count()


def download_job_children_counts(*, job: DownloadJob) -> dict[str, int]:
    """How many of an album/playlist job's tracks are in each state."""
    rows = job.children.values("state").annotate(n=Count("pk")).order_by()
    return {row["state"]: row["n"] for row in rows}


@dataclass(frozen=True)
class MarkedResult:
    """An external search hit plus what the library already knows about it."""

    result: SearchResult
    track_id: int | None = None
    job_id: str | None = None
    job_state: str | None = None


def search_results_mark(*, results: Sequence[SearchResult]) -> list[MarkedResult]:
    """Mark each hit as already in the library (its track) or already queued (its active job). A song is in the
    library when a track came from the same source item, or, for hits that carry one, has the same ISRC or
    MusicBrainz recording id (bought, ripped or downloaded elsewhere). Two queries, three with such hits."""
    if not results:
        return []
    keys = {(r.source, r.external_id) for r in results}
    sources = {source for source, _ in keys}
    ids = {external_id for _, external_id in keys}
    songs = [r for r in results if r.kind == ResultKind.SONG]
    tracks: dict[tuple[str, str], int] = {}
    if songs:
        for track_id, source, source_id in Track.objects.filter(source__in=sources, source_id__in=ids).values_list(
            "pk", "source", "source_id"
        ):
            tracks[(source, source_id)] = track_id
    by_isrc, by_recording = _tracks_by_identity(songs)
    jobs: dict[tuple[str, str], tuple[str, str]] = {}
    active = DownloadJob.objects.filter(Q(source__in=sources, external_id__in=ids), state__in=ACTIVE_STATES)
    for job_id, source, external_id, state in active.values_list("pk", "source", "external_id", "state"):
        jobs[(source, external_id)] = (str(job_id), state)
    marked = []
    for r in results:
        key = (r.source, r.external_id)
        job = jobs.get(key)
        held: int | None = None
        if r.kind == ResultKind.SONG:
            held = tracks.get(key) or by_isrc.get(r.isrc.upper()) or by_recording.get(r.musicbrainz_recording_id)
        marked.append(
            MarkedResult(
                result=r,
                track_id=held,
                job_id=job[0] if job else None,
                job_state=job[1] if job else None,
            )
        )
    return marked


def _tracks_by_identity(songs: Sequence[SearchResult]) -> tuple[dict[str, int], dict[str, int]]:
    """Library tracks by ISRC (upper case, as registered) and by MusicBrainz recording id, for the hits' ones."""
    isrcs = {song.isrc.upper() for song in songs if song.isrc}
    recordings = {song.musicbrainz_recording_id for song in songs if song.musicbrainz_recording_id}
    by_isrc: dict[str, int] = {}
    by_recording: dict[str, int] = {}
    if not isrcs and not recordings:
        return by_isrc, by_recording
    same = Q(isrc__in=isrcs | {isrc.lower() for isrc in isrcs}) | Q(musicbrainz_recording_id__in=recordings)
    matching = Track.objects.filter(same, is_missing=False).order_by("pk")
    for track_id, isrc, recording in matching.values_list("pk", "isrc", "musicbrainz_recording_id"):
        if isrc:
            by_isrc.setdefault(isrc.upper(), track_id)
        if recording:
            by_recording.setdefault(recording, track_id)
    return by_isrc, by_recording


@dataclass(frozen=True)
class SourceHits:
    """One source's raw hits for a search over several sources, or why it has none."""

    source: str
    results: Sequence[SearchResult]
    error: dict[str, str] | None = None


@dataclass(frozen=True)
class SourceSearch:
    """One source's part of a search over every source: its marked hits, or why it has none."""

    source: str
    results: list[MarkedResult]
    error: dict[str, str] | None = None


def sources_search(*, query: str, kind: ResultKind | None, limit: int, only: str | None = None) -> list[SourceHits]:
    """Search every enabled searchable source (or only the one named `only`); a failing source degrades to an
    error entry, never an exception. Reads no database, so it may run in a worker thread under a deadline."""
    outcomes: list[SourceHits] = []
    for source in all_sources():
        if not isinstance(source, Searchable) or (only is not None and source.name != only):
            continue
        try:
            source_health_check(source)
            found = source.search(query=query, kind=kind, limit=limit)
        except ApplicationError as exc:
            outcomes.append(SourceHits(source.name, [], {"code": exc.code, "message": exc.message}))
            continue
        outcomes.append(SourceHits(source.name, found))
    return outcomes


def source_search(*, source: str, query: str, kind: ResultKind | None, limit: int) -> list[MarkedResult]:
    """One source's hits, marked. Raises UnknownSourceError, CapabilityMissingError, SourceUnavailableError, or
    SourceRequestError when the source fails to answer."""
    backend = get_source(source)
    if not isinstance(backend, Searchable):
        raise CapabilityMissingError(f"source {source!r} cannot search", details={"source": source})
    source_health_check(backend)
    return search_results_mark(results=backend.search(query=query, kind=kind, limit=limit))


def external_search(*, query: str, kind: ResultKind | None, limit: int) -> list[SourceSearch]:
    """`sources_search` with each hit marked with what the library already has."""
    return [
        SourceSearch(hits.source, search_results_mark(results=hits.results), hits.error)
        for hits in sources_search(query=query, kind=kind, limit=limit)
    ]


def download_jobs_state_counts(*, user: User) -> dict[str, int]:
    """How many songs the user may see are in each state (admins: everyone's), for the dashboard: one query."""
    rows = download_jobs_visible(user=user).filter(kind=JobKind.SONG).order_by().values("state").annotate(n=Count("pk"))
    counts = dict.fromkeys(JobState.values, 0)
    counts.update({row["state"]: row["n"] for row in rows})
    return counts


def download_jobs_with_children(jobs: QuerySet[DownloadJob]) -> QuerySet[DownloadJob]:
    """`jobs` with each album's or playlist's tracks fetched alongside (one more query per page)."""
    return jobs.prefetch_related(Prefetch("children", queryset=DownloadJob.objects.order_by("created_at")))
