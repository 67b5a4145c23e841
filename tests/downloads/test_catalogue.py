"""The external catalogue's services on their own, without a protocol: every failure is an `ApplicationError`
(Subsonic's codes for them are pinned by tests/subsonic/test_external*.py)."""

from __future__ import annotations

from typing import Any

import pytest

from downloads.errors import StillDownloadingError
from downloads.models import DownloadJob, JobState
from downloads.services import (
    catalogue_album_get,
    catalogue_song_bookmark_delete,
    catalogue_song_get,
    catalogue_song_playback,
)
from downloads.services.catalogue import catalogue_hits_usable
from mcma.errors import NotFoundError, UpstreamError
from sources.base import ExternalItem, ResultKind, SearchResult
from tests.factories.accounts import UserFactory
from tests.fakes.fixtures import FakeYouTube, cover_jpeg, fake_media, fake_youtube

__all__ = ["cover_jpeg", "fake_media", "fake_youtube"]  # fixtures used by name

BLUES = ExternalItem("youtube", ResultKind.SONG, "vidAAAAAAA1")


@pytest.fixture
def hybrid(settings: Any, fake_youtube: FakeYouTube, monkeypatch: Any) -> FakeYouTube:
    settings.EXTERNAL_SEARCH_IN_SUBSONIC = True
    monkeypatch.setattr("downloads.services.enqueueing.jobs_send", lambda job_ids, countdown=None: None)
    return fake_youtube


def test_a_song_is_resolved_by_its_source(hybrid: FakeYouTube, db: None) -> None:
    song = catalogue_song_get(user=UserFactory.create(), item=BLUES)
    assert (song.source, song.kind, song.external_id, song.title) == (
        "youtube",
        ResultKind.SONG,
        BLUES.external_id,
        "Localhost Blues",
    )


def test_a_closed_catalogue_reveals_nothing(hybrid: FakeYouTube, db: None) -> None:
    asked = len(hybrid.server.calls)
    with pytest.raises(NotFoundError, match=r"^External item not found$"):
        catalogue_song_get(user=UserFactory.create(can_request_downloads=False), item=BLUES)
    assert len(hybrid.server.calls) == asked


def test_an_item_the_source_does_not_have_is_not_found_and_a_failing_source_is_upstream(
    hybrid: FakeYouTube, db: None
) -> None:
    user = UserFactory.create()
    with pytest.raises(NotFoundError):
        catalogue_album_get(user=user, item=ExternalItem("youtube", ResultKind.ALBUM, "MPREb_nosuchalbum"))
    hybrid.server.fail_next("500")
    with pytest.raises(UpstreamError, match=r"^youtube could not answer: "):
        catalogue_song_get(user=user, item=BLUES)


def test_with_no_place_free_playback_says_still_downloading_and_the_download_goes_on(
    hybrid: FakeYouTube, db: None, settings: Any
) -> None:
    settings.EXTERNAL_STREAM_MAX_RELAYS = 0
    settings.EXTERNAL_STREAM_MAX_WAITING = 0
    with pytest.raises(StillDownloadingError, match="still downloading from youtube"):
        catalogue_song_playback(user=UserFactory.create(), item=BLUES)
    assert DownloadJob.objects.get().state == JobState.QUEUED


def test_deleting_a_bookmark_none_waits_for_is_not_found(hybrid: FakeYouTube, db: None) -> None:
    with pytest.raises(NotFoundError, match=r"^Bookmark not found$"):
        catalogue_song_bookmark_delete(user=UserFactory.create(), item=BLUES)


def test_hits_of_kinds_or_ids_the_catalogue_cannot_offer_are_left_out() -> None:
    kept = SearchResult("youtube", ResultKind.SONG, "vid_ok-1", "Kept")
    hits = [
        kept,
        SearchResult("youtube", ResultKind.PLAYLIST, "PLx", "A playlist"),
        SearchResult("youtube", ResultKind.SONG, "bad id/../x", "Garbage"),
    ]
    assert catalogue_hits_usable(hits) == [kept]
