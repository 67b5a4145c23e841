"""REST API of downloads and external search."""

from __future__ import annotations

from typing import Any, cast

import pytest
from rest_framework.test import APIClient

from accounts.models import User
from downloads import selectors, services
from downloads.models import DownloadJob, JobState
from downloads.services import download_job_run
from library.models import Track
from mcma.celery import app as celery_app
from tests.factories.accounts import AdminFactory, UserFactory
from tests.factories.library import TrackFactory
from tests.fakes.fixtures import FakeYouTube


def _make_user(*, admin: bool = False) -> User:
    return cast(User, AdminFactory() if admin else UserFactory())


def _make_track(**fields: Any) -> Track:
    return cast(Track, TrackFactory(**fields))


pytestmark = pytest.mark.django_db


def _client(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def user() -> Any:
    return _make_user()


@pytest.fixture
def client(user: Any) -> APIClient:
    return _client(user)


@pytest.fixture
def youtube_disabled(settings: Any) -> None:
    settings.MCMA_SOURCES = {
        **settings.MCMA_SOURCES,
        "youtube": {"BACKEND": "sources.backends.youtube.YouTubeMusicSource", "OPTIONS": {"enabled": False}},
    }


def _post(client: APIClient, external_id: str = "vidAAAAAAA1", kind: str = "song", source: str = "youtube") -> Any:
    return client.post("/api/v1/downloads", {"source": source, "external_id": external_id, "kind": kind}, format="json")


# -- POST /downloads ----------------------------------------------------------------------------------------------
def test_post_creates_a_job_202_then_returns_it_200(fake_youtube: FakeYouTube, client: APIClient) -> None:
    first = _post(client)
    second = _post(client)

    assert first.status_code == 202
    assert first.json()["created"] is True
    job = first.json()["job"]
    assert (job["state"], job["source"], job["external_id"], job["kind"]) == (
        "queued",
        "youtube",
        "vidAAAAAAA1",
        "song",
    )
    assert second.status_code == 200
    assert second.json()["created"] is False
    assert second.json()["job"]["id"] == job["id"]
    assert DownloadJob.objects.count() == 1


def test_post_for_a_track_in_the_library_returns_the_track(fake_youtube: FakeYouTube, client: APIClient) -> None:
    track = _make_track(source="youtube", source_id="vidAAAAAAA1")

    response = _post(client)

    assert response.status_code == 200
    assert response.json()["job"] is None
    assert response.json()["track"]["id"] == track.pk


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({"source": "youtube", "external_id": "x", "kind": "artist"}, 400, "invalid"),
        ({"source": "youtube", "kind": "song"}, 400, "invalid"),
        ({"source": "youtube", "external_id": "../../etc", "kind": "song"}, 400, "invalid"),
        ({"source": "nope", "external_id": "x", "kind": "song"}, 404, "unknown_source"),
    ],
)
def test_post_rejects_bad_input(
    fake_youtube: FakeYouTube, client: APIClient, payload: dict[str, str], status: int, code: str
) -> None:
    response = client.post("/api/v1/downloads", payload, format="json")

    assert response.status_code == status
    assert response.json()["error"]["code"] == code


@pytest.mark.usefixtures("youtube_disabled")
def test_post_to_a_disabled_source_is_409_with_why(client: APIClient) -> None:
    response = _post(client)

    assert response.status_code == 409
    assert "YOUTUBE_ENABLED" in response.json()["error"]["message"]


def test_post_needs_authentication(fake_youtube: FakeYouTube) -> None:
    assert _post(APIClient()).status_code == 401


