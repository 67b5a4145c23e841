"""Download requests: who may ask, for what, and one active job per item."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from downloads.errors import DownloadBudgetExceededError, DownloadRequestsNotAllowedError, SourcePausedError
from downloads.models import ACTIVE_STATES, DownloadJob, JobKind
from downloads.selectors import download_budget, source_paused_until, user_may_request_downloads
from downloads.services.enqueueing import jobs_send_on_commit
from library.models import Track
from library.services import pending_references_apply
from mcma.errors import InvalidInputError, NotFoundError
from sources.base import EXTERNAL_ID_PATTERN, Capability, ResultKind, Searchable
from sources.errors import CapabilityMissingError
from sources.registry import get_source, source_health_check
from sources.resolving import Resolvable

_EXTERNAL_ID = re.compile(rf"^{EXTERNAL_ID_PATTERN}$")


@dataclass(frozen=True)
class DownloadRequestResult:
    """What a download request led to: a new job, the already-active job, or the track already in the library."""

    job: DownloadJob | None
    track: Track | None
    created: bool


def resolvable_source(name: str, *, check_health: bool = True) -> Resolvable:
    """The source `name`, if it can download and is healthy (UnknownSourceError / SourceUnavailableError).

    Runs skip the health check: the backend's own calls then fail with the precise error (a disabled source,
    or `cookies_config` from the cookies guard), which is what the job should record.
    """
    source = get_source(name)
    if Capability.DOWNLOAD not in source.capabilities or not isinstance(source, Resolvable):
        raise CapabilityMissingError(f"source {name!r} cannot download", details={"source": name})
    if check_health:
        source_health_check(source)
    return source


def check_may_request(user: User | None) -> None:
    if user is not None and not user_may_request_downloads(user=user):
        raise DownloadRequestsNotAllowedError(
            f"user {user.username!r} may not request downloads; an admin can allow it (can_request_downloads)",
            details={"user": user.username},
        )


def _check_may_start(user: User | None, source: str) -> None:
    """A new download needs the source not to be paused by a rate limit, and the user's daily budget not to be
    used up (checked with the user's row locked, so two requests at once cannot both take the last song)."""
    now = timezone.now()
    paused_until = source_paused_until(source=source, now=now)
    if paused_until is not None:
        raise SourcePausedError(
            f"{source} is rate-limiting downloads until {paused_until:%H:%M} UTC; try again then",
            details={"source": source, "retry_after": math.ceil((paused_until - now).total_seconds())},
        )
    if user is None:
        return
    User.objects.select_for_update().filter(pk=user.pk).first()
    budget = download_budget(user=user)
    if budget.exhausted and budget.frees_at is not None:
        raise DownloadBudgetExceededError(
            f"{user.username} asked for {budget.used} song downloads in the last 24 hours, the most allowed "
            f"({budget.limit}); the next one can be asked for at {budget.frees_at:%H:%M} UTC",
            details={
                "limit": budget.limit,
                "used": budget.used,
                "retry_after": math.ceil((budget.frees_at - now).total_seconds()),
            },
        )


def download_request(*, user: User | None, source: str, external_id: str, kind: str) -> DownloadRequestResult:
    """Ask for `external_id` of `source` to be downloaded; idempotent while a job for it is active."""
    check_may_request(user)
    external_id = external_id.strip()
    if kind not in JobKind.values:
        raise InvalidInputError(f"kind must be one of {', '.join(JobKind.values)}", details={"kind": kind})
    if not _EXTERNAL_ID.match(external_id):
        raise InvalidInputError(
            "external_id must be 1-255 letters, digits, '-' or '_'", details={"external_id": external_id}
        )
    resolvable_source(source)
    if kind == JobKind.SONG:
        track = Track.objects.filter(source=source, source_id=external_id).first()
        if track is not None:
            return DownloadRequestResult(job=None, track=track, created=False)
    existing = active_job(source, external_id)
    if existing is not None:
        return DownloadRequestResult(job=existing, track=None, created=False)
    try:
        with transaction.atomic():
            _check_may_start(user, source)
            job = DownloadJob.objects.create(source=source, external_id=external_id, kind=kind, requested_by=user)
            jobs_send_on_commit([job.pk])
    except IntegrityError:
        # Another request for the same item won the race; the partial unique constraint saw to it.
        existing = active_job(source, external_id)
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
    check_may_request(user)  # before the search: a refused user must not make us query the source
    backend = resolvable_source(source)
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


def active_job(source: str, external_id: str) -> DownloadJob | None:
    return DownloadJob.objects.filter(source=source, external_id=external_id, state__in=ACTIVE_STATES).first()
