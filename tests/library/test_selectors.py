"""library.selectors (REST side): lookups, visibility, user annotations, folded search, media files."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

from library import selectors, services
from mcma.errors import NotFoundError
from tests.factories.accounts import UserFactory
from tests.factories.library import AlbumFactory, ArtistFactory, PlaylistFactory, TrackFactory

pytestmark = pytest.mark.django_db


def test_get_functions_raise_not_found() -> None:
    with pytest.raises(NotFoundError):
        selectors.track_get(track_id=1)
    with pytest.raises(NotFoundError):
        selectors.album_get(album_id=1)
    with pytest.raises(NotFoundError):
        selectors.artist_get(artist_id=1)
    track = TrackFactory.create()
    assert selectors.track_get(track_id=track.pk) == track


def test_playlists_visible_and_playlist_get() -> None:
    me, other = UserFactory.create(), UserFactory.create()
    mine = PlaylistFactory.create(owner=me, name="b")
    public = PlaylistFactory.create(owner=other, is_public=True, name="a")
    private = PlaylistFactory.create(owner=other, name="c")
    assert list(selectors.playlists_visible(user=me)) == [public, mine]
    assert selectors.playlist_get(user=me, playlist_id=public.pk) == public
    with pytest.raises(NotFoundError):
        selectors.playlist_get(user=me, playlist_id=private.pk)


def test_user_data_is_per_user() -> None:
    me, other = UserFactory.create(), UserFactory.create()
    track = TrackFactory.create()
    services.rating_set(user=other, kind="track", item_id=track.pk, rating=5)
    services.star_set(user=me, kind="track", ids=[track.pk], starred=True)
    services.play_record(user=me, track=track)
    mine = selectors.tracks_list(user=me).get(pk=track.pk)
    fields = ("starred_at", "rating", "play_count")
    mine_data = {name: vars(mine)[name] for name in fields}  # annotations, not model fields
    assert mine_data["starred_at"] is not None
    assert (mine_data["rating"], mine_data["play_count"]) == (0, 1)
    theirs = selectors.tracks_list(user=other).get(pk=track.pk)
    assert tuple(vars(theirs)[name] for name in fields) == (None, 5, 0)


@pytest.mark.parametrize(
    ("query", "found"),
    [("beyonce", True), ("BEYONCÉ", True), ("  yonc  ", True), ("halo beyonce", True), ("b%", False), ("", True)],
)
def test_tracks_search_folds_accents_case_and_words(query: str, found: bool) -> None:
    artist = ArtistFactory.create(name="Beyoncé")
    track = TrackFactory.create(title="Halo", album=AlbumFactory.create(album_artist=artist))
    TrackFactory.create(title="Other")
    result = list(selectors.search_ordered(selectors.tracks_list(user=UserFactory.create()), query=query))
    assert (track in result) is found


def test_media_file_confines_paths_to_media_root(tmp_path: Path) -> None:
    (Path(settings.MEDIA_ROOT) / "a").mkdir()
    (Path(settings.MEDIA_ROOT) / "a" / "song.mp3").write_bytes(b"x")
    (tmp_path / "outside.mp3").write_bytes(b"secret")
    assert selectors.media_file(relative="a/song.mp3").read_bytes() == b"x"
    for bad in ("", "../outside.mp3", str(tmp_path / "outside.mp3"), "a", "a/missing.mp3", "a/../../outside.mp3"):
        with pytest.raises(NotFoundError):
            selectors.media_file(relative=bad)


def _query_plan(qs: object) -> str:
    from django.db import connection

    sql, params = qs.query.sql_with_params()  # type: ignore[attr-defined]
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        return "\n".join(str(row[-1]) for row in cursor.fetchall())


def test_sqlite_plans_album_and_sync_queries_from_the_right_track_index() -> None:
    """Without table statistics SQLite picks between equally good-looking indexes: an album's "has a present
    track" check must seek the album's tracks (it once walked every present track for each album: seconds per
    getAlbumList2 page at 100k songs), and the full-library sync must walk the present-track index."""
    from django.db import connection

    from library.selectors.base import present_tracks_by_key
    from library.selectors.subsonic import albums_base

    if connection.vendor != "sqlite":
        pytest.skip("a SQLite planner rule")
    user = UserFactory.create()
    albums_plan = _query_plan(albums_base(user=user, source=None).order_by("sort_name", "pk")[:500])
    assert "track_album_order_idx" in albums_plan, albums_plan
    assert "track_present_idx" not in albums_plan, albums_plan
    sync_plan = _query_plan(present_tracks_by_key().order_by("pk").values_list("pk", flat=True)[50_000:50_500])
    assert "track_present_idx" in sync_plan, sync_plan


def _sync_page(user: object, offset: int, count: int) -> list[int]:
    result = selectors.library_search(
        user=user,  # type: ignore[arg-type]
        query="",
        artist_count=0,
        artist_offset=0,
        album_count=0,
        album_offset=0,
        song_count=count,
        song_offset=offset,
    )
    return [track.pk for track in result.tracks]


def test_full_sync_pages_resume_after_the_last_key_only_while_the_library_is_unchanged() -> None:
    from django.core.cache import cache
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    cache.clear()
    user = UserFactory.create()
    tracks = [TrackFactory.create() for _ in range(7)]
    keys = sorted(track.pk for track in tracks)
    assert _sync_page(user, 0, 3) == keys[0:3]
    with CaptureQueriesContext(connection) as captured:
        assert _sync_page(user, 3, 3) == keys[3:6]
    assert not any("OFFSET" in query["sql"] for query in captured.captured_queries)  # resumed after keys[2]
    assert _sync_page(user, 6, 3) == keys[6:]

    TrackFactory._meta.model.objects.filter(pk=keys[1]).update(is_missing=True)  # a new library state
    present = [key for key in keys if key != keys[1]]
    assert _sync_page(user, 3, 3) == present[3:6]  # counted again, not resumed after a key of the old state


def test_a_sync_page_is_read_by_its_key_range_and_holds_only_its_own_present_tracks() -> None:
    from django.core.cache import cache
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    cache.clear()
    user = UserFactory.create()
    keys = sorted(TrackFactory.create().pk for _ in range(9))
    TrackFactory._meta.model.objects.filter(pk__in=[keys[1], keys[4]]).update(is_missing=True)
    present = [key for key in keys if key not in (keys[1], keys[4])]
    with CaptureQueriesContext(connection) as captured:
        assert _sync_page(user, 0, 4) == present[0:4]
    rows_query = next(query["sql"] for query in captured.captured_queries if '"library_album"' in query["sql"])
    assert " IN (" not in rows_query, rows_query  # two bound keys, not the page's keys
    assert _sync_page(user, 4, 4) == present[4:]
    assert _sync_page(user, 7, 4) == []
