"""Identification against fake AcoustID and MusicBrainz servers: real fingerprints, matches and their absence,
service faults, hand edits, revert and album grouping."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command

from library.enrichment import services
from library.enrichment.errors import MetadataServiceUnavailableError
from library.models import Album, MetadataStatus, Track, TrackEnrichment
from library.ratelimit import service_paused_until
from tests.factories.library import TrackFactory
from tests.fakes.metadata_server import (
    ARTIST_ID,
    RECORDING_ID,
    RELEASE_GROUP_ID,
    RELEASE_ID,
    FakeMetadataServices,
    recording_record,
)
from tests.library.enrichment.conftest import fpcalc

pytestmark = pytest.mark.django_db


def _matched(fake: FakeMetadataServices, track: Track, *, score: float = 0.97) -> None:
    fake.match(fpcalc(Path(django_settings.MEDIA_ROOT) / track.path), score=score)


def test_a_fingerprint_match_fills_in_the_track(fake_metadata: FakeMetadataServices, audio_track: Track) -> None:
    _matched(fake_metadata, audio_track)
    old_album = audio_track.album

    outcome = services.track_enrich(track_id=audio_track.pk)

    track = Track.objects.select_related("album__album_artist", "artist").get(pk=audio_track.pk)
    assert outcome.status == MetadataStatus.ENRICHED
    assert track.metadata_status == MetadataStatus.ENRICHED
    assert (track.title, track.artist.name, track.artist.musicbrainz_id) == ("Paranoid Android", "Radiohead", ARTIST_ID)
    assert (track.album.name, track.album.musicbrainz_release_id) == ("OK Computer", RELEASE_ID)
    assert track.album.album_artist.name == "Radiohead"
    assert (track.track_number, track.disc_number, track.date, track.year) == (2, 1, "1997-06-16", 1997)
    assert (track.musicbrainz_recording_id, track.isrc) == (RECORDING_ID, "GBAYE9700012")
    assert sorted(track.genres.values_list("name", flat=True)) == ["alternative rock", "art rock"]
    assert (track.album.musicbrainz_release_group_id, track.album.release_type) == (RELEASE_GROUP_ID, "album")
    assert track.album.original_year == 1997
    assert track.album.track_count == 1
    old_album.refresh_from_db()
    assert old_album.track_count == 0
    enrichment = TrackEnrichment.objects.get(track=track)
    assert enrichment.changes["title"] == ["Track 01", "Paranoid Android"]
    assert enrichment.score == pytest.approx(0.97)
    agents = {agent for _, _, agent in fake_metadata.requests}
    assert len(agents) == 1
    assert agents.pop().startswith("mcma/0.1.0 ( ")


def test_no_match_leaves_the_track_unmatched(fake_metadata: FakeMetadataServices, audio_track: Track) -> None:
    outcome = services.track_enrich(track_id=audio_track.pk)

    track = Track.objects.get(pk=audio_track.pk)
    assert outcome.status == track.metadata_status == MetadataStatus.UNMATCHED
    assert "knows no recording" in track.metadata_reason
    assert track.title == "Track 01"
    assert not fake_metadata.hits("/ws/2/")


def test_a_low_score_changes_nothing(fake_metadata: FakeMetadataServices, audio_track: Track) -> None:
    _matched(fake_metadata, audio_track, score=0.42)

    services.track_enrich(track_id=audio_track.pk)

    track = Track.objects.get(pk=audio_track.pk)
    assert track.metadata_status == MetadataStatus.UNMATCHED
    assert "0.42, below the threshold 0.85" in track.metadata_reason
    assert (track.title, track.album_id) == ("Track 01", audio_track.album_id)
    assert not TrackEnrichment.objects.exists()


def test_a_tagged_recording_id_is_looked_up_without_fingerprinting(fake_metadata: FakeMetadataServices) -> None:
    track = TrackFactory.create(musicbrainz_recording_id=RECORDING_ID, path="library/absent-file.mp3")

    assert services.track_enrich(track_id=track.pk).status == MetadataStatus.ENRICHED
    assert not fake_metadata.hits("/v2/")
    assert len(fake_metadata.hits(f"/ws/2/recording/{RECORDING_ID}")) == 1


def test_a_503_is_retried(fake_metadata: FakeMetadataServices, audio_track: Track) -> None:
    _matched(fake_metadata, audio_track)
    fake_metadata.down_for = 2

    assert services.track_enrich(track_id=audio_track.pk).status == MetadataStatus.ENRICHED
    assert len(fake_metadata.requests) == 4  # AcoustID: 503, 503, match; MusicBrainz: the record


def test_a_service_that_stays_down_pauses_the_work_and_keeps_the_track_pending(
    fake_metadata: FakeMetadataServices, audio_track: Track, settings: Any
) -> None:
    settings.METADATA_PAUSE_SECONDS = 600
    fake_metadata.down_for = 100

    with pytest.raises(MetadataServiceUnavailableError) as raised:
        services.track_enrich(track_id=audio_track.pk)

    assert raised.value.retry_after == 600
    assert len(fake_metadata.requests) == 3  # the first try and METADATA_HTTP_RETRIES=2 retries
    assert Track.objects.get(pk=audio_track.pk).metadata_status == MetadataStatus.PENDING
    assert service_paused_until(service="acoustid") is not None
    with pytest.raises(MetadataServiceUnavailableError):  # paused: not even asked
        services.track_enrich(track_id=audio_track.pk)
    assert len(fake_metadata.requests) == 3


def test_a_slow_answer_times_out_and_is_retried(
    fake_metadata: FakeMetadataServices, audio_track: Track, settings: Any
) -> None:
    settings.METADATA_TIMEOUT_SECONDS = 0.2
    settings.METADATA_HTTP_RETRIES = 1
    fake_metadata.slow_seconds = 0.6

    with pytest.raises(MetadataServiceUnavailableError, match="ReadTimeout after 2 attempts"):
        services.track_enrich(track_id=audio_track.pk)
    assert Track.objects.get(pk=audio_track.pk).metadata_status == MetadataStatus.PENDING


def test_malformed_json_fails_the_track_with_a_reason(fake_metadata: FakeMetadataServices, audio_track: Track) -> None:
    fake_metadata.malformed_for = 1

    assert services.track_enrich(track_id=audio_track.pk).status == MetadataStatus.FAILED
    assert Track.objects.get(pk=audio_track.pk).metadata_reason == "acoustid answered something that is not JSON"


def test_a_4xx_is_not_retried(fake_metadata: FakeMetadataServices, audio_track: Track, settings: Any) -> None:
    settings.ACOUSTID_API_KEY = "wrong-key"

    assert services.track_enrich(track_id=audio_track.pk).status == MetadataStatus.FAILED
    assert len(fake_metadata.requests) == 1
    assert "HTTP 400" in Track.objects.get(pk=audio_track.pk).metadata_reason


def test_a_record_missing_fields_is_skipped_with_a_reason(fake_metadata: FakeMetadataServices) -> None:
    record = recording_record()
    del record["title"]
    record["artist-credit"] = []
    fake_metadata.recordings[RECORDING_ID] = record
    track = TrackFactory.create(title="Kept", musicbrainz_recording_id=RECORDING_ID)

    assert services.track_enrich(track_id=track.pk).status == MetadataStatus.UNMATCHED
    track.refresh_from_db()
    assert track.title == "Kept"
    assert track.metadata_reason == f"MusicBrainz recording {RECORDING_ID} lacks title, artist-credit"


def test_fields_edited_by_hand_are_never_overwritten(fake_metadata: FakeMetadataServices) -> None:
    track = TrackFactory.create(title="My own title", musicbrainz_recording_id=RECORDING_ID, track_number=9)
    services.track_edited_fields_record(track=track, field_names=["title", "track_number", "comment"])

    outcome = services.track_enrich(track_id=track.pk)

    track.refresh_from_db()
    assert track.edited_fields == ["title", "track_number"]
    assert (track.title, track.track_number) == ("My own title", 9)
    assert track.album.name == "OK Computer"
    assert "title" not in outcome.changed


def test_revert_puts_everything_back(fake_metadata: FakeMetadataServices, audio_track: Track) -> None:
    _matched(fake_metadata, audio_track)
    services.track_enrich(track_id=audio_track.pk)

    call_command("enrich", "--revert", str(audio_track.pk))

    track = Track.objects.select_related("album").get(pk=audio_track.pk)
    assert (track.title, track.album_id, track.artist_id) == ("Track 01", audio_track.album_id, audio_track.artist_id)
    assert (track.track_number, track.isrc, track.musicbrainz_recording_id) == (1, "", "")
    assert not track.genres.exists()
    assert list(track.artist_credits.values_list("artist_id", flat=True)) == []
    assert track.album.track_count == 1
    assert track.metadata_status == MetadataStatus.UNMATCHED
    assert TrackEnrichment.objects.get(track=track).reverted_at is not None


def test_tracks_of_one_release_end_up_in_one_album(fake_metadata: FakeMetadataServices) -> None:
    second_id = "c0ffee00-0000-4000-8000-000000000009"
    fake_metadata.recordings[second_id] = recording_record(second_id, title="Karma Police")
    first = TrackFactory.create(album__name="OK Computer (disc)", musicbrainz_recording_id=RECORDING_ID)
    second = TrackFactory.create(album__name="ok computer", musicbrainz_recording_id=second_id)

    services.tracks_enrich(track_ids=[first.pk, second.pk])

    albums = set(Track.objects.filter(pk__in=[first.pk, second.pk]).values_list("album_id", flat=True))
    assert len(albums) == 1
    album = Album.objects.get(pk=albums.pop())
    assert (album.musicbrainz_release_id, album.track_count) == (RELEASE_ID, 2)


def test_enrich_command_works_through_pending_tracks(fake_metadata: FakeMetadataServices, capsys: Any) -> None:
    tagged = TrackFactory.create(musicbrainz_recording_id=RECORDING_ID)
    untagged = TrackFactory.create(path="library/gone.mp3")
    TrackFactory.create(metadata_status=MetadataStatus.ENRICHED)

    call_command("enrich", "--pending", "--no-progress")

    out = capsys.readouterr()
    assert "2 tracks: 1 enriched, 0 unmatched, 1 failed." in out.out
    assert f"track {untagged.pk}: failed" in out.err
    assert Track.objects.get(pk=tagged.pk).metadata_status == MetadataStatus.ENRICHED


def test_enrich_command_refuses_unknown_ids(fake_metadata: FakeMetadataServices) -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No track with id 999"):
        call_command("enrich", "999")
