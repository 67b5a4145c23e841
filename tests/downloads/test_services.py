"""DownloadService against the fake YouTube Music: every state transition, real files, real tags."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from downloads import services
from downloads.models import DownloadJob, ErrorClass, JobKind, JobPhase, JobState
from downloads.services import (
    RunStatus,
    download_job_cancel,
    download_job_retry,
    download_job_run,
    download_jobs_retry_failed,
    download_jobs_sweep,
    download_request,
    download_request_lookup,
    enqueueing,
    pipeline,
    source_paused_until,
)
from library.models import Track
from library.storage import media_path
from library.tags import read_tags
from mcma.errors import ConflictError, InvalidInputError, PermissionDeniedError
from sources.errors import SourceUnavailableError, UnknownSourceError
from tests.factories.accounts import AdminFactory, UserFactory
from tests.factories.library import TrackFactory
from tests.fakes.fixtures import FakeYouTube


def _make_user(*, admin: bool = False) -> User:
    return cast(User, AdminFactory() if admin else UserFactory())


def _make_track(**fields: Any) -> Track:
    return cast(Track, TrackFactory(**fields))


pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[list[str], float | None]]:
    """Records what would be sent to the broker (on_commit callbacks do run in some tests)."""
    calls: list[tuple[list[str], float | None]] = []
    monkeypatch.setattr(enqueueing, "jobs_send", lambda ids, countdown=None: calls.append((list(ids), countdown)))
    return calls


def _request(external_id: str = "vidAAAAAAA1", kind: str = JobKind.SONG, user: Any = None) -> DownloadJob:
    result = download_request(user=user, source="youtube", external_id=external_id, kind=kind)
    assert result.job is not None
    return result.job


def _run(job: DownloadJob) -> services.RunOutcome:
    outcome = download_job_run(job_id=str(job.pk))
    job.refresh_from_db()
    return outcome


def _library_files() -> list[Path]:
    root = media_path("x").parent
    return sorted(p for p in root.rglob("*") if p.is_file() and ".incoming" not in p.parts)


# -- requests -----------------------------------------------------------------------------------------------------
def test_request_creates_a_queued_job_and_enqueues_after_commit(
    fake_youtube: FakeYouTube, sent: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    user = _make_user()

    with django_capture_on_commit_callbacks(execute=True):
        result = download_request(user=user, source="youtube", external_id="vidAAAAAAA1", kind="song")

    assert result.created is True
    assert result.job is not None
    assert result.job.state == JobState.QUEUED
    assert result.job.requested_by == user
    assert sent == [([str(result.job.pk)], None)]


def test_duplicate_request_returns_the_active_job(fake_youtube: FakeYouTube) -> None:
    first = _request()

    again = download_request(user=_make_user(), source="youtube", external_id="vidAAAAAAA1", kind="song")

    assert again.created is False
    assert again.job == first
    assert DownloadJob.objects.count() == 1


def test_the_database_refuses_a_second_active_job() -> None:
    DownloadJob.objects.create(source="youtube", external_id="x1")
    with pytest.raises(IntegrityError), transaction.atomic():
        DownloadJob.objects.create(source="youtube", external_id="x1", state=JobState.RETRYING)
    # Finished jobs don't count: the item may be requested again.
    DownloadJob.objects.create(source="youtube", external_id="x2", state=JobState.FAILED)
    DownloadJob.objects.create(source="youtube", external_id="x2")


def test_request_for_a_track_in_the_library_returns_it(fake_youtube: FakeYouTube) -> None:
    track = _make_track(source="youtube", source_id="vidAAAAAAA1")

    result = download_request(user=None, source="youtube", external_id="vidAAAAAAA1", kind="song")

    assert result.track == track
    assert result.job is None
    assert not DownloadJob.objects.exists()


@pytest.mark.parametrize(("external_id", "kind"), [("bad id!", "song"), ("", "song"), ("vid1", "artist")])
def test_invalid_requests(fake_youtube: FakeYouTube, external_id: str, kind: str) -> None:
    with pytest.raises(InvalidInputError):
        download_request(user=None, source="youtube", external_id=external_id, kind=kind)


def test_unknown_and_disabled_sources(settings: Any) -> None:
    with pytest.raises(UnknownSourceError) as unknown:
        download_request(user=None, source="nope", external_id="x", kind="song")
    assert "youtube" in unknown.value.details["known"]

    settings.MCMA_SOURCES = {
        "youtube": {"BACKEND": "sources.backends.youtube.YouTubeMusicSource", "OPTIONS": {"enabled": False}}
    }
    with pytest.raises(SourceUnavailableError, match="YOUTUBE_ENABLED"):
        download_request(user=None, source="youtube", external_id="x", kind="song")


def test_lookup_by_search_or_link(fake_youtube: FakeYouTube) -> None:
    by_search = download_request_lookup(user=None, source="youtube", query_or_url="port zero", kind="song")
    by_link = download_request_lookup(
        user=None, source="youtube", query_or_url=f"{fake_youtube.base_url}/browse/MPREb_fakealbum01", kind="song"
    )

    assert by_search.job is not None
    assert by_search.job.external_id == "vidAAAAAAA2"
    assert by_link.job is not None
    assert (by_link.job.kind, by_link.job.external_id) == (JobKind.ALBUM, "MPREb_fakealbum01")


# -- running: success ---------------------------------------------------------------------------------------------
def test_run_downloads_tags_and_imports(fake_youtube: FakeYouTube) -> None:
    job = _request()

    outcome = _run(job)

    assert outcome.status == RunStatus.SUCCEEDED
    assert job.state == JobState.SUCCEEDED
    assert (job.attempt, job.percent, job.concurrency_slot) == (1, 100.0, None)
    track = Track.objects.get()
    assert job.track == track
    assert (track.source, track.source_id) == ("youtube", "vidAAAAAAA1")
    assert track.path == "The Fakes/Loopback Dreams (2017)/01 Localhost Blues.ogg"
    tags = read_tags(media_path(track.path))
    assert (tags.title, tags.album, tags.album_artist, tags.track_number, tags.year) == (
        "Localhost Blues",
        "Loopback Dreams",
        "The Fakes",
        1,
        2017,
    )
    assert tags.lyrics == "la la la\nlocal host"
    assert tags.has_cover
    assert track.album.cover_path
    assert track.album.cover_source == "source"  # ranked below the archive, which may replace it
    assert media_path(track.album.cover_path).is_file()
    assert track.source_metadata["extra"]["video_type"] == "MUSIC_VIDEO_TYPE_ATV"
    assert _library_files() == sorted([media_path(track.path), media_path(track.album.cover_path)])
    assert not fake_youtube.work_dir.exists() or not any(fake_youtube.work_dir.rglob("*"))


def test_running_twice_is_a_no_op(fake_youtube: FakeYouTube) -> None:
    job = _request()
    _run(job)

    assert download_job_run(job_id=str(job.pk)).status == RunStatus.SKIPPED
    assert Track.objects.count() == 1


def test_a_crash_between_move_and_commit_leaves_one_track_and_one_file(
    fake_youtube: FakeYouTube, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    job = _request()
    real_upsert = pipeline.track_upsert

    def die(**kwargs: Any) -> Any:
        # Simulates the worker dying right after the file reached the library: the job stays "running".
        raise SystemExit("killed")

    monkeypatch.setattr(pipeline, "track_upsert", die)
    with pytest.raises(SystemExit):
        download_job_run(job_id=str(job.pk))
    job.refresh_from_db()
    assert job.state == JobState.RUNNING
    assert not Track.objects.exists()

    monkeypatch.setattr(pipeline, "track_upsert", real_upsert)
    settings.DOWNLOAD_STALE_AFTER_SECONDS = 0
    DownloadJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=5))
    assert _run(job).status == RunStatus.SUCCEEDED

    track = Track.objects.get()
    assert _library_files() == sorted([media_path(track.path), media_path(track.album.cover_path)])
    assert job.attempt == 2


def test_an_earlier_attempt_that_stored_its_file_is_reused(fake_youtube: FakeYouTube, monkeypatch: Any) -> None:
    """Killed after the move (SIGKILL: no cleanup ran): the next attempt overwrites the same path."""
    job = _request()
    _run(job)
    track = Track.objects.get()
    stored = track.path
    # Rewind to "file stored, no Track yet" as a SIGKILL between move and commit would leave it.
    Track.objects.all().delete()
    DownloadJob.objects.filter(pk=job.pk).update(state=JobState.RETRYING, next_retry_at=None, track=None)

    assert _run(job).status == RunStatus.SUCCEEDED

    assert Track.objects.get().path == stored
    assert [p for p in _library_files() if p.suffix == ".ogg"] == [media_path(stored)]


# -- running: failures and retries --------------------------------------------------------------------------------
def test_rate_limit_retries_later_and_pauses_the_source(fake_youtube: FakeYouTube, settings: Any) -> None:
    fake_youtube.catalog.songs["vidAAAAAAA1"].media = "status:429"
    job = _request()
    other = _request("vidAAAAAAA2")

    outcome = _run(job)

    assert outcome.status == RunStatus.RETRY
    assert outcome.delay is not None
    assert outcome.delay >= settings.DOWNLOAD_RATE_LIMIT_PAUSE_SECONDS
    assert job.state == JobState.RETRYING
    assert (job.error_class, job.error_code) == (ErrorClass.RATE_LIMITED, "rate_limited")
    assert job.next_retry_at is not None
    assert job.next_retry_at > timezone.now() + timedelta(minutes=29)
    assert job.concurrency_slot is None
    assert source_paused_until(source="youtube") == job.next_retry_at
    # Every other job of the source waits too, without spending an attempt.
    assert _run(other).status == RunStatus.DEFERRED
    assert (other.state, other.attempt) == (JobState.QUEUED, 0)


def test_server_errors_retry_with_backoff_until_attempts_run_out(fake_youtube: FakeYouTube, settings: Any) -> None:
    settings.DOWNLOAD_RETRY_BASE_SECONDS = 30
    fake_youtube.catalog.songs["vidAAAAAAA1"].media = "status:503"
    job = _request()
    DownloadJob.objects.filter(pk=job.pk).update(max_attempts=3)

    delays: list[float] = []
    for _ in range(2):
        outcome = _run(job)
        assert outcome.status == RunStatus.RETRY
        assert job.state == JobState.RETRYING
        assert outcome.delay is not None
        delays.append(outcome.delay)
        assert download_job_run(job_id=str(job.pk)).status == RunStatus.SKIPPED  # not due yet
        DownloadJob.objects.filter(pk=job.pk).update(next_retry_at=timezone.now())
    assert 15 <= delays[0] <= 30
    assert 30 <= delays[1] <= 60

    assert _run(job).status == RunStatus.FAILED
    assert (job.state, job.attempt, job.error_code) == (JobState.FAILED, 3, "server_error")
    assert job.finished_at is not None


def test_not_found_fails_at_once(fake_youtube: FakeYouTube) -> None:
    fake_youtube.catalog.songs["vidAAAAAAA1"].media = "status:404"
    job = _request()

    assert _run(job).status == RunStatus.FAILED
    assert (job.error_class, job.error_code, job.attempt) == (ErrorClass.PERMANENT, "unavailable", 1)
    assert not Track.objects.exists()


def test_a_track_missing_from_the_source_fails_at_once(fake_youtube: FakeYouTube) -> None:
    job = _request("gone1234567")

    assert _run(job).status == RunStatus.FAILED
    assert job.error_class == ErrorClass.PERMANENT


def test_truncated_downloads_are_retried(fake_youtube: FakeYouTube) -> None:
    fake_youtube.catalog.songs["vidAAAAAAA1"].media = "truncated"
    job = _request()

    assert _run(job).status == RunStatus.RETRY
    assert job.error_code == "network"
    assert not any(fake_youtube.work_dir.rglob("*.part"))


def test_a_file_that_is_not_the_track_is_refused(fake_youtube: FakeYouTube) -> None:
    song = fake_youtube.catalog.songs["vidAAAAAAA1"]
    song.media_name = "long.opus"  # 30 s of audio for a 2 s track
    job = _request()

    assert _run(job).status == RunStatus.RETRY
    assert job.error_code == "duration_mismatch"
    assert not Track.objects.exists()
    assert _library_files() == []


def test_a_file_that_is_not_audio_fails(fake_youtube: FakeYouTube) -> None:
    fake_youtube.catalog.songs["vidAAAAAAA1"].media_name = "not-audio.opus"
    job = _request()

    assert _run(job).status == RunStatus.FAILED
    assert job.error_class in (ErrorClass.PERMANENT, ErrorClass.CONFIG)
    assert _library_files() == []


def test_bad_cookies_fail_the_job_with_cookies_config(fake_youtube: FakeYouTube, tmp_path: Path, settings: Any) -> None:
    job = _request()
    cookies = tmp_path / "cookies.txt"
    cookies.write_text("# Netscape HTTP Cookie File\n")
    cookies.chmod(0o644)
    options = settings.MCMA_SOURCES["youtube"]["OPTIONS"]
    settings.MCMA_SOURCES = {
        **settings.MCMA_SOURCES,
        "youtube": {**settings.MCMA_SOURCES["youtube"], "OPTIONS": {**options, "cookies_file": str(cookies)}},
    }

    assert _run(job).status == RunStatus.FAILED
    assert (job.error_class, job.error_code) == (ErrorClass.CONFIG, "cookies_config")
    assert f"chmod 600 {cookies}" in job.error_message


# -- concurrency --------------------------------------------------------------------------------------------------
def test_concurrency_limit_per_source(fake_youtube: FakeYouTube, settings: Any) -> None:
    settings.DOWNLOAD_CONCURRENCY_PER_SOURCE = 2
    now = timezone.now()
    for slot, external_id in enumerate(["busy1", "busy2"]):
        DownloadJob.objects.create(
            source="youtube",
            external_id=external_id,
            state=JobState.RUNNING,
            concurrency_slot=slot,
            heartbeat_at=now,
            attempt=1,
        )
    job = _request()

    assert _run(job).status == RunStatus.DEFERRED
    assert job.state == JobState.QUEUED

    DownloadJob.objects.filter(external_id="busy1").update(state=JobState.SUCCEEDED, concurrency_slot=None)
    assert _run(job).status == RunStatus.SUCCEEDED


def test_the_database_refuses_a_slot_twice() -> None:
    DownloadJob.objects.create(source="youtube", external_id="a", state=JobState.RUNNING, concurrency_slot=0)
    with pytest.raises(IntegrityError), transaction.atomic():
        DownloadJob.objects.create(source="youtube", external_id="b", state=JobState.RUNNING, concurrency_slot=0)


# -- cancel -------------------------------------------------------------------------------------------------------
def test_cancel_a_queued_job(fake_youtube: FakeYouTube) -> None:
    user = _make_user()
    job = _request(user=user)

    cancelled = download_job_cancel(job=job, actor=user)

    assert cancelled.state == JobState.CANCELLED
    assert download_job_run(job_id=str(job.pk)).status == RunStatus.SKIPPED
    with pytest.raises(ConflictError):
        download_job_cancel(job=cancelled, actor=user)


def test_only_the_owner_or_an_admin_may_cancel(fake_youtube: FakeYouTube) -> None:
    job = _request(user=_make_user())

    with pytest.raises(PermissionDeniedError):
        download_job_cancel(job=job, actor=_make_user())
    assert download_job_cancel(job=job, actor=_make_user(admin=True)).state == JobState.CANCELLED


def test_cancel_during_download_stops_it_and_removes_partials(
    fake_youtube: FakeYouTube, monkeypatch: pytest.MonkeyPatch
) -> None:
    song = fake_youtube.catalog.songs["vidUGCUGC01"]
    song.media, song.media_name, song.seconds = "slow", "long.opus", 30
    user = _make_user()
    job = _request("vidUGCUGC01", user=user)
    real_writer = pipeline._progress_writer
    partials: list[list[Path]] = []

    def cancelling_writer(running: DownloadJob) -> Any:
        write = real_writer(running)

        def on_progress(progress: Any) -> None:
            write(progress)
            if progress.downloaded_bytes and not partials:
                partials.append(list(fake_youtube.work_dir.rglob("*.part")))
                # The user presses "cancel" while bytes are arriving.
                download_job_cancel(job=DownloadJob.objects.get(pk=running.pk), actor=user)

        return on_progress

    monkeypatch.setattr(pipeline, "_progress_writer", cancelling_writer)

    assert _run(job).status == RunStatus.CANCELLED
    assert job.state == JobState.CANCELLED
    assert partials, "the download was in progress when cancelled"
    assert partials[0], "yt-dlp had a partial file when the cancel came"
    assert not any(fake_youtube.work_dir.rglob("*"))
    assert not Track.objects.exists()
    assert _library_files() == []


# -- retry --------------------------------------------------------------------------------------------------------
def test_retry_a_failed_job_with_a_fresh_budget(fake_youtube: FakeYouTube, sent: list[Any]) -> None:
    fake_youtube.catalog.songs["vidAAAAAAA1"].media = "status:404"
    user = _make_user()
    job = _request(user=user)
    _run(job)
    fake_youtube.catalog.songs["vidAAAAAAA1"].media = "ok"

    retried = download_job_retry(job=job, actor=user)

    assert retried.state == JobState.QUEUED
    assert (retried.error_code, retried.error_message) == ("", "")
    assert retried.max_attempts == 1 + 5
    assert _run(job).status == RunStatus.SUCCEEDED


def test_retry_a_waiting_retry_runs_it_now(fake_youtube: FakeYouTube) -> None:
    fake_youtube.catalog.songs["vidAAAAAAA1"].media = "status:503"
    user = _make_user()
    job = _request(user=user)
    _run(job)
    fake_youtube.catalog.songs["vidAAAAAAA1"].media = "ok"

    download_job_retry(job=job, actor=user)

    assert _run(job).status == RunStatus.SUCCEEDED


def test_retry_refused_for_active_or_finished_jobs(fake_youtube: FakeYouTube) -> None:
    user = _make_user()
    job = _request(user=user)
    with pytest.raises(ConflictError):
        download_job_retry(job=job, actor=user)
    _run(job)
    with pytest.raises(ConflictError):
        download_job_retry(job=job, actor=user)


def test_retry_refused_when_the_item_is_active_again(fake_youtube: FakeYouTube) -> None:
    user = _make_user()
    job = _request(user=user)
    download_job_cancel(job=job, actor=user)
    _request()  # asked again meanwhile

    with pytest.raises(ConflictError):
        download_job_retry(job=job, actor=user)


def test_retry_failed_is_for_admins(fake_youtube: FakeYouTube) -> None:
    fake_youtube.catalog.songs["vidAAAAAAA1"].media = "status:404"
    fake_youtube.catalog.songs["vidAAAAAAA2"].media = "status:404"
    for external_id in ("vidAAAAAAA1", "vidAAAAAAA2"):
        _run(_request(external_id))

    with pytest.raises(PermissionDeniedError):
        download_jobs_retry_failed(actor=_make_user())
    assert download_jobs_retry_failed(actor=_make_user(admin=True)) == 2
    assert set(DownloadJob.objects.values_list("state", flat=True)) == {JobState.QUEUED}


# -- albums and playlists -----------------------------------------------------------------------------------------
def test_album_job_creates_children_and_finishes_with_them(
    fake_youtube: FakeYouTube, sent: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    _make_track(source="youtube", source_id="vidAAAAAAA2")  # already in the library: no child for it
    parent = _request("MPREb_fakealbum01", kind=JobKind.ALBUM)

    assert _run(parent).status == RunStatus.EXPANDED
    assert (parent.state, parent.phase, parent.title) == (JobState.RUNNING, JobPhase.CHILDREN, "Loopback Dreams")
    children = list(parent.children.all())
    assert [c.external_id for c in children] == ["vidAAAAAAA1"]

    with django_capture_on_commit_callbacks(execute=True):  # the parent is refreshed after the child commits
        assert _run(children[0]).status == RunStatus.SUCCEEDED
    parent.refresh_from_db()
    assert parent.state == JobState.SUCCEEDED
    assert parent.percent == 100.0


def test_album_with_a_failed_track_fails_and_retries_it(
    fake_youtube: FakeYouTube, sent: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    fake_youtube.catalog.songs["vidAAAAAAA2"].media = "status:404"
    user = _make_user()
    parent = _request("MPREb_fakealbum01", kind=JobKind.ALBUM, user=user)
    _run(parent)
    for child in parent.children.all():
        _run(child)
    download_jobs_sweep()
    parent.refresh_from_db()
    assert (parent.state, parent.error_code) == (JobState.FAILED, "tracks_failed")

    fake_youtube.catalog.songs["vidAAAAAAA2"].media = "ok"
    download_job_retry(job=parent, actor=user)
    parent.refresh_from_db()
    assert (parent.state, parent.phase) == (JobState.RUNNING, JobPhase.CHILDREN)
    failed_child = parent.children.get(external_id="vidAAAAAAA2")
    assert failed_child.state == JobState.QUEUED
    with django_capture_on_commit_callbacks(execute=True):
        _run(failed_child)
    parent.refresh_from_db()
    assert parent.state == JobState.SUCCEEDED
    assert Track.objects.count() == 2


def test_cancel_an_album_cancels_its_tracks(fake_youtube: FakeYouTube, sent: list[Any]) -> None:
    user = _make_user()
    parent = _request("PLfakeplaylist01", kind=JobKind.PLAYLIST, user=user)
    _run(parent)
    assert parent.children.count() == 2

    download_job_cancel(job=parent, actor=user)

    assert set(parent.children.values_list("state", flat=True)) == {JobState.CANCELLED}
    parent.refresh_from_db()
    assert parent.state == JobState.CANCELLED


# -- the sweep ----------------------------------------------------------------------------------------------------
def test_sweep_recovers_jobs_whose_worker_died(fake_youtube: FakeYouTube, settings: Any, sent: list[Any]) -> None:
    settings.DOWNLOAD_STALE_AFTER_SECONDS = 60
    old = timezone.now() - timedelta(minutes=5)
    lost = DownloadJob.objects.create(
        source="youtube",
        external_id="vidAAAAAAA1",
        state=JobState.RUNNING,
        attempt=1,
        heartbeat_at=old,
        concurrency_slot=0,
    )
    exhausted = DownloadJob.objects.create(
        source="youtube",
        external_id="vidAAAAAAA2",
        state=JobState.RUNNING,
        attempt=5,
        max_attempts=5,
        heartbeat_at=old,
        concurrency_slot=1,
    )
    alive = DownloadJob.objects.create(
        source="youtube", external_id="vidUGCUGC01", state=JobState.RUNNING, attempt=1, heartbeat_at=timezone.now()
    )

    report = download_jobs_sweep()

    lost.refresh_from_db()
    exhausted.refresh_from_db()
    alive.refresh_from_db()
    assert report.recovered == 2
    assert (lost.state, lost.error_code, lost.concurrency_slot) == (JobState.RETRYING, "worker_lost", None)
    assert (exhausted.state, exhausted.error_code) == (JobState.FAILED, "worker_lost")
    assert alive.state == JobState.RUNNING
    assert [str(lost.pk)] in [ids for ids, _ in sent]  # due at once, re-sent by the same sweep
    assert _run(lost).status == RunStatus.SUCCEEDED


def test_sweep_resends_never_sent_and_due_jobs_only(fake_youtube: FakeYouTube, sent: list[Any]) -> None:
    never_sent = _request()
    just_sent = _request("vidAAAAAAA2")
    DownloadJob.objects.filter(pk=just_sent.pk).update(enqueued_at=timezone.now())
    not_due = DownloadJob.objects.create(
        source="youtube",
        external_id="later",
        state=JobState.RETRYING,
        next_retry_at=timezone.now() + timedelta(hours=1),
    )

    report = download_jobs_sweep()

    resent = [job_id for ids, _ in sent for job_id in ids]
    assert str(never_sent.pk) in resent
    assert str(just_sent.pk) not in resent
    assert str(not_due.pk) not in resent
    assert report.resent == len(resent)
