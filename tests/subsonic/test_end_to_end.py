"""Real files through the real importer, then the calls a player makes: browse, sync, stream, scrobble."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from accounts.models import User
from library.ingest.refresh import albums_refresh
from library.ingest.rows import track_upsert
from library.storage import file_checksum
from library.tags import read_tags
from tests.audio import AudioMaker
from tests.subsonic.support import SubsonicClient


def _import(audio_maker: AudioMaker, relative: str, fmt: str, tags: dict[str, str]) -> None:
    path = Path(settings.MEDIA_ROOT) / relative
    audio_maker.make(path, fmt, tags=tags)
    track, _ = track_upsert(
        source="local",
        source_id=relative,
        tags=read_tags(path),
        stored_path=relative,
        size_bytes=path.stat().st_size,
        checksum=file_checksum(path),
    )
    albums_refresh([track.album_id])


def test_imported_music_plays_in_a_subsonic_client(api: SubsonicClient, user: User, audio_maker: AudioMaker) -> None:
    album = {"album": "Homogenic", "album_artist": "Björk", "artist": "Björk", "date": "1997", "genre": "Electronic"}
    _import(audio_maker, "bjork/01.flac", "flac", {**album, "title": "Hunter", "track": "1"})
    _import(audio_maker, "bjork/02.ogg", "ogg", {**album, "title": "Jóga", "track": "2"})

    albums = api.call("getAlbumList2", "json", type="newest").body["albumList2"]["album"]
    assert [(a["name"], a["artist"], a["songCount"], a["year"]) for a in albums] == [("Homogenic", "Björk", 2, 1997)]
    songs = api.call("getAlbum", "json", id=albums[0]["id"]).body["album"]["song"]
    assert [(s["title"], s["track"], s["suffix"]) for s in songs] == [("Hunter", 1, "flac"), ("Jóga", 2, "ogg")]
    assert songs[0]["duration"] == 1
    assert songs[0]["genre"] == "Electronic"

    synced = api.call("search3", "json", query='""', songCount=500, albumCount=0, artistCount=0)
    assert [s["id"] for s in synced.body["searchResult3"]["song"]] == [s["id"] for s in songs]
    assert [s["title"] for s in api.call("search3", "json", query="joga").body["searchResult3"]["song"]] == ["Jóga"]

    stream = api.raw("stream", id=songs[1]["id"], **api.auth_params())
    assert stream.status_code == 200
    assert b"".join(stream.streaming_content) == (Path(settings.MEDIA_ROOT) / "bjork/02.ogg").read_bytes()  # type: ignore[attr-defined]

    assert api.call("scrobble", "json", id=songs[1]["id"]).ok
    played = api.call("getSong", "json", id=songs[1]["id"]).body["song"]
    assert played["playCount"] == 1
