"""getIndexes/getArtists from the per-folder artist index cache: every library change shows up at once, and one
user's stars and ratings never show in another user's index."""

from __future__ import annotations

import pytest
from django.db import connection

from accounts.models import User
from library import selectors, services
from library.models import Album, Artist, Track
from tests.factories.accounts import UserFactory
from tests.factories.library import AlbumFactory, ArtistFactory, TrackFactory
from tests.subsonic.conftest import Library, client_for
from tests.subsonic.support import SubsonicClient


def _names(api: SubsonicClient, fmt: str, method: str = "getArtists") -> list[str]:
    element = "artists" if method == "getArtists" else "indexes"
    return [artist["name"] for artist in api.call(method, fmt).items(element, "index", "artist")]


@pytest.mark.parametrize("method", ["getArtists", "getIndexes"])
def test_changes_show_up_through_every_write_path(api: SubsonicClient, library: Library, fmt: str, method: str) -> None:
    assert _names(api, fmt, method) == ["The Beatles", "Björk"]
    Artist.objects.filter(pk=library.bjork.pk).update(name="Bjork Gudmundsdottir")  # a raw bulk update
    assert _names(api, fmt, method) == ["The Beatles", "Bjork Gudmundsdottir"]
    TrackFactory.create(album=AlbumFactory.create(album_artist=ArtistFactory.create(name="ABBA")))
    assert _names(api, fmt, method) == ["ABBA", "The Beatles", "Bjork Gudmundsdottir"]
    Track.objects.filter(album__album_artist__name="ABBA").delete()
    Album.objects.filter(album_artist__name="ABBA").delete()
    assert _names(api, fmt, method) == ["The Beatles", "Bjork Gudmundsdottir"]


def test_stars_and_ratings_stay_with_their_user(api: SubsonicClient, library: Library, fmt: str) -> None:
    other = client_for(UserFactory.create())
    assert other.call("getArtists", fmt).ok  # the shared index is cached before anyone stars
    me = User.objects.get(username=api.username)
    services.star_set(user=me, kind="artist", ids=[library.bjork.pk], starred=True)
    services.rating_set(user=me, kind="artist", item_id=library.beatles.pk, rating=4)
    mine = {a["name"]: a for a in api.call("getArtists", fmt).items("artists", "index", "artist")}
    theirs = {a["name"]: a for a in other.call("getArtists", fmt).items("artists", "index", "artist")}
    assert "starred" in mine["Björk"]
    assert str(mine["The Beatles"].get("userRating")) == "4"
    assert all("starred" not in artist and "userRating" not in artist for artist in theirs.values())
    entries = {a["name"]: a for a in api.call("getIndexes", fmt).items("indexes", "index", "artist")}
    assert "starred" in entries["Björk"]


def test_last_modified_is_integer_ms_and_moves_with_the_library(
    api: SubsonicClient, library: Library, fmt: str
) -> None:
    before = api.call("getIndexes", fmt).one("indexes")["lastModified"]
    assert len(str(before)) == 13
    assert str(before).isdigit()
    unchanged = api.call("getIndexes", fmt, ifModifiedSince=before)
    assert unchanged.items("indexes", "index") == []
    Artist.objects.filter(pk=library.bjork.pk).update(name="Björk Guðmundsdóttir")
    after = api.call("getIndexes", fmt, ifModifiedSince=before)
    assert int(after.one("indexes")["lastModified"]) >= int(before)
    assert "Björk Guðmundsdóttir" in [a["name"] for a in after.items("indexes", "index", "artist")]


@pytest.mark.django_db
def test_the_change_token_follows_insert_update_delete() -> None:
    tokens = [selectors.library_change().token]
    artist = ArtistFactory.create()
    tokens.append(selectors.library_change().token)
    Artist.objects.filter(pk=artist.pk).update(name="Renamed")
    tokens.append(selectors.library_change().token)
    artist.delete()
    tokens.append(selectors.library_change().token)
    assert len(set(tokens)) == len(tokens)
    assert selectors.library_change().changed_ms > 0


@pytest.mark.django_db(transaction=True)
def test_committed_changes_move_the_token_and_leave_no_pending_notes() -> None:
    before = selectors.library_change()
    ArtistFactory.create()  # autocommit: committed at once
    after = selectors.library_change()
    assert after.token != before.token
    assert after.changed_ms >= before.changed_ms
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM library_change_pending")
            assert cursor.fetchone() == (0,)
