"""The management UI's pages: the dashboard (admin index), /admin/search/ and /admin/downloads/."""

from __future__ import annotations

from typing import Any, cast

import pytest
from django.test import Client

from accounts.models import User
from downloads.models import DownloadJob, ErrorClass, JobKind, JobState
from library.models import Track
from sources.models import ScanRun, ScanState
from tests.factories.accounts import AdminFactory, UserFactory
from tests.factories.library import TrackFactory
from tests.fakes.fixtures import FakeYouTube

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


@pytest.fixture
def admin_user() -> User:
    return cast(User, AdminFactory(username="boss"))


@pytest.fixture
def admin_client(client: Client, admin_user: User) -> Client:
    client.force_login(admin_user)
    return client


def _download(client: Client, external_id: str, kind: str = "song", **extra: Any) -> Any:
    data = {"source": "youtube", "external_id": external_id, "kind": kind, "q": "loopback"}
    return client.post("/admin/search/download", data, **extra)


# -- Dashboard ------------------------------------------------------------------------------------------------------
def test_the_dashboard_shows_library_figures_scans_downloads_and_sources(admin_client: Client) -> None:
    TrackFactory.create_batch(3, source="local", duration_ms=60_000, size_bytes=1_000_000)
    TrackFactory(source="youtube", source_id="vidAAAAAAA1", duration_ms=120_000)
    ScanRun.objects.create(source="local", root="/music", state=ScanState.SUCCEEDED, added=3, failed=1)
    DownloadJob.objects.create(source="youtube", external_id="vidBBBBBBB1", state=JobState.FAILED)

    page = admin_client.get("/admin/").content.decode()

    assert "4 tracks" in page
    assert "5 min" in page  # 3 + 2 minutes
    assert "youtube" in page
    assert "local" in page
    assert 'id="recent-scans"' in page
    assert "1 failed" in page
    assert "YOUTUBE_ENABLED" in page  # the disabled source says how to turn it on
    assert 'href="/admin/search/"' in page


def test_the_dashboard_costs_a_fixed_number_of_queries(
    admin_client: Client, django_assert_max_num_queries: Any
) -> None:
    TrackFactory.create_batch(20)
    admin_client.get("/admin/")  # the figures are cached from here on
    with django_assert_max_num_queries(14):
        assert admin_client.get("/admin/").status_code == 200


# -- Search ---------------------------------------------------------------------------------------------------------
def test_search_shows_library_and_external_hits_with_download_buttons(
    fake_youtube: FakeYouTube, admin_client: Client
) -> None:
    TrackFactory(source="youtube", source_id="vidAAAAAAA1", title="Localhost Blues", title_key="localhost blues")

    page = admin_client.get("/admin/search/", {"q": "localhost"}).content.decode()

    assert 'type="search"' in page
    assert 'name="q"' in page
    assert 'id="library-results"' in page
    assert 'data-source="youtube"' in page
    in_library = page.split('data-external-id="vidAAAAAAA1"', 1)[1].split("</li>", 1)[0]
    assert "In library" in in_library
    cover = page.split('data-external-id="vidUGCUGC01"', 1)[1].split("</li>", 1)[0]
    assert "Download" in cover


def test_a_click_on_download_queues_the_song_once(fake_youtube: FakeYouTube, admin_client: Client) -> None:
    first = _download(admin_client, "vidAAAAAAA2", headers=HTMX).content.decode()
    second = _download(admin_client, "vidAAAAAAA2", headers=HTMX).content.decode()  # a double click

    assert "Queued for download." in first
    assert "Already queued." in second
    assert DownloadJob.objects.filter(external_id="vidAAAAAAA2").count() == 1
    assert DownloadJob.objects.get().requested_by is not None


def test_download_without_htmx_redirects_back_with_a_message(fake_youtube: FakeYouTube, admin_client: Client) -> None:
    response = _download(admin_client, "MPREb_fakealbum01", kind="album", follow=True)

    assert response.redirect_chain[-1][0] == "/admin/search/?q=loopback"
    assert "Queued for download." in response.content.decode()
    assert DownloadJob.objects.get().kind == JobKind.ALBUM


def test_downloading_what_the_library_has_changes_nothing(fake_youtube: FakeYouTube, admin_client: Client) -> None:
    TrackFactory(source="youtube", source_id="vidAAAAAAA1")
    assert "Already in your library." in _download(admin_client, "vidAAAAAAA1", headers=HTMX).content.decode()
    assert not DownloadJob.objects.exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"source": "youtube", "external_id": "../../etc", "kind": "song"}, "external_id must be"),
        ({"source": "youtube", "external_id": "vidAAAAAAA2", "kind": "podcast"}, "kind must be one of"),
        ({"source": "nope", "external_id": "vidAAAAAAA2", "kind": "song"}, "Unknown source"),
    ],
)
def test_a_bad_download_request_says_why(
    fake_youtube: FakeYouTube, admin_client: Client, data: dict[str, str], message: str
) -> None:
    response = admin_client.post("/admin/search/download", data, headers=HTMX)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not DownloadJob.objects.exists()


def test_a_download_from_a_disabled_source_says_how_to_enable_it(admin_client: Client) -> None:
    page = _download(admin_client, "vidAAAAAAA2", headers=HTMX).content.decode()
    assert "YOUTUBE_ENABLED" in page
    assert not DownloadJob.objects.exists()


