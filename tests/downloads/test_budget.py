"""The daily download budget (DOWNLOAD_DAILY_LIMIT, or a user's own `download_daily_limit`) and a source paused by
a rate limit: both enforced by `download_request`, so the REST API, `manage.py download`, the admin and Subsonic
players' external songs are refused alike, each with the reason."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import User
from downloads.errors import DownloadBudgetExceededError, SourcePausedError
from downloads.models import DownloadJob, ErrorClass, JobKind, JobState
from downloads.selectors import download_budget
from downloads.services import download_request
from mcma.errors import RateLimitedError
from tests.factories.accounts import AdminFactory, UserFactory
from tests.fakes.fixtures import FakeYouTube
from tests.subsonic.conftest import client_for

pytestmark = pytest.mark.django_db


def _request(user: User | None, video_id: str, kind: str = "song") -> Any:
    return download_request(user=user, source="youtube", external_id=video_id, kind=kind)


@pytest.fixture
def limited(settings: Any, fake_youtube: FakeYouTube, monkeypatch: Any) -> User:
    settings.DOWNLOAD_DAILY_LIMIT = 2
    monkeypatch.setattr("downloads.services.enqueueing.jobs_send", lambda job_ids, countdown=None: None)
    return cast(User, UserFactory())


def test_the_budget_counts_the_songs_of_the_last_24_hours(limited: User) -> None:
    _request(limited, "vidAAAAAAA1")
    _request(limited, "vidAAAAAAA2")
    with pytest.raises(
        DownloadBudgetExceededError, match=r"asked for 2 song downloads in the last 24 hours.*\(2\)"
    ) as refused:
        _request(limited, "vidUGCUGC01")
    assert 0 < refused.value.details["retry_after"] <= 24 * 3600
    assert DownloadJob.objects.count() == 2

    # Asking again for a song already on its way, or in the library, costs nothing and is never refused.
    assert _request(limited, "vidAAAAAAA1").created is False

    # A day later the oldest song has aged out of the window.
    DownloadJob.objects.filter(external_id="vidAAAAAAA1").update(created_at=timezone.now() - timedelta(hours=25))
    assert _request(limited, "vidUGCUGC01").created is True


def test_album_tracks_count_and_a_used_budget_refuses_an_album(limited: User) -> None:
    DownloadJob.objects.bulk_create(
        [
            DownloadJob(
                source="youtube",
                external_id=f"done{i}",
                kind=JobKind.SONG,
                requested_by=limited,
                state=JobState.SUCCEEDED,
            )
            for i in range(2)
        ]
    )
    budget = download_budget(user=limited)
    assert (budget.limit, budget.used, budget.exhausted) == (2, 2, True)
    with pytest.raises(DownloadBudgetExceededError):
        _request(limited, "MPREb_fakealbum01", kind="album")


def test_a_users_own_limit_overrides_the_servers(limited: User, settings: Any) -> None:
    limited.download_daily_limit = 0  # an admin lifted it for this user
    limited.save()
    for video_id in ("vidAAAAAAA1", "vidAAAAAAA2", "vidUGCUGC01"):
        assert _request(limited, video_id).created
    stricter = cast(User, UserFactory(download_daily_limit=1))
    settings.DOWNLOAD_DAILY_LIMIT = 0
    DownloadJob.objects.all().delete()
    _request(stricter, "vidAAAAAAA1")
    with pytest.raises(DownloadBudgetExceededError):
        _request(stricter, "vidAAAAAAA2")


def test_admins_and_the_shell_have_no_budget(limited: User) -> None:
    admin = cast(User, AdminFactory())
    for video_id in ("vidAAAAAAA1", "vidAAAAAAA2", "vidUGCUGC01"):
        assert _request(admin, video_id).created
    DownloadJob.objects.all().delete()
    for video_id in ("vidAAAAAAA1", "vidAAAAAAA2", "vidUGCUGC01"):
        assert _request(None, video_id).created


def test_rest_answers_429_with_the_reason_and_retry_after(limited: User) -> None:
    client = APIClient()
    client.force_authenticate(limited)
    for video_id in ("vidAAAAAAA1", "vidAAAAAAA2"):
        body = {"source": "youtube", "external_id": video_id, "kind": "song"}
        assert client.post("/api/v1/downloads", body, format="json").status_code == 202
    refused = client.post(
        "/api/v1/downloads", {"source": "youtube", "external_id": "vidUGCUGC01", "kind": "song"}, format="json"
    )
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "download_budget_exceeded"
    assert "the most allowed (2)" in refused.json()["error"]["message"]
    assert 0 < int(refused["Retry-After"]) <= 24 * 3600


def test_a_subsonic_player_is_told_why(limited: User, settings: Any) -> None:
    settings.EXTERNAL_SEARCH_IN_SUBSONIC = True
    player = client_for(limited)
    assert player.call("star", id="ext-yt-vidAAAAAAA1").ok
    assert player.call("setRating", id="ext-yt-vidAAAAAAA2", rating=3).ok
    refused = player.call("star", id="ext-yt-vidUGCUGC01")
    assert refused.error_code == 0
    assert "in the last 24 hours" in refused.error_message
    assert DownloadJob.objects.count() == 2


def _pause_the_source() -> None:
    DownloadJob.objects.create(
        source="youtube",
        external_id="vidPAUSED01",
        state=JobState.RETRYING,
        error_class=ErrorClass.RATE_LIMITED,
        next_retry_at=timezone.now() + timedelta(minutes=30),
    )


def test_no_new_download_while_the_source_is_paused(limited: User) -> None:
    _pause_the_source()
    with pytest.raises(SourcePausedError, match=r"youtube is rate-limiting downloads until \d\d:\d\d UTC") as paused:
        _request(None, "vidAAAAAAA1")
    assert isinstance(paused.value, RateLimitedError)
    assert 1700 < paused.value.details["retry_after"] <= 1800
    assert not DownloadJob.objects.filter(external_id="vidAAAAAAA1").exists()


def test_a_paused_source_is_a_429_and_a_subsonic_error_with_the_reason(limited: User, settings: Any) -> None:
    settings.EXTERNAL_SEARCH_IN_SUBSONIC = True
    _pause_the_source()
    client = APIClient()
    client.force_authenticate(limited)
    response = client.post(
        "/api/v1/downloads", {"source": "youtube", "external_id": "vidAAAAAAA1", "kind": "song"}, format="json"
    )
    assert (response.status_code, response.json()["error"]["code"]) == (429, "source_paused")
    refused = client_for(limited).call("star", id="ext-yt-vidAAAAAAA1")
    assert refused.error_code == 0
    assert "rate-limiting downloads" in refused.error_message
