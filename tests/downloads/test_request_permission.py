"""`User.can_request_downloads` is enforced by the download service, so every entry point refuses alike.

No Subsonic method reaches `download_request` (Subsonic has no "fetch from an external source" call), so the
entry points are the REST API, `manage.py download` and the admin's retry action. Admins are always allowed.
"""

from __future__ import annotations

from io import StringIO
from typing import cast

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import User
from downloads.errors import DownloadRequestsNotAllowedError
from downloads.models import DownloadJob, JobState
from downloads.services import download_job_cancel, download_request, download_request_lookup
from mcma.errors import PermissionDeniedError
from tests.factories.accounts import AdminFactory, UserFactory
from tests.fakes.fixtures import FakeYouTube

pytestmark = [pytest.mark.django_db, pytest.mark.security]


def _refused_user() -> User:
    return cast(User, UserFactory(can_request_downloads=False))


def _api(user: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_the_error_is_a_permission_error_with_its_own_code() -> None:
    assert issubclass(DownloadRequestsNotAllowedError, PermissionDeniedError)
    assert DownloadRequestsNotAllowedError.code == "download_requests_not_allowed"


def test_the_service_refuses_a_user_without_the_right(fake_youtube: FakeYouTube) -> None:
    with pytest.raises(DownloadRequestsNotAllowedError, match="may not request downloads"):
        download_request(user=_refused_user(), source="youtube", external_id="vidAAAAAAA1", kind="song")
    assert not DownloadJob.objects.exists()


def test_lookup_refuses_before_searching_the_source(fake_youtube: FakeYouTube) -> None:
    calls_before = len(fake_youtube.server.calls)

    with pytest.raises(DownloadRequestsNotAllowedError):
        download_request_lookup(user=_refused_user(), source="youtube", query_or_url="port zero", kind="song")
    assert len(fake_youtube.server.calls) == calls_before


def test_rest_post_is_403_with_a_clear_message(fake_youtube: FakeYouTube) -> None:
    response = _api(_refused_user()).post(
        "/api/v1/downloads", {"source": "youtube", "external_id": "vidAAAAAAA1", "kind": "song"}, format="json"
    )

    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "download_requests_not_allowed"
    assert "may not request downloads" in error["message"]
    assert not DownloadJob.objects.exists()


def test_rest_retry_is_refused_once_the_right_is_taken_away(fake_youtube: FakeYouTube) -> None:
    user = cast(User, UserFactory())
    client = _api(user)
    job_id = client.post(
        "/api/v1/downloads", {"source": "youtube", "external_id": "vidAAAAAAA1", "kind": "song"}, format="json"
    ).json()["job"]["id"]
    client.post(f"/api/v1/downloads/{job_id}/cancel")
    User.objects.filter(pk=user.pk).update(can_request_downloads=False)
    user.refresh_from_db()

    response = _api(user).post(f"/api/v1/downloads/{job_id}/retry")

    assert (response.status_code, response.json()["error"]["code"]) == (403, "download_requests_not_allowed")
    assert DownloadJob.objects.get(pk=job_id).state == JobState.CANCELLED


def test_the_command_exits_non_zero_for_a_refused_user(fake_youtube: FakeYouTube) -> None:
    user = _refused_user()

    with pytest.raises(CommandError, match="may not request downloads"):
        call_command("download", "port zero", "--user", user.username, stdout=StringIO(), stderr=StringIO())
    assert not DownloadJob.objects.exists()


def test_the_command_without_a_user_is_the_operator_and_allowed(fake_youtube: FakeYouTube) -> None:
    out = StringIO()
    call_command("download", "port zero", "--inline", "--timeout", "30", stdout=out, stderr=StringIO())

    assert "Done" in out.getvalue()


@pytest.mark.parametrize("entry", ["rest", "command"])
def test_admins_are_always_allowed(fake_youtube: FakeYouTube, entry: str) -> None:
    admin = cast(User, AdminFactory(can_request_downloads=False))

    if entry == "rest":
        response = _api(admin).post(
            "/api/v1/downloads", {"source": "youtube", "external_id": "vidAAAAAAA1", "kind": "song"}, format="json"
        )
        assert response.status_code == 202
    else:
        call_command(
            "download",
            "port zero",
            "--user",
            admin.username,
            "--inline",
            "--timeout",
            "30",
            stdout=StringIO(),
            stderr=StringIO(),
        )
    assert DownloadJob.objects.get().requested_by == admin


def test_the_admin_cannot_add_jobs_and_its_retry_action_works_for_an_admin(
    fake_youtube: FakeYouTube, client: Client
) -> None:
    owner = cast(User, UserFactory())
    job = download_request(user=owner, source="youtube", external_id="vidAAAAAAA1", kind="song").job
    assert job is not None
    download_job_cancel(job=job, actor=owner)
    admin = cast(User, AdminFactory(can_request_downloads=False))
    client.force_login(admin)

    assert client.get(reverse("admin:downloads_downloadjob_add")).status_code == 403
    response = client.post(
        reverse("admin:downloads_downloadjob_changelist"),
        {"action": "retry_jobs", "_selected_action": [str(job.pk)]},
        follow=True,
    )

    assert response.status_code == 200
    assert DownloadJob.objects.get(pk=job.pk).state == JobState.QUEUED


def test_a_user_with_the_right_may_request(fake_youtube: FakeYouTube) -> None:
    result = download_request(user=cast(User, UserFactory()), source="youtube", external_id="vidAAAAAAA1", kind="song")

    assert result.created
