"""Hostile tag text in Subsonic XML and JSON: markup characters survive as text, control characters never break
the document, and every answer still validates against the XSD / OpenAPI schema (tests/subsonic/support.py)."""

from __future__ import annotations

import pytest

from accounts.models import User
from library import services
from library.ingest.refresh import albums_refresh
from library.models import Track
from tests.factories.library import AlbumFactory, ArtistFactory, TrackFactory
from tests.subsonic.support import SubsonicClient

pytestmark = [pytest.mark.django_db, pytest.mark.security]

MARKUP = "<b>&amp; \"quoted\" 'single' ]]> </subsonic-response>"
# C0 controls are not allowed anywhere in XML 1.0; DEL and the non-characters are legal but hostile.
CONTROLS = "".join(chr(c) for c in range(1, 32) if chr(c) not in "\t\n\r") + "\x7f\ufffe\uffff"
HOSTILE = f"{MARKUP} {CONTROLS} end"


def _printable(text: str) -> str:
    """What XML 1.0 can carry: no C0 control but tab, newline and return, and not the non-characters U+FFFE/F."""
    return "".join(ch for ch in text if (ord(ch) >= 32 or ch in "\t\n\r") and ch not in "\ufffe\uffff")


@pytest.fixture
def hostile_track(db: None) -> Track:
    artist = ArtistFactory.create(name=f"artist {HOSTILE}")
    album = AlbumFactory.create(name=f"album {HOSTILE}", album_artist=artist)
    track = TrackFactory.create(
        album=album, title=f"title {HOSTILE}", lyrics=f"lyrics {HOSTILE}", artist_display=f"artist {HOSTILE}"
    )
    albums_refresh([album.pk])
    return track


def _assert_survives(value: str, expected: str, fmt: str) -> None:
    """The markup comes back as text. JSON can carry every character (escaped); XML 1.0 can't carry C0 controls
    or U+FFFE/F, so there they are dropped, never sent raw (the document would not parse)."""
    assert value == (expected if fmt == "json" else _printable(expected)), repr(value)


def test_hostile_tags_in_song_album_and_search_documents(
    owner_sub: SubsonicClient, hostile_track: Track, fmt: str
) -> None:
    song = owner_sub.call("getSong", fmt, id=f"tr-{hostile_track.pk}").one("song")
    _assert_survives(song["title"], f"title {HOSTILE}", fmt)
    _assert_survives(song["album"], f"album {HOSTILE}", fmt)
    _assert_survives(song["artist"], f"artist {HOSTILE}", fmt)
    album = owner_sub.call("getAlbum", fmt, id=f"al-{hostile_track.album_id}").one("album")
    _assert_survives(album["name"], f"album {HOSTILE}", fmt)
    found = owner_sub.call("search3", fmt, query="title").items("searchResult3", "song")
    assert [s["id"] for s in found] == [f"tr-{hostile_track.pk}"]
    # Control characters in a parameter are refused by name (issue 19 defect 2); the markup itself is fine.
    assert owner_sub.call("getLyrics", fmt, artist="artist", title=f"title {HOSTILE}").error_code == 10
    assert owner_sub.call("getLyrics", fmt, artist="artist", title=_printable(f"title {HOSTILE}")).ok


def test_hostile_user_text_in_playlists_bookmarks_and_shares(
    owner: User, owner_sub: SubsonicClient, hostile_track: Track, fmt: str
) -> None:
    playlist = services.playlist_create(owner=owner, name=f"playlist {HOSTILE}", track_ids=[hostile_track.pk])
    services.playlist_update(playlist=playlist, actor=owner, comment=f"comment {HOSTILE}")
    got = owner_sub.call("getPlaylist", fmt, id=f"pl-{playlist.pk}").one("playlist")
    _assert_survives(got["name"], f"playlist {HOSTILE}", fmt)
    _assert_survives(got["comment"], f"comment {HOSTILE}", fmt)
    assert owner_sub.call("createBookmark", fmt, id=f"tr-{hostile_track.pk}", position=1000, comment=MARKUP).ok
    bookmark = owner_sub.call("getBookmarks", fmt).one("bookmarks", "bookmark")
    assert bookmark["comment"] == MARKUP
    created = owner_sub.call("createShare", fmt, id=f"tr-{hostile_track.pk}", description=MARKUP)
    assert created.ok, created.error_message if not created.ok else ""
    assert owner_sub.call("getShares", fmt).one("shares", "share")["description"] == MARKUP


def test_hostile_text_sent_by_a_client_round_trips(owner_sub: SubsonicClient, hostile_track: Track, fmt: str) -> None:
    created = owner_sub.call("createPlaylist", fmt, name=MARKUP, songId=f"tr-{hostile_track.pk}")
    assert created.ok
    assert created.one("playlist")["name"] == MARKUP
    control = owner_sub.call("createPlaylist", fmt, name=f"bell\x07 {MARKUP}")
    assert control.ok or control.error_code == 10
