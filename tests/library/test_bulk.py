"""library.bulk: plain multi-row inserts give the same rows as the ORM would, defaults and conversions included."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import IntegrityError, transaction

from library import bulk
from library.models import MetadataStatus, Track
from tests.factories.library import AlbumFactory

pytestmark = pytest.mark.django_db


def _row(album_id: int, artist_id: int, n: int) -> dict[str, object]:
    return {
        "source": "local",
        "source_id": f"bulk/{n}.flac",
        "title": f"Song {n}",
        "title_key": f"song {n}",
        "album_id": album_id,
        "artist_id": artist_id,
        "path": f"A/B/{n}.flac",
        "duration_ms": 1000 * n,
        "replaygain_track_gain": -6.5,
        "explicit": None,
    }


def test_insert_rows_fills_defaults_and_converts_like_the_orm() -> None:
    album = AlbumFactory.create()
    rows = [_row(album.pk, album.album_artist_id, n) for n in range(1, 4)]

    bulk.insert_rows(Track, rows)

    tracks = list(Track.objects.filter(source_id__startswith="bulk/").order_by("duration_ms"))
    assert [t.title for t in tracks] == ["Song 1", "Song 2", "Song 3"]
    first = tracks[0]
    assert first.source_metadata == {}  # a JSON default, converted for the database
    assert first.metadata_status == MetadataStatus.PENDING
    assert (first.disc_number, first.is_missing, first.replaygain_track_gain) == (1, False, -6.5)
    assert first.created_at is not None
    assert first.created_at == first.updated_at  # one timestamp per call
    assert (first.album, first.artist_id) == (album, album.album_artist_id)


def test_insert_rows_sends_a_large_batch_as_one_executemany(django_assert_num_queries: Any) -> None:
    album = AlbumFactory.create()
    rows = [_row(album.pk, album.album_artist_id, n) for n in range(1, 1202)]

    with django_assert_num_queries(1):
        bulk.insert_rows(Track, rows)

    assert Track.objects.filter(source_id__startswith="bulk/").count() == 1201


def test_insert_rows_raises_on_a_constraint_and_inserts_nothing() -> None:
    album = AlbumFactory.create()
    rows = [_row(album.pk, album.album_artist_id, 1), _row(album.pk, album.album_artist_id, 1)]

    with pytest.raises(IntegrityError), transaction.atomic():
        bulk.insert_rows(Track, rows)

    assert not Track.objects.filter(source_id__startswith="bulk/").exists()


def test_insert_rows_of_nothing_runs_no_query(django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(0):
        bulk.insert_rows(Track, [])
