"""getMusicFolders, getIndexes, getMusicDirectory, getArtists/Artist/Album/Song, info, similar and top songs."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import User
from library import services
from library.models import Album, Artist, Track
from tests.factories.library import TrackFactory
from tests.subsonic.conftest import Library
from tests.subsonic.support import SubsonicClient


def _youtube_enabled(settings: Any, enabled: bool) -> None:
    sources = dict(settings.MCMA_SOURCES)
    sources["youtube"] = {**sources["youtube"], "OPTIONS": {**sources["youtube"]["OPTIONS"], "enabled": enabled}}
    settings.MCMA_SOURCES = sources


def test_music_folders_are_the_enabled_sources(api: SubsonicClient, fmt: str, settings: Any) -> None:
    _youtube_enabled(settings, True)
    reply = api.call("getMusicFolders", fmt)
    folders = reply.items("musicFolders", "musicFolder")
    assert [f["id"] for f in folders] == ["1", "2"]
    assert [f["name"] for f in folders] == ["Local", "Youtube"]


def test_a_disabled_source_is_no_music_folder(api: SubsonicClient, library: Library, fmt: str, settings: Any) -> None:
    _youtube_enabled(settings, False)
    folders = api.call("getMusicFolders", fmt).items("musicFolders", "musicFolder")
    assert [(f["id"], f["name"]) for f in folders] == [("1", "Local")]
    assert api.call("getAlbumList2", fmt, type="newest", musicFolderId=2).error_code == 70
    assert api.call("getUser", fmt, username=api.username).values("user", "folder") == ["1"]


def test_music_folder_filter(api: SubsonicClient, library: Library, fmt: str, settings: Any) -> None:
    _youtube_enabled(settings, True)
    Track.objects.filter(album=library.debut).update(source="youtube")
    local = api.call("getAlbumList2", fmt, type="alphabeticalByName", musicFolderId=1)
    youtube = api.call("getAlbumList2", fmt, type="alphabeticalByName", musicFolderId=2)
    assert [a["name"] for a in local.items("albumList2", "album")] == ["Abbey Road", "Help!"]
    assert [a["name"] for a in youtube.items("albumList2", "album")] == ["Début"]
    assert api.call("getAlbumList2", fmt, type="newest", musicFolderId=9).error_code == 70


def test_indexes_group_by_article_free_name(api: SubsonicClient, library: Library, fmt: str) -> None:
    reply = api.call("getIndexes", fmt)
    indexes = reply.one("indexes")
    assert indexes["ignoredArticles"].split() == ["The", "A", "An", "Les", "La", "Le", "Die", "Das", "El"]
    assert [i["name"] for i in reply.items("indexes", "index")] == ["B"]
    assert [a["name"] for a in reply.items("indexes", "index", "artist")] == ["The Beatles", "Björk"]


def test_indexes_if_modified_since(api: SubsonicClient, library: Library, fmt: str) -> None:
    last_modified = int(api.call("getIndexes", fmt).one("indexes")["lastModified"])
    unchanged = api.call("getIndexes", fmt, ifModifiedSince=last_modified)
    assert unchanged.items("indexes", "index") == []
    assert unchanged.one("indexes")["lastModified"] == str(last_modified)
    changed = api.call("getIndexes", fmt, ifModifiedSince=last_modified - 1)
    assert len(changed.items("indexes", "index", "artist")) == 2


def test_non_letters_go_under_hash(api: SubsonicClient, library: Library, fmt: str) -> None:
    Artist.objects.filter(pk=library.bjork.pk).update(name="2Pac", sort_name="2pac")
    reply = api.call("getArtists", fmt)
    assert [i["name"] for i in reply.items("artists", "index")] == ["#", "B"]


def test_music_directory_tree(api: SubsonicClient, library: Library, fmt: str) -> None:
    artist_dir = api.call("getMusicDirectory", fmt, id=f"ar-{library.beatles.pk}")
    directory = artist_dir.one("directory")
    assert directory["name"] == "The Beatles"
    children = artist_dir.items("directory", "child")
    assert [c["title"] for c in children] == ["Help!", "Abbey Road"]  # oldest first
    assert all(c["isDir"] == "true" for c in children)
    album_dir = api.call("getMusicDirectory", fmt, id=children[1]["id"])
    songs = album_dir.items("directory", "child")
    assert [s["title"] for s in songs] == ["Come Together", "Something", "Here Comes the Sun"]
    assert all(s["isDir"] == "false" and s["parent"] == children[1]["id"] for s in songs)


@pytest.mark.parametrize("bad_id", ["tr-1", "zz-1", "al-999999", "../etc", ""])
def test_music_directory_unknown_ids(api: SubsonicClient, library: Library, fmt: str, bad_id: str) -> None:
    reply = api.call("getMusicDirectory", fmt, id=bad_id)
    assert reply.error_code == (10 if bad_id == "" else 70)


def test_get_artists_and_artist(api: SubsonicClient, library: Library, fmt: str) -> None:
    artists = api.call("getArtists", fmt).items("artists", "index", "artist")
    beatles = next(a for a in artists if a["name"] == "The Beatles")
    assert beatles["albumCount"] == "2"
    assert beatles["coverArt"] == beatles["id"]
    reply = api.call("getArtist", fmt, id=beatles["id"])
    assert reply.one("artist")["albumCount"] == "2"
    assert [a["name"] for a in reply.items("artist", "album")] == ["Help!", "Abbey Road"]


def test_get_album_and_song(api: SubsonicClient, library: Library, fmt: str) -> None:
    reply = api.call("getAlbum", fmt, id=f"al-{library.abbey.pk}")
    album = reply.one("album")
    assert album["artist"] == "The Beatles"
    assert album["year"] == "1969"
    assert album["genre"] == "Rock"
    songs = reply.items("album", "song")
    assert [s["track"] for s in songs] == ["1", "2", "7"]
    song = api.call("getSong", fmt, id=songs[1]["id"]).one("song")
    assert song["title"] == "Something"
    assert song["albumId"] == f"al-{library.abbey.pk}"
    assert song["artistId"] == f"ar-{library.beatles.pk}"
    assert song["duration"] == "182"
    assert song["type"] == "music"


def test_missing_files_are_hidden(api: SubsonicClient, library: Library, fmt: str) -> None:
    Track.objects.filter(pk=library.track("Something").pk).update(is_missing=True)
    songs = api.call("getAlbum", fmt, id=f"al-{library.abbey.pk}").items("album", "song")
    assert "Something" not in [s["title"] for s in songs]
    assert api.call("getSong", fmt, id=f"tr-{library.track('Something').pk}").error_code == 70


def test_bare_numeric_ids_are_accepted(api: SubsonicClient, library: Library, fmt: str) -> None:
    assert api.call("getAlbum", fmt, id=str(library.abbey.pk)).one("album")["name"] == "Abbey Road"


def test_albums_with_and_without_a_cover_have_cover_art(api: SubsonicClient, library: Library, fmt: str) -> None:
    """Without one, getCoverArt answers a placeholder (test_client_quirks)."""
    Album.objects.filter(pk=library.help_.pk).update(cover_path="covers/help.jpg")
    help_album = api.call("getAlbum", fmt, id=f"al-{library.help_.pk}")
    assert help_album.one("album")["coverArt"] == f"al-{library.help_.pk}"
    assert {s["coverArt"] for s in help_album.items("album", "song")} == {f"al-{library.help_.pk}"}
    assert api.call("getAlbum", fmt, id=f"al-{library.abbey.pk}").one("album")["coverArt"] == f"al-{library.abbey.pk}"


def test_artist_info_lists_similar_artists_by_genre(api: SubsonicClient, library: Library, fmt: str) -> None:
    reply = api.call("getArtistInfo2", fmt, id=f"ar-{library.bjork.pk}")
    assert [a["name"] for a in reply.items("artistInfo2", "similarArtist")] == ["The Beatles"]
    legacy = api.call("getArtistInfo", fmt, id=f"al-{library.debut.pk}")
    assert [a["name"] for a in legacy.items("artistInfo", "similarArtist")] == ["The Beatles"]


def test_album_info_is_answered(api: SubsonicClient, library: Library, fmt: str) -> None:
    Album.objects.filter(pk=library.abbey.pk).update(musicbrainz_release_id="b84ee12a-09ef-421b-82de-0441a926375b")
    for method in ("getAlbumInfo", "getAlbumInfo2"):
        reply = api.call(method, fmt, id=f"al-{library.abbey.pk}")
        assert reply.values("albumInfo", "musicBrainzId") == ["b84ee12a-09ef-421b-82de-0441a926375b"]


def test_similar_songs_from_local_data(api: SubsonicClient, library: Library, fmt: str) -> None:
    seed = library.track("Human Behaviour")
    reply = api.call("getSimilarSongs2", fmt, id=f"tr-{seed.pk}", count=50)
    titles = {s["title"] for s in reply.items("similarSongs2", "song")}
    assert "Human Behaviour" not in titles
    assert titles == {"Venus as a Boy", "Yesterday"}  # same artist, or sharing the Pop genre
    limited = api.call("getSimilarSongs", fmt, id=f"tr-{seed.pk}", count=1)
    assert len(limited.items("similarSongs", "song")) == 1


def test_top_songs_by_play_count(api: SubsonicClient, user: User, library: Library, fmt: str) -> None:
    for _ in range(3):
        services.play_record(user=user, track=library.track("Yesterday"))
    services.play_record(user=user, track=library.track("Something"))
    reply = api.call("getTopSongs", fmt, artist="the beatles", count=2)
    assert [s["title"] for s in reply.items("topSongs", "song")] == ["Yesterday", "Something"]
    by_id = api.call("getTopSongs", fmt, id=f"ar-{library.beatles.pk}", count=1)
    assert [s["title"] for s in by_id.items("topSongs", "song")] == ["Yesterday"]
    assert api.call("getTopSongs", fmt, artist="Nobody").items("topSongs", "song") == []
    assert api.call("getTopSongs", fmt).error_code == 10


def test_featured_artist_songs_count_as_top_songs(api: SubsonicClient, library: Library, fmt: str) -> None:
    feature = TrackFactory.create(album=library.debut, title="Duet", artist=library.bjork)
    feature.artists.add(library.beatles, through_defaults={"role": "featured"})
    titles = [s["title"] for s in api.call("getTopSongs", fmt, artist="The Beatles").items("topSongs", "song")]
    assert "Duet" in titles


def test_created_dates_are_utc_with_z(api: SubsonicClient, library: Library) -> None:
    Album.objects.filter(pk=library.abbey.pk).update(created_at=timezone.now() - timedelta(days=1))
    album = api.call("getAlbum", "xml", id=f"al-{library.abbey.pk}").one("album")
    assert album["created"].endswith("Z")
