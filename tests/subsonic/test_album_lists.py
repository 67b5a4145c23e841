"""getAlbumList/2 (every type), getRandomSongs, getSongsByGenre, getNowPlaying, getStarred/2."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import User
from library import services
from library.models import Album, NowPlaying
from tests.factories.accounts import UserFactory
from tests.subsonic.conftest import Library
from tests.subsonic.support import SubsonicClient


def _names(api: SubsonicClient, fmt: str, **params: Any) -> list[str]:
    reply = api.call("getAlbumList2", fmt, **params)
    assert reply.ok, reply.body
    return [a["name"] for a in reply.items("albumList2", "album")]


def test_alphabetical_lists(api: SubsonicClient, library: Library, fmt: str) -> None:
    assert _names(api, fmt, type="alphabeticalByName") == ["Abbey Road", "Début", "Help!"]
    # By artist (article ignored: "Beatles" < "Björk"), then year.
    assert _names(api, fmt, type="alphabeticalByArtist") == ["Help!", "Abbey Road", "Début"]


def test_newest(api: SubsonicClient, library: Library, fmt: str) -> None:
    now = timezone.now()
    for age, album in enumerate([library.debut, library.abbey, library.help_]):
        Album.objects.filter(pk=album.pk).update(created_at=now - timedelta(days=age))
    assert _names(api, fmt, type="newest") == ["Début", "Abbey Road", "Help!"]


def test_user_lists_only_hold_touched_albums(api: SubsonicClient, user: User, library: Library, fmt: str) -> None:
    assert _names(api, fmt, type="highest") == []
    assert _names(api, fmt, type="frequent") == []
    assert _names(api, fmt, type="recent") == []
    assert _names(api, fmt, type="starred") == []
    services.rating_set(user=user, kind="album", item_id=library.debut.pk, rating=5)
    services.rating_set(user=user, kind="album", item_id=library.abbey.pk, rating=3)
    services.play_record(user=user, track=library.track("Yesterday"), played_at=timezone.now() - timedelta(hours=2))
    services.play_record(user=user, track=library.track("Help!"), played_at=timezone.now() - timedelta(hours=1))
    services.play_record(user=user, track=library.track("Something"))
    services.star_set(user=user, kind="album", ids=[library.help_.pk], starred=True)
    assert _names(api, fmt, type="highest") == ["Début", "Abbey Road"]
    assert _names(api, fmt, type="frequent") == ["Help!", "Abbey Road"]
    assert _names(api, fmt, type="recent") == ["Abbey Road", "Help!"]
    assert _names(api, fmt, type="starred") == ["Help!"]


def test_other_users_annotations_do_not_leak(api: SubsonicClient, library: Library, fmt: str) -> None:
    other = UserFactory.create()
    services.star_set(user=other, kind="album", ids=[library.help_.pk], starred=True)
    assert _names(api, fmt, type="starred") == []
    album = api.call("getAlbum", fmt, id=f"al-{library.help_.pk}").one("album")
    assert "starred" not in album


def test_by_year_both_directions(api: SubsonicClient, library: Library, fmt: str) -> None:
    assert _names(api, fmt, type="byYear", fromYear=1960, toYear=1970) == ["Help!", "Abbey Road"]
    # DSub sends reversed ranges on purpose: newest first.
    assert _names(api, fmt, type="byYear", fromYear=2000, toYear=1960) == ["Début", "Abbey Road", "Help!"]
    assert api.call("getAlbumList2", fmt, type="byYear", fromYear=1960).error_code == 10


def test_by_genre_is_case_and_accent_insensitive(api: SubsonicClient, library: Library, fmt: str) -> None:
    assert _names(api, fmt, type="byGenre", genre="pOp") == ["Début", "Help!"]
    assert api.call("getAlbumList2", fmt, type="byGenre").error_code == 10


def test_random_returns_each_album_once(api: SubsonicClient, library: Library, fmt: str) -> None:
    assert sorted(_names(api, fmt, type="random", size=10)) == ["Abbey Road", "Début", "Help!"]


def test_size_and_offset(api: SubsonicClient, library: Library, fmt: str) -> None:
    assert _names(api, fmt, type="alphabeticalByName", size=2) == ["Abbey Road", "Début"]
    assert _names(api, fmt, type="alphabeticalByName", size=2, offset=2) == ["Help!"]
    assert _names(api, fmt, type="alphabeticalByName", size=100_000) == ["Abbey Road", "Début", "Help!"]


@pytest.mark.parametrize(("params", "code"), [({}, 10), ({"type": "bogus"}, 0), ({"type": "newest", "size": -1}, 0)])
def test_list_errors(api: SubsonicClient, library: Library, fmt: str, params: dict[str, Any], code: int) -> None:
    assert api.call("getAlbumList2", fmt, **params).error_code == code


def test_legacy_album_list_uses_directory_children(api: SubsonicClient, library: Library, fmt: str) -> None:
    albums = api.call("getAlbumList", fmt, type="alphabeticalByName").items("albumList", "album")
    assert [a["title"] for a in albums] == ["Abbey Road", "Début", "Help!"]
    assert {a["isDir"] for a in albums} == {"true"}
    assert albums[0]["parent"] == f"ar-{library.beatles.pk}"


def test_random_songs_filters(api: SubsonicClient, library: Library, fmt: str) -> None:
    reply = api.call("getRandomSongs", fmt, size=50, genre="Pop", fromYear=1990, toYear=1999)
    assert sorted(s["title"] for s in reply.items("randomSongs", "song")) == ["Human Behaviour", "Venus as a Boy"]
    assert len(api.call("getRandomSongs", fmt, size=2).items("randomSongs", "song")) == 2


def test_songs_by_genre_paging(api: SubsonicClient, library: Library, fmt: str) -> None:
    first = api.call("getSongsByGenre", fmt, genre="rock", count=3).items("songsByGenre", "song")
    rest = api.call("getSongsByGenre", fmt, genre="rock", count=3, offset=3).items("songsByGenre", "song")
    assert len(first) == 3
    assert len(rest) == 1
    assert {s["id"] for s in first}.isdisjoint({s["id"] for s in rest})
    assert api.call("getSongsByGenre", fmt).error_code == 10


def test_now_playing(api: SubsonicClient, user: User, library: Library, fmt: str) -> None:
    song = library.track("Something")
    services.now_playing_set(user=user, track=song, player="Symfonium")
    stale = UserFactory.create()
    services.now_playing_set(user=stale, track=song, player="old")
    an_hour_ago = timezone.now() - timedelta(hours=1)
    NowPlaying.objects.filter(user=stale).update(started_at=an_hour_ago, reported_at=an_hour_ago)
    entries = api.call("getNowPlaying", fmt).items("nowPlaying", "entry")
    assert len(entries) == 1
    assert entries[0]["username"] == "alice"
    assert entries[0]["title"] == "Something"
    assert entries[0]["playerName"] == "Symfonium"
    assert entries[0]["minutesAgo"] == "0"


def test_starred(api: SubsonicClient, user: User, library: Library, fmt: str) -> None:
    services.star_set(user=user, kind="artist", ids=[library.bjork.pk], starred=True)
    services.star_set(user=user, kind="album", ids=[library.abbey.pk], starred=True)
    services.star_set(user=user, kind="track", ids=[library.track("Yesterday").pk], starred=True)
    for method, key in (("getStarred", "starred"), ("getStarred2", "starred2")):
        reply = api.call(method, fmt)
        assert [a["name"] for a in reply.items(key, "artist")] == ["Björk"]
        assert [a.get("name", a.get("title")) for a in reply.items(key, "album")] == ["Abbey Road"]
        songs = reply.items(key, "song")
        assert [s["title"] for s in songs] == ["Yesterday"]
        assert songs[0]["starred"].endswith("Z")
