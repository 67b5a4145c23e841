"""The search index (migration 0006) follows every write: insert, update, rename, move, missing and delete, on
whichever backend the suite runs (SQLite FTS5 by default, PostgreSQL pg_trgm with DATABASE_URL=postgres://…)."""

from __future__ import annotations

import pytest
from django.db import connection

from library import selectors
from library.models import Album, Artist, Track
from library.text import fold
from tests.factories.accounts import UserFactory
from tests.factories.library import AlbumFactory, ArtistFactory, TrackFactory

pytestmark = pytest.mark.django_db


def _index_body(model: type[Artist | Album | Track], pk: int) -> str | None:
    id_column = "rowid" if connection.vendor == "sqlite" else "item_id"
    with connection.cursor() as cursor:
        table = f"{model._meta.db_table}_search"
        cursor.execute(f"SELECT body FROM {table} WHERE {id_column} = %s", [pk])  # noqa: S608 - names from models
        row = cursor.fetchone()
    return row[0] if row else None


def _found(query: str) -> list[str]:
    return [
        track.title for track in selectors.search_ordered(selectors.tracks_list(user=UserFactory.create()), query=query)
    ]


@pytest.fixture
def track() -> Track:
    artist = ArtistFactory.create(name="Sigur Rós")
    return TrackFactory.create(title="Hoppípolla", album=AlbumFactory.create(name="Takk...", album_artist=artist))


def test_insert_indexes_title_artist_and_album(track: Track) -> None:
    assert _index_body(Track, track.pk) == "hoppipolla sigur ros takk..."
    assert _index_body(Album, track.album_id) == "takk... sigur ros"
    assert _index_body(Artist, track.artist_id) == "sigur ros"
    assert _found("HOPPÍPOLLA") == _found("ros takk") == _found("ppi") == ["Hoppípolla"]


def test_bulk_update_of_a_title_reindexes(track: Track) -> None:
    Track.objects.filter(pk=track.pk).update(title="Glósóli", title_key=fold("Glósóli"))
    assert _found("hoppipolla") == []
    assert _found("glosoli") == ["Glósóli"]


def test_renaming_an_artist_reindexes_its_albums_and_tracks(track: Track) -> None:
    Artist.objects.filter(pk=track.artist_id).update(name="Jónsi", name_key="jonsi")
    assert _index_body(Track, track.pk) == "hoppipolla jonsi takk..."
    assert _index_body(Album, track.album_id) == "takk... jonsi"
    assert _found("sigur") == []
    assert _found("jonsi") == ["Hoppípolla"]


def test_renaming_or_moving_to_another_album_reindexes_the_track(track: Track) -> None:
    Album.objects.filter(pk=track.album_id).update(name_key="með suð")
    assert _found("takk") == []
    assert _found("suð") == ["Hoppípolla"]
    other = AlbumFactory.create(name="Ágætis byrjun")
    Track.objects.filter(pk=track.pk).update(album=other)
    assert _found("byrjun") == ["Hoppípolla"]
    assert _found("suð") == []


def test_missing_tracks_leave_the_index_and_come_back(track: Track) -> None:
    Track.objects.filter(pk=track.pk).update(is_missing=True)
    assert _index_body(Track, track.pk) is None
    Track.objects.filter(pk=track.pk).update(is_missing=False)
    assert _index_body(Track, track.pk) == "hoppipolla sigur ros takk..."


def test_delete_removes_the_rows(track: Track) -> None:
    album, artist = track.album, track.artist
    track.delete()
    album.delete()
    artist.delete()
    assert (_index_body(Track, track.pk or 0), _index_body(Album, album.pk or 0)) == (None, None)
    assert _index_body(Artist, artist.pk or 0) is None


def test_bulk_created_rows_are_indexed() -> None:
    album = AlbumFactory.create(name="Bulk")
    tracks = Track.objects.bulk_create(
        [TrackFactory.build(title=f"Bulk Song {n}", title_key=f"bulk song {n}", album=album) for n in range(3)]
    )
    assert all(_index_body(Track, t.pk) is not None for t in tracks)
    assert len(_found("bulk song")) == 3


@pytest.mark.security
@pytest.mark.parametrize("query", ['"', 'a" OR "b', "NEAR(x y)", "*", "x:y", "'--", "%", "_", "\\"])
def test_index_query_syntax_is_never_interpreted(track: Track, query: str) -> None:
    assert _found(query) == []
