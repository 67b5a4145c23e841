"""What identification does around a match: the optional tag write-back (off by default, atomic), the admin
actions (identify, revert) and the Celery tasks' retry when a service answers 503 and then 200."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from celery import current_app
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse
from PIL import Image

from library import metadata, tasks
from library.enrichment import services, tagging
from library.models import Album, MetadataStatus, Track, TrackEnrichment
from library.tags import read_tags
from tests.factories.accounts import AdminFactory
from tests.factories.library import AlbumFactory, TrackFactory
from tests.fakes.coverart_server import FakeCoverArchive
from tests.fakes.metadata_server import RECORDING_ID, FakeMetadataServices

pytestmark = pytest.mark.django_db


def _file(track: Track) -> Path:
    return Path(django_settings.MEDIA_ROOT) / track.path


@pytest.fixture
def tagged_track(audio_track: Track) -> Track:
    """The audio track with a MusicBrainz recording id: looked up by id, no fingerprint needed."""
    Track.objects.filter(pk=audio_track.pk).update(musicbrainz_recording_id=RECORDING_ID)
    return Track.objects.get(pk=audio_track.pk)


def test_tags_are_not_written_back_by_default(
    fake_metadata: FakeMetadataServices, tagged_track: Track, django_capture_on_commit_callbacks: Any
) -> None:
    before = _file(tagged_track).read_bytes()

    with django_capture_on_commit_callbacks(execute=True):
        assert services.track_enrich(track_id=tagged_track.pk).status == MetadataStatus.ENRICHED

    assert _file(tagged_track).read_bytes() == before


def test_written_back_tags_replace_the_file_in_one_rename(
    fake_metadata: FakeMetadataServices,
    tagged_track: Track,
    django_capture_on_commit_callbacks: Any,
    settings: Any,
) -> None:
    settings.METADATA_WRITE_TAGS = True
    path = _file(tagged_track)
    inode = path.stat().st_ino

    with django_capture_on_commit_callbacks(execute=True):
        services.track_enrich(track_id=tagged_track.pk)

    tags = read_tags(path)
    assert (tags.title, tags.album, tags.musicbrainz_recording_id) == ("Paranoid Android", "OK Computer", RECORDING_ID)
    assert path.stat().st_ino != inode  # a new file renamed over the old one, not an edit in place
    assert sorted(item.name for item in path.parent.iterdir()) == [path.name]  # no temp copy left
    track = Track.objects.get(pk=tagged_track.pk)
    assert track.size_bytes == path.stat().st_size


def test_a_write_back_that_fails_midway_leaves_the_file_as_it_was(
    fake_metadata: FakeMetadataServices, tagged_track: Track, monkeypatch: pytest.MonkeyPatch
) -> None:
    services.track_enrich(track_id=tagged_track.pk)
    path = _file(tagged_track)
    before = path.read_bytes()

    def broken(target: Path, *args: Any, **kwargs: Any) -> None:
        target.write_bytes(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(tagging, "write_tags", broken)

    assert tagging.track_tags_write(track_id=tagged_track.pk) is False
    assert path.read_bytes() == before
    assert sorted(item.name for item in path.parent.iterdir()) == [path.name]


def _admin_action(client: Client, action: str, tracks: list[Track]) -> Any:
    client.force_login(AdminFactory.create())
    return client.post(
        reverse("admin:library_track_changelist"),
        {"action": action, "_selected_action": [track.pk for track in tracks]},
        follow=True,
    )


def test_the_identify_action_queues_the_selected_tracks(
    client: Client,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.MUSICBRAINZ_ENABLED = True
    tracks = TrackFactory.create_batch(2)
    sent: list[tuple[str, Any]] = []
    monkeypatch.setattr(current_app, "send_task", lambda name, args, **kwargs: sent.append((name, args)))

    with django_capture_on_commit_callbacks(execute=True):
        response = _admin_action(client, "identify", tracks)

    assert "2 tracks queued for identification." in response.content.decode()
    assert sent == [(services.TASK_NAME, [sorted(track.pk for track in tracks)])]


def test_the_identify_action_says_when_identification_is_off(client: Client) -> None:
    response = _admin_action(client, "identify", [TrackFactory.create()])

    assert "Identification is off: set MUSICBRAINZ_ENABLED=true." in response.content.decode()


def test_the_revert_action_reverts_and_names_the_tracks_it_could_not(
    client: Client, fake_metadata: FakeMetadataServices
) -> None:
    enriched = TrackFactory.create(title="Before", musicbrainz_recording_id=RECORDING_ID)
    services.track_enrich(track_id=enriched.pk)
    untouched = TrackFactory.create(title="Never identified")

    response = _admin_action(client, "revert_identification", [enriched, untouched])

    page = response.content.decode()
    assert "1 tracks reverted." in page
    assert f"Track {untouched.pk} has no enrichment to revert." in page
    assert Track.objects.get(pk=enriched.pk).title == "Before"
    assert TrackEnrichment.objects.get(track=enriched).reverted_at is not None


def test_the_enrich_task_comes_back_after_a_503_and_finishes_on_the_200(
    fake_metadata: FakeMetadataServices, settings: Any
) -> None:
    settings.METADATA_PAUSE_SECONDS = 0  # the eager retry runs at once: no pause to wait out
    track = TrackFactory.create(title="Before", musicbrainz_recording_id=RECORDING_ID)
    fake_metadata.down_for = settings.METADATA_HTTP_RETRIES + 1  # every attempt of the first run gets a 503

    result = tasks.enrich_tracks_task.apply(args=([track.pk],))

    assert result.get() == 1
    assert len(fake_metadata.requests) == settings.METADATA_HTTP_RETRIES + 2
    track.refresh_from_db()
    assert (track.metadata_status, track.title) == (MetadataStatus.ENRICHED, "Paranoid Android")


def test_the_cover_task_comes_back_after_a_503_and_stores_the_cover(
    fake_coverart: FakeCoverArchive, settings: Any
) -> None:
    settings.METADATA_PAUSE_SECONDS = 0
    album = AlbumFactory.create(musicbrainz_release_id="0e9f3a3e-1f5b-4a4e-9d7e-3a5d2c1b0a99")
    fake_coverart.fronts[album.musicbrainz_release_id] = _jpeg()
    fake_coverart.down_for = settings.METADATA_HTTP_RETRIES + 1

    result = tasks.album_cover_archive_fetch_task.apply(args=(album.pk,))

    assert result.get() is True
    assert Album.objects.get(pk=album.pk).cover_source == "caa"
    assert metadata.cover_archive_pending() == []


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 32), (200, 10, 10)).save(out, "JPEG")
    return out.getvalue()
