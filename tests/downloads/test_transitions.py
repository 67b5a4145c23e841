"""The state machine's entry resets: what each state clears on entry, and what it keeps."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db.models import Q
from django.utils import timezone

from downloads.models import DownloadJob, ErrorClass, JobPhase, JobState
from downloads.services.transitions import job_transition

pytestmark = pytest.mark.django_db

_LONG_AGO = timezone.now() - timedelta(days=3)
_LATER = timezone.now() + timedelta(hours=1)
# A job carrying a value in every field some state resets.
_DIRTY: dict[str, Any] = {
    "phase": JobPhase.DOWNLOADING,
    "concurrency_slot": 1,
    "speed": 1000.0,
    "eta": 30,
    "next_retry_at": _LATER,
    "enqueued_at": _LONG_AGO,
    "finished_at": _LONG_AGO,
    "error_class": ErrorClass.TRANSIENT,
    "error_code": "http_503",
    "error_message": "try later",
}
_CLEARED: dict[str, Any] = {
    "phase": JobPhase.NONE,
    "concurrency_slot": None,
    "speed": None,
    "eta": None,
    "next_retry_at": None,
    "enqueued_at": None,
    "finished_at": None,
    "error_class": ErrorClass.NONE,
    "error_code": "",
    "error_message": "",
}
_STAMPED = object()  # set to the moment of the transition

_EXPECTED_RESETS: dict[JobState, dict[str, Any]] = {
    # Waiting again: no slot, no transfer figures, not sent for this wait yet; the last error stays visible.
    JobState.QUEUED: {f: _CLEARED[f] for f in ("phase", "concurrency_slot", "speed", "eta", "next_retry_at")}
    | {"enqueued_at": None, "finished_at": None},
    # Waiting for a retry: as queued, but the caller sets when (next_retry_at), and finished_at is never set.
    JobState.RETRYING: {f: _CLEARED[f] for f in ("phase", "concurrency_slot", "speed", "eta", "enqueued_at")},
    # Running: no wait and no end; the phase and the slot are the claim's.
    JobState.RUNNING: {f: _CLEARED[f] for f in ("speed", "eta", "next_retry_at", "finished_at")},
    # Final states free everything and stamp their end; only success clears the error.
    JobState.SUCCEEDED: {f: _CLEARED[f] for f in _CLEARED if f not in ("enqueued_at", "finished_at")}
    | {"finished_at": _STAMPED},
    JobState.FAILED: {f: _CLEARED[f] for f in ("phase", "concurrency_slot", "speed", "eta", "next_retry_at")}
    | {"finished_at": _STAMPED},
    JobState.CANCELLED: {f: _CLEARED[f] for f in ("phase", "concurrency_slot", "speed", "eta", "next_retry_at")}
    | {"finished_at": _STAMPED},
}


def test_every_state_has_its_resets_pinned() -> None:
    assert set(_EXPECTED_RESETS) == set(JobState)


@pytest.mark.parametrize("state", list(JobState))
def test_entering_a_state_resets_its_fields_and_keeps_the_others(state: JobState) -> None:
    # Most transitions leave RUNNING; this one job has no rival for its slot or its item.
    job = DownloadJob.objects.create(source="youtube", external_id="vidAAAAAAA1", state=JobState.RUNNING, **_DIRTY)
    before = timezone.now()

    assert job_transition(job.pk, to=state) is True

    job.refresh_from_db()
    assert job.state == state
    expected = _EXPECTED_RESETS[state]
    for field, dirty in _DIRTY.items():
        value = getattr(job, field)
        if field not in expected:
            assert value == dirty, f"{field} must survive entering {state}"
        elif expected[field] is _STAMPED:
            assert value is not None, f"{field} must be stamped on entering {state}"
            assert value >= before
        else:
            assert value == expected[field], f"{field} must reset on entering {state}"


def test_the_transitions_own_fields_override_the_resets() -> None:
    job = DownloadJob.objects.create(source="youtube", external_id="vidAAAAAAA1", state=JobState.RUNNING, **_DIRTY)
    due = timezone.now()

    job_transition(job.pk, to=JobState.QUEUED, next_retry_at=due, error_code="worker_lost")

    job.refresh_from_db()
    assert (job.next_retry_at, job.error_code, job.concurrency_slot) == (due, "worker_lost", None)


def test_a_guard_that_no_longer_holds_changes_nothing() -> None:
    job = DownloadJob.objects.create(source="youtube", external_id="vidAAAAAAA1", state=JobState.SUCCEEDED)

    assert job_transition(job.pk, to=JobState.RUNNING, guard=Q(state=JobState.FAILED)) is False

    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED
