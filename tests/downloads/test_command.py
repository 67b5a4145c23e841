"""`manage.py download`: search or link, enqueue, follow to the end."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from downloads.models import DownloadJob, JobState
from library.models import Track
from tests.fakes.fixtures import FakeYouTube

pytestmark = pytest.mark.django_db


def _call(*args: str) -> str:
    out = StringIO()
    call_command("download", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_search_words_download_the_best_song(fake_youtube: FakeYouTube) -> None:
    output = _call("port zero", "--inline", "--timeout", "30")

    assert "Done: The Fakes, Guest Star - Port Zero" in output
    assert Track.objects.get().source_id == "vidAAAAAAA2"


def test_an_album_link_downloads_every_available_track(fake_youtube: FakeYouTube) -> None:
    output = _call(f"{fake_youtube.base_url}/playlist?list=OLAK5uy_fakealbum01", "--inline", "--timeout", "30")

    assert "Done" in output
    parent = DownloadJob.objects.get(parent__isnull=True)
    assert (parent.kind, parent.state) == ("album", JobState.SUCCEEDED)
    assert set(Track.objects.values_list("source_id", flat=True)) == {"vidAAAAAAA1", "vidAAAAAAA2"}


def test_a_track_already_in_the_library_is_reported(fake_youtube: FakeYouTube) -> None:
    _call("localhost blues", "--inline", "--timeout", "30")

    assert "Already in the library" in _call("localhost blues", "--inline")


def test_failures_exit_non_zero_with_the_reason(fake_youtube: FakeYouTube) -> None:
    fake_youtube.catalog.songs["vidAAAAAAA1"].media = "status:404"

    with pytest.raises(CommandError, match="no longer available"):
        _call("localhost blues", "--inline", "--timeout", "30")
    with pytest.raises(CommandError, match="has no song matching"):
        _call("nothing like this", "--inline")
    with pytest.raises(CommandError, match="no user"):
        _call("x", "--user", "ghost")
