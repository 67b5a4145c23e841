"""List pages are built from value rows, single items from model instances (library.selectors.track_rows and
album_rows): the same song or album must come out byte-for-byte the same either way, in every profile."""

from __future__ import annotations

import copy
from typing import Any
from xml.etree import ElementTree

import pytest

from accounts.models import User
from library import services
from library.models import Album, Track
from tests.subsonic.conftest import Library
from tests.subsonic.support import NS, Reply, SubsonicClient

# pytest → full OpenSubsonic output, DSub → legacy (strict schema), the third → the minimal song profile.
PROFILES = ["pytest", "DSub", "SubMusic"]


def _element(reply: Reply, *path: str, item_id: str) -> Any:
    """The element (JSON dict or XML element, children included) at `path` with id `item_id`."""
    if reply.fmt == "xml":
        nodes = [reply.body]
        for name in path:
            nodes = [child for node in nodes for child in node.findall(NS + name)]
        return next(node for node in nodes if node.get("id") == item_id)
    current: list[Any] = [reply.body]
    for name in path:
        found: list[Any] = []
        for node in current:
            value = node.get(name)
            found.extend(value if isinstance(value, list) else [value] if value is not None else [])
        current = found
    return next(node for node in current if node["id"] == item_id)


def _without_songs(element: Any, fmt: str) -> Any:
    if fmt == "xml":
        element = copy.deepcopy(element)
        for song in element.findall(NS + "song"):
            element.remove(song)
        return ElementTree.tostring(element)
    return {key: value for key, value in element.items() if key != "song"}


def _comparable(element: Any, fmt: str) -> Any:
    return ElementTree.tostring(element) if fmt == "xml" else element


@pytest.fixture
def decorated(user: User, library: Library) -> Library:
    """Every optional attribute set, so a field missing from the row path cannot hide behind an omitted value."""
    track = library.tracks[0]
    Track.objects.filter(pk=track.pk).update(
        bpm=120,
        comment="a comment",
        sort_title="come together",
        explicit=True,
        isrc="GBAYE6900001",
        musicbrainz_recording_id="b1a9c0e9-d987-4042-ae91-78d6a3267d69",
        bit_depth=16,
        replaygain_track_gain=-6.5,
        replaygain_album_peak=0.98,
        replaygain_base_gain=-3.0,
    )
    Album.objects.filter(pk=library.abbey.pk).update(
        cover_path="covers/abbey.jpg",
        release_date="1969-09-26",
        original_year=1969,
        musicbrainz_release_id="d6010be3-98f8-422c-a6c9-787e2e491e58",
    )
    services.star_set(user=user, kind="track", ids=[track.pk], starred=True)
    services.rating_set(user=user, kind="track", item_id=track.pk, rating=4)
    services.star_set(user=user, kind="album", ids=[library.abbey.pk], starred=True)
    services.rating_set(user=user, kind="album", item_id=library.abbey.pk, rating=5)
    services.play_record(user=user, track=track)
    return library


def test_replay_gain_is_always_there_with_only_the_known_values(api: SubsonicClient, decorated: Library) -> None:
    known, partly, none = (f"tr-{track.pk}" for track in decorated.tracks[:3])
    Track.objects.filter(pk=decorated.tracks[1].pk).update(replaygain_track_gain=-1.0)

    gains = [api.call("getSong", "json", id=item).body["song"]["replayGain"] for item in (known, partly, none)]

    assert gains == [{"trackGain": -6.5, "albumPeak": 0.98, "baseGain": -3.0}, {"trackGain": -1.0}, {}]


@pytest.mark.parametrize("client_name", PROFILES)
def test_a_listed_song_equals_the_single_song(
    api: SubsonicClient, decorated: Library, fmt: str, client_name: str
) -> None:
    track_id = f"tr-{decorated.tracks[0].pk}"
    single = api.call("getSong", fmt, client_name=client_name, id=track_id)
    expected = _comparable(_element(single, "song", item_id=track_id), fmt)
    listed = [
        api.call("search3", fmt, client_name=client_name, query=""),
        api.call("getAlbum", fmt, client_name=client_name, id=f"al-{decorated.abbey.pk}"),
        api.call("getStarred2", fmt, client_name=client_name),
    ]
    paths = [("searchResult3", "song"), ("album", "song"), ("starred2", "song")]
    for reply, path in zip(listed, paths, strict=True):
        assert reply.ok
        assert _comparable(_element(reply, *path, item_id=track_id), fmt) == expected, path


@pytest.mark.parametrize("client_name", PROFILES)
def test_a_listed_album_equals_the_single_album(
    api: SubsonicClient, decorated: Library, fmt: str, client_name: str
) -> None:
    album_id = f"al-{decorated.abbey.pk}"
    single = api.call("getAlbum", fmt, client_name=client_name, id=album_id)
    expected = _without_songs(_element(single, "album", item_id=album_id), fmt)
    listed = [
        api.call("getAlbumList2", fmt, client_name=client_name, type="alphabeticalByName"),
        api.call("search3", fmt, client_name=client_name, query="abbey"),
        api.call("getStarred2", fmt, client_name=client_name),
    ]
    paths = [("albumList2", "album"), ("searchResult3", "album"), ("starred2", "album")]
    for reply, path in zip(listed, paths, strict=True):
        assert reply.ok
        assert _without_songs(_element(reply, *path, item_id=album_id), fmt) == expected, path