def test_an_empty_or_huge_search_explains_itself(fake_youtube: FakeYouTube, admin_client: Client) -> None:
    assert "Type what you are looking for" in admin_client.get("/admin/search/", {"q": "  "}).content.decode()
    page = admin_client.get("/admin/search/", {"q": "x" * 500}).content.decode()
    assert "at most 200 characters" in page
    assert 'data-source="youtube"' not in page


def test_a_failing_source_is_reported_next_to_the_library_hits(fake_youtube: FakeYouTube, admin_client: Client) -> None:
    fake_youtube.server.fail_next("429-html")
    response = admin_client.get("/admin/search/", {"q": "localhost"})
    page = response.content.decode()
    assert response.status_code == 200
    assert 'id="library-results"' in page
    assert "errornote" in page.split('data-source="youtube"', 1)[1]


def test_the_search_page_is_for_signed_in_users(client: Client) -> None:
    response = client.get("/admin/search/", {"q": "x"})
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert client.post("/admin/search/download", {"external_id": "vidAAAAAAA2"}).status_code == 302
    assert not DownloadJob.objects.exists()


def test_a_user_who_may_download_gets_external_hits_and_their_own_job(
    fake_youtube: FakeYouTube, client: Client
) -> None:
    listener = cast(User, UserFactory(username="listener"))
    client.force_login(listener)
    page = client.get("/admin/search/", {"q": "port zero"}).content.decode()
    assert "download-button" in page
    assert "Queued for download." in _download(client, "vidAAAAAAA2", headers=HTMX).content.decode()
    assert DownloadJob.objects.get().requested_by == listener


# -- Downloads ------------------------------------------------------------------------------------------------------
def _job(**fields: Any) -> DownloadJob:
    defaults: dict[str, Any] = {"source": "youtube", "external_id": "vidCCCCCCC1", "title": "A Song"}
    return DownloadJob.objects.create(**{**defaults, **fields})


def test_the_downloads_page_lists_jobs_with_children_progress_and_errors(
    admin_client: Client, admin_user: User
) -> None:
    album = _job(external_id="MPREb_x", kind=JobKind.ALBUM, title="An Album", state=JobState.RUNNING)
    _job(external_id="vid1", parent=album, title="Track One", state=JobState.RUNNING, percent=42.0, speed=2048.0)
    _job(
        external_id="vid2",
        title="Broken",
        state=JobState.FAILED,
        error_class=ErrorClass.PERMANENT,
        error_message="This video is unavailable",
        requested_by=admin_user,
    )

    page = admin_client.get("/admin/downloads/").content.decode()

    assert "An Album" in page
    assert "Track One" in page
    assert "42%" in page
    assert "This video is unavailable" in page
    assert "Retry all failed" in page
    assert 'hx-trigger="every 2s"' in page  # a job on the page is running


def test_the_rows_poll_stops_once_nothing_is_active(admin_client: Client) -> None:
    _job(state=JobState.SUCCEEDED)
    rows = admin_client.get("/admin/downloads/", headers=HTMX).content.decode()
    assert rows.lstrip().startswith('<tbody id="job-rows"')
    assert "hx-trigger" not in rows


def test_the_downloads_page_costs_a_fixed_number_of_queries(
    admin_client: Client, django_assert_max_num_queries: Any
) -> None:
    for n in range(30):
        parent = _job(external_id=f"MPREb_{n}", kind=JobKind.ALBUM, state=JobState.RUNNING)
        _job(external_id=f"vid{n}", parent=parent, state=JobState.QUEUED)
    with django_assert_max_num_queries(12):
        assert admin_client.get("/admin/downloads/").status_code == 200


def test_cancel_and_retry_from_the_downloads_page(admin_client: Client) -> None:
    job = _job(state=JobState.QUEUED)

    cancelled = admin_client.post(f"/admin/downloads/{job.pk}/cancel", {"next": "/admin/downloads/"}, follow=True)
    job.refresh_from_db()
    assert job.state == JobState.CANCELLED
    assert "Cancelled: A Song." in cancelled.content.decode()

    again = admin_client.post(f"/admin/downloads/{job.pk}/cancel", follow=True).content.decode()
    assert "already cancelled" in again

    admin_client.post(f"/admin/downloads/{job.pk}/retry")
    job.refresh_from_db()
    assert job.state == JobState.QUEUED


def test_retry_all_failed(admin_client: Client) -> None:
    _job(external_id="vid1", state=JobState.FAILED)
    _job(external_id="vid2", state=JobState.FAILED)
    page = admin_client.post("/admin/downloads/retry-failed", follow=True).content.decode()
    assert "Retrying 2 failed download(s)." in page
    assert not DownloadJob.objects.filter(state=JobState.FAILED).exists()


def test_a_next_url_off_the_site_is_ignored(admin_client: Client) -> None:
    job = _job(state=JobState.QUEUED)
    response = admin_client.post(f"/admin/downloads/{job.pk}/cancel", {"next": "https://evil.example/"})
    assert response["Location"] == "/admin/downloads/"
    response = admin_client.post(f"/admin/downloads/{job.pk}/explode", {"next": "//evil.example/"})
    assert response["Location"] == "/admin/downloads/"


def test_unknown_job_ids_say_not_found(admin_client: Client) -> None:
    page = admin_client.post(
        "/admin/downloads/6f1c1a52-1111-4b7a-9d0e-000000000000/cancel", follow=True
    ).content.decode()
    assert "no such download" in page.lower()
    assert Track.objects.count() == 0