def test_broker_down_still_saves_the_job_and_answers_202(
    fake_youtube: FakeYouTube,
    client: APIClient,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    # A real publish to a Redis that is not there (port 1 refuses connections at once). Publishing uses the
    # write URL; the test gets pools of its own, so no other test inherits the dead broker.
    monkeypatch.setitem(celery_app.conf, "broker_write_url", "redis://127.0.0.1:1/0")
    monkeypatch.setattr(celery_app, "_pool", None)
    monkeypatch.setattr(celery_app.amqp, "_producer_pool", None)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = _post(client)

    assert response.status_code == 202
    assert len(callbacks) == 1
    job = DownloadJob.objects.get()
    assert job.state == JobState.QUEUED
    assert job.enqueued_at is None  # never reached the broker: the sweep will send it


def test_sweep_sends_what_the_broker_missed(
    fake_youtube: FakeYouTube, client: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    _post(client)
    published: list[tuple[Any, ...]] = []
    monkeypatch.setattr(
        "downloads.tasks.download_task.apply_async", lambda args, **kwargs: published.append(tuple(args))
    )

    services.download_jobs_sweep()

    job = DownloadJob.objects.get()
    assert published == [(str(job.pk),)]
    assert job.enqueued_at is not None


# -- GET /downloads -----------------------------------------------------------------------------------------------
def test_users_see_their_own_jobs_admins_all(fake_youtube: FakeYouTube, user: Any) -> None:
    other = _make_user()
    _post(_client(user), "vidAAAAAAA1")
    _post(_client(other), "vidAAAAAAA2")
    admin = _client(_make_user(admin=True))

    mine = _client(user).get("/api/v1/downloads").json()
    everyone = admin.get("/api/v1/downloads").json()
    others = admin.get(f"/api/v1/downloads?user={other.pk}").json()

    assert [j["external_id"] for j in mine["results"]] == ["vidAAAAAAA1"]
    assert {j["external_id"] for j in everyone["results"]} == {"vidAAAAAAA1", "vidAAAAAAA2"}
    assert [j["external_id"] for j in others["results"]] == ["vidAAAAAAA2"]
    assert _client(user).get(f"/api/v1/downloads?user={other.pk}").status_code == 403


def test_filter_by_state(fake_youtube: FakeYouTube, client: APIClient) -> None:
    _post(client, "vidAAAAAAA1")
    job_id = _post(client, "vidAAAAAAA2").json()["job"]["id"]
    client.post(f"/api/v1/downloads/{job_id}/cancel")

    cancelled = client.get("/api/v1/downloads?state=cancelled").json()["results"]

    assert [j["id"] for j in cancelled] == [job_id]
    assert client.get("/api/v1/downloads?state=bogus").status_code == 400


def test_detail_shows_progress_and_the_track(fake_youtube: FakeYouTube, client: APIClient) -> None:
    job_id = _post(client).json()["job"]["id"]
    download_job_run(job_id=job_id)

    body = client.get(f"/api/v1/downloads/{job_id}").json()

    assert body["state"] == "succeeded"
    assert body["progress"]["percent"] == 100.0
    assert body["track"]["title"] == "Localhost Blues"
    assert body["error"] is None


def test_other_users_jobs_are_not_found(fake_youtube: FakeYouTube, client: APIClient) -> None:
    job_id = _post(client).json()["job"]["id"]
    stranger = _client(_make_user())

    assert stranger.get(f"/api/v1/downloads/{job_id}").status_code == 404
    assert stranger.post(f"/api/v1/downloads/{job_id}/cancel").status_code == 404
    assert client.get("/api/v1/downloads/00000000-0000-0000-0000-000000000000").status_code == 404


# -- cancel / retry -----------------------------------------------------------------------------------------------
def test_cancel_then_retry(fake_youtube: FakeYouTube, client: APIClient) -> None:
    job_id = _post(client).json()["job"]["id"]

    cancelled = client.post(f"/api/v1/downloads/{job_id}/cancel")
    again = client.post(f"/api/v1/downloads/{job_id}/cancel")
    retried = client.post(f"/api/v1/downloads/{job_id}/retry")

    assert (cancelled.status_code, cancelled.json()["state"]) == (200, "cancelled")
    assert (again.status_code, again.json()["error"]["code"]) == (409, "conflict")
    assert (retried.status_code, retried.json()["state"]) == (202, "queued")
    assert client.post(f"/api/v1/downloads/{job_id}/retry").status_code == 409


def test_failed_job_shows_why(fake_youtube: FakeYouTube, client: APIClient) -> None:
    fake_youtube.catalog.songs["vidAAAAAAA1"].media = "status:404"
    job_id = _post(client).json()["job"]["id"]
    download_job_run(job_id=job_id)

    error = client.get(f"/api/v1/downloads/{job_id}").json()["error"]

    assert (error["class"], error["code"]) == ("permanent", "unavailable")
    assert "no longer available" in error["message"]


def test_retry_failed_is_admin_only(fake_youtube: FakeYouTube, client: APIClient) -> None:
    fake_youtube.catalog.songs["vidAAAAAAA1"].media = "status:404"
    job_id = _post(client).json()["job"]["id"]
    download_job_run(job_id=job_id)

    assert client.post("/api/v1/downloads/retry-failed").status_code == 403
    response = _client(_make_user(admin=True)).post("/api/v1/downloads/retry-failed")
    assert (response.status_code, response.json()) == (202, {"retried": 1})


# -- GET /sources/{source}/search ---------------------------------------------------------------------------------
def test_search_marks_library_and_queue(fake_youtube: FakeYouTube, client: APIClient) -> None:
    track = _make_track(source="youtube", source_id="vidAAAAAAA1")
    job_id = _post(client, "vidAAAAAAA2").json()["job"]["id"]

    body = client.get("/api/v1/sources/youtube/search", {"q": "loopback", "kind": "song"}).json()

    hits = {h["external_id"]: h for h in body["results"]}
    assert body["source"] == "youtube"
    assert hits["vidAAAAAAA1"]["in_library"] == track.pk
    assert hits["vidAAAAAAA2"]["active_job"] == {"id": job_id, "state": "queued"}
    assert hits["vidAAAAAAA2"]["in_library"] is None
    assert hits["vidAAAAAAA2"]["artists"] == ["The Fakes", "Guest Star"]


def test_search_unknown_source_lists_the_known_ones(fake_youtube: FakeYouTube, client: APIClient) -> None:
    response = client.get("/api/v1/sources/nope/search", {"q": "x"})

    assert response.status_code == 404
    assert "youtube" in response.json()["error"]["details"]["known"]


@pytest.mark.usefixtures("youtube_disabled")
def test_search_disabled_source_is_409(client: APIClient) -> None:
    response = client.get("/api/v1/sources/youtube/search", {"q": "x"})

    assert response.status_code == 409
    assert "YOUTUBE_ENABLED" in response.json()["error"]["message"]


@pytest.mark.parametrize("params", [{}, {"q": ""}, {"q": "x", "kind": "podcast"}, {"q": "x", "limit": "0"}])
def test_search_bad_parameters_are_400(fake_youtube: FakeYouTube, client: APIClient, params: dict[str, str]) -> None:
    assert client.get("/api/v1/sources/youtube/search", params).status_code == 400


def test_search_source_failure_is_502_not_500(fake_youtube: FakeYouTube, client: APIClient) -> None:
    fake_youtube.server.fail_next("500")

    response = client.get("/api/v1/sources/youtube/search", {"q": "localhost"})

    assert response.status_code == 502
    assert response.json()["error"]["code"] == "source_request_failed"


def test_external_search_covers_every_searchable_source(fake_youtube: FakeYouTube, client: APIClient) -> None:
    _make_track(source="youtube", source_id="vidAAAAAAA1")

    body = client.get("/api/v1/search/external", {"q": "localhost", "kind": "song"}).json()

    by_source = {entry["source"]: entry for entry in body["sources"]}
    assert set(by_source) == {"youtube"}  # the local folder source cannot search
    hits = {h["external_id"]: h for h in by_source["youtube"]["results"]}
    assert by_source["youtube"]["error"] is None
    assert hits["vidAAAAAAA1"]["in_library"] is not None


def test_external_search_degrades_a_failing_source(fake_youtube: FakeYouTube, client: APIClient) -> None:
    fake_youtube.server.fail_next("429-html")

    response = client.get("/api/v1/search/external", {"q": "localhost"})

    assert response.status_code == 200
    entry = response.json()["sources"][0]
    assert entry["results"] == []
    assert entry["error"]["code"] == "source_request_failed"


def test_search_puts_library_and_external_results_side_by_side(fake_youtube: FakeYouTube, client: APIClient) -> None:
    _make_track(source="youtube", source_id="vidAAAAAAA1", title="Localhost Anthem", title_key="localhost anthem")

    body = client.get("/api/v1/search", {"q": "localhost"}).json()

    assert [t["title"] for t in body["tracks"]] == ["Localhost Anthem"]
    assert body["tracks"][0]["source"] == "youtube"
    (external,) = body["external"]
    assert external["source"] == "youtube"
    assert external["error"] is None
    in_library = {h["external_id"]: h["in_library"] for h in external["results"]}
    assert in_library["vidAAAAAAA1"] == body["tracks"][0]["id"]
    assert fake_youtube.server.api_calls("search") == 1


def test_search_can_skip_external_sources(fake_youtube: FakeYouTube, client: APIClient) -> None:
    body = client.get("/api/v1/search", {"q": "localhost", "external": "false"}).json()

    assert body["external"] == []
    assert fake_youtube.server.api_calls("search") == 0


@pytest.mark.usefixtures("youtube_disabled")
def test_external_search_reports_disabled_sources(client: APIClient) -> None:
    entry = client.get("/api/v1/search/external", {"q": "x"}).json()["sources"][0]

    assert entry["error"]["code"] == "source_unavailable"


def test_active_count_counts_songs_waiting_or_running(fake_youtube: FakeYouTube, client: APIClient) -> None:
    _post(client, "vidAAAAAAA1")
    _post(client, "MPREb_fakealbum01", kind="album")
    done = _post(client, "vidAAAAAAA2").json()["job"]["id"]
    download_job_run(job_id=done)

    assert selectors.download_jobs_active_count() == 1
    assert selectors.download_jobs_active_count(source="local") == 0
