"""Every read endpoint, in every profile and format, against the schema of that profile: the official 1.16.1
XSD for legacy clients (DSub), the open XSD and the OpenSubsonic JSON schemas for everyone else."""

from __future__ import annotations

from typing import Any

import pytest
import xmlschema

from accounts.models import User
from library import services
from library.models import Track
from tests.subsonic.conftest import Library
from tests.subsonic.support import SubsonicClient, open_xsd, strict_xsd

OPEN_SUBSONIC_ONLY = {"getOpenSubsonicExtensions", "getPlayQueueByIndex", "getLyricsBySongId", "tokenInfo"}


def _calls(lib: Library) -> list[tuple[str, dict[str, Any]]]:
    song = lib.tracks[0]
    return [
        ("ping", {}),
        ("getLicense", {}),
        ("getOpenSubsonicExtensions", {}),
        ("tokenInfo", {}),
        ("getMusicFolders", {}),
        ("getIndexes", {}),
        ("getArtists", {}),
        ("getGenres", {}),
        ("getMusicDirectory", {"id": f"ar-{lib.beatles.pk}"}),
        ("getMusicDirectory", {"id": f"al-{lib.abbey.pk}"}),
        ("getArtist", {"id": f"ar-{lib.beatles.pk}"}),
        ("getAlbum", {"id": f"al-{lib.abbey.pk}"}),
        ("getSong", {"id": f"tr-{song.pk}"}),
        ("getArtistInfo", {"id": f"ar-{lib.beatles.pk}"}),
        ("getArtistInfo2", {"id": f"ar-{lib.beatles.pk}"}),
        ("getAlbumInfo", {"id": f"al-{lib.abbey.pk}"}),
        ("getAlbumInfo2", {"id": f"al-{lib.abbey.pk}"}),
        ("getSimilarSongs", {"id": f"tr-{song.pk}"}),
        ("getSimilarSongs2", {"id": f"ar-{lib.beatles.pk}"}),
        ("getTopSongs", {"artist": "The Beatles"}),
        ("getAlbumList", {"type": "starred"}),
        ("getAlbumList2", {"type": "alphabeticalByArtist"}),
        ("getRandomSongs", {}),
        ("getSongsByGenre", {"genre": "rock"}),
        ("getNowPlaying", {}),
        ("getStarred", {}),
        ("getStarred2", {}),
        ("search2", {"query": "the"}),
        ("search3", {"query": ""}),
        ("getPlaylists", {}),
        ("getLyrics", {"artist": "The Beatles", "title": "Something"}),
        ("getLyricsBySongId", {"id": f"tr-{song.pk}"}),
        ("getBookmarks", {}),
        ("getPlayQueue", {}),
        ("getPlayQueueByIndex", {}),
        ("getUser", {"username": "alice"}),
        ("getScanStatus", {}),
        ("getShares", {}),
        ("getInternetRadioStations", {}),
    ]


@pytest.fixture
def annotated(user: User, library: Library) -> Library:
    """Stars, ratings, plays, a playlist, a bookmark and lyrics, so optional fields are present too."""
    song = library.tracks[0]
    services.star_set(user=user, kind="track", ids=[song.pk], starred=True)
    services.star_set(user=user, kind="album", ids=[library.abbey.pk], starred=True)
    services.star_set(user=user, kind="artist", ids=[library.beatles.pk], starred=True)
    services.rating_set(user=user, kind="album", item_id=library.abbey.pk, rating=4)
    services.play_record(user=user, track=song)
    services.now_playing_set(user=user, track=song, player="pytest")
    services.bookmark_save(user=user, track=song, position_ms=1000, comment="here")
    services.playlist_create(owner=user, name="Mix", track_ids=[t.pk for t in library.tracks[:3]])
    Track.objects.filter(pk=library.track("Something").pk).update(
        lyrics="Something in the way", synced_lyrics="[00:01.00]Something\n[00:03.50]in the way"
    )
    return library


@pytest.mark.parametrize("client_name", ["Symfonium", "DSub", "SubMusic"])
def test_every_read_endpoint_matches_its_schema(
    api: SubsonicClient, annotated: Library, fmt: str, client_name: str
) -> None:
    for method, params in _calls(annotated):
        if client_name == "DSub" and method in OPEN_SUBSONIC_ONLY:
            continue  # the official schema has no element for these OpenSubsonic answers
        reply = api.call(method, fmt, client_name=client_name, **params)  # validates
        assert reply.ok, (method, reply.body)


def test_legacy_profile_has_no_open_subsonic_data(api: SubsonicClient, annotated: Library) -> None:
    reply = api.call("getAlbum", "xml", client_name="DSub", id=f"al-{annotated.abbey.pk}")
    content = reply.response.content  # type: ignore[attr-defined]
    assert b"openSubsonic" not in content
    assert b"<genres" not in content
    assert b"<artists" not in content
    assert b"mediaType" not in content


def test_full_profile_is_rejected_by_the_strict_schema_but_passes_the_open_one(
    api: SubsonicClient, annotated: Library
) -> None:
    """Proves the validators really validate: OpenSubsonic output is not 1.16.1 output."""
    reply = api.call("getAlbum", "xml", id=f"al-{annotated.abbey.pk}")
    content = reply.response.content  # type: ignore[attr-defined]
    open_xsd().validate(content)
    with pytest.raises(xmlschema.XMLSchemaValidationError):
        strict_xsd().validate(content)


def test_the_open_schema_rejects_a_malformed_document() -> None:
    bad = (
        b'<subsonic-response xmlns="http://subsonic.org/restapi" status="ok" version="1.16.1">'
        b'<album id="al-1" name="x" songCount="2.5" duration="1" created="2020-01-01T00:00:00Z"/>'
        b"</subsonic-response>"
    )
    with pytest.raises(xmlschema.XMLSchemaValidationError):
        open_xsd().validate(bad)
