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
    result = list(selectors.tracks_search(selectors.tracks_list(user=UserFactory.create()), query=query))
    assert (track in result) is found


def test_media_file_confines_paths_to_media_root(tmp_path: Path) -> None:
    (Path(settings.MEDIA_ROOT) / "a").mkdir()
    (Path(settings.MEDIA_ROOT) / "a" / "song.mp3").write_bytes(b"x")
    (tmp_path / "outside.mp3").write_bytes(b"secret")
    assert selectors.media_file(relative="a/song.mp3").read_bytes() == b"x"
    for bad in ("", "../outside.mp3", str(tmp_path / "outside.mp3"), "a", "a/missing.mp3", "a/../../outside.mp3"):
        with pytest.raises(NotFoundError):
            selectors.media_file(relative=bad)
