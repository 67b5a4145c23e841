"""Bookmarks and the play queue, by song id and by index."""

from __future__ import annotations

from accounts.models import User
from library.models import Bookmark, PlayQueue
from tests.subsonic.conftest import Library
from tests.subsonic.support import SubsonicClient


def test_bookmark_lifecycle(api: SubsonicClient, user: User, library: Library, fmt: str) -> None:
    song = f"tr-{library.track('Something').pk}"
    assert api.call("createBookmark", fmt, id=song, position=65_000, comment="solo").ok
    assert api.call("createBookmark", fmt, id=song, position=70_000).ok  # same song: moved, not duplicated
    bookmarks = api.call("getBookmarks", fmt)
    bookmark = bookmarks.one("bookmarks", "bookmark")
    assert bookmark["position"] == "70000"
    assert bookmark["username"] == "alice"
    assert bookmarks.one("bookmarks", "bookmark", "entry")["id"] == song
    assert api.call("deleteBookmark", fmt, id=song).ok
    assert not Bookmark.objects.exists()
    assert api.call("deleteBookmark", fmt, id=song).error_code == 70


def test_bookmark_errors(api: SubsonicClient, library: Library, fmt: str) -> None:
    song = f"tr-{library.tracks[0].pk}"
    assert api.call("createBookmark", fmt, id=song).error_code == 10
    assert api.call("createBookmark", fmt, position=1).error_code == 10
    assert api.call("createBookmark", fmt, id=song, position=-5).error_code == 0
    assert api.call("createBookmark", fmt, id="tr-999999", position=5).error_code == 70


def test_play_queue_round_trip(api: SubsonicClient, user: User, library: Library, fmt: str) -> None:
    empty = api.call("getPlayQueue", fmt).one("playQueue")
    assert empty["username"] == "alice"
    assert "current" not in empty
    songs = [f"tr-{library.track(t).pk}" for t in ("Help!", "Yesterday", "Help!")]
    saved = api.call("savePlayQueue", fmt, client_name="Tempo", id=songs, current=songs[1], position=42_000)
    assert saved.ok
    reply = api.call("getPlayQueue", fmt)
    queue = reply.one("playQueue")
    assert queue["current"] == songs[1]
    assert queue["position"] == "42000"
    assert queue["changedBy"] == "Tempo"
    assert reply.ids("playQueue", "entry") == songs
    by_index = api.call("getPlayQueueByIndex", fmt)
    assert by_index.one("playQueueByIndex")["currentIndex"] == "1"
    assert by_index.ids("playQueueByIndex", "entry") == songs


def test_saving_an_empty_queue_clears_it(api: SubsonicClient, user: User, library: Library, fmt: str) -> None:
    api.call("savePlayQueue", fmt, id=f"tr-{library.tracks[0].pk}")
    assert PlayQueue.objects.filter(user=user).exists()
    assert api.call("savePlayQueue", fmt).ok
    assert not PlayQueue.objects.filter(user=user).exists()


def test_save_by_index_keeps_duplicates(api: SubsonicClient, library: Library, fmt: str) -> None:
    songs = [f"tr-{library.track(t).pk}" for t in ("Help!", "Help!", "Yesterday")]
    assert api.call("savePlayQueueByIndex", fmt, id=songs, currentIndex=1, position=5).ok
    queue = api.call("getPlayQueueByIndex", fmt)
    assert queue.one("playQueueByIndex")["currentIndex"] == "1"
    assert queue.ids("playQueueByIndex", "entry") == songs


def test_play_queue_errors(api: SubsonicClient, library: Library, fmt: str) -> None:
    song = f"tr-{library.tracks[0].pk}"
    other = f"tr-{library.tracks[1].pk}"
    assert api.call("savePlayQueue", fmt, id=song, current=other).error_code == 0
    assert api.call("savePlayQueue", fmt, id="tr-999999").error_code == 70
    assert api.call("savePlayQueueByIndex", fmt, id=song, currentIndex=3).error_code == 10
    assert api.call("savePlayQueueByIndex", fmt, id=song).error_code == 10
