"""getPlaylists, getPlaylist, createPlaylist (new and replace), updatePlaylist, deletePlaylist."""

from __future__ import annotations

from accounts.models import User
from library import services
from library.models import Playlist
from tests.factories.accounts import UserFactory
from tests.subsonic.conftest import Library, client_for
from tests.subsonic.support import SubsonicClient


def _song_ids(library: Library, *titles: str) -> list[str]:
    return [f"tr-{library.track(title).pk}" for title in titles]


def test_create_with_repeated_song_ids(api: SubsonicClient, library: Library, fmt: str) -> None:
    songs = _song_ids(library, "Yesterday", "Something", "Yesterday")
    reply = api.call("createPlaylist", fmt, http="post", name="Road trip", songId=songs)
    playlist = reply.one("playlist")
    assert playlist["name"] == "Road trip"
    assert playlist["songCount"] == "3"
    assert playlist["owner"] == "alice"
    assert playlist["duration"] == str((125_000 + 182_000 + 125_000) // 1000)
    assert reply.ids("playlist", "entry") == songs  # `<entry>`, order and duplicates kept


def test_create_replacing_an_existing_playlist(api: SubsonicClient, user: User, library: Library, fmt: str) -> None:
    playlist = services.playlist_create(owner=user, name="Old", track_ids=[library.track("Help!").pk])
    songs = _song_ids(library, "Something", "Venus as a Boy")
    reply = api.call("createPlaylist", fmt, playlistId=f"pl-{playlist.pk}", songId=songs)
    assert reply.one("playlist")["id"] == f"pl-{playlist.pk}"
    assert reply.ids("playlist", "entry") == songs
    assert Playlist.objects.count() == 1


def test_create_errors(api: SubsonicClient, library: Library, fmt: str) -> None:
    assert api.call("createPlaylist", fmt).error_code == 10
    assert api.call("createPlaylist", fmt, name="X", songId="tr-999999").error_code == 70
    assert api.call("createPlaylist", fmt, playlistId="pl-999999").error_code == 70


def test_list_and_get(api: SubsonicClient, user: User, library: Library, fmt: str) -> None:
    other = UserFactory.create(username="bob")
    services.playlist_create(owner=user, name="Mine", track_ids=[library.track("Help!").pk])
    public = services.playlist_create(owner=other, name="Bob's public", is_public=True)
    private = services.playlist_create(owner=other, name="Bob's secret")
    reply = api.call("getPlaylists", fmt)
    names = {p["name"]: p for p in reply.items("playlists", "playlist")}
    assert set(names) == {"Mine", "Bob's public"}
    assert names["Bob's public"]["public"] == "true"
    assert api.call("getPlaylist", fmt, id=f"pl-{public.pk}").one("playlist")["name"] == "Bob's public"
    assert api.call("getPlaylist", fmt, id=f"pl-{private.pk}").error_code == 70
    assert api.call("getPlaylist", fmt).error_code == 10


def test_readonly_flag_for_other_peoples_playlists(api: SubsonicClient, library: Library, fmt: str) -> None:
    other = UserFactory.create(username="bob")
    public = services.playlist_create(owner=other, name="Bob's public", is_public=True)
    reply = api.call("getPlaylist", fmt, id=f"pl-{public.pk}")
    assert reply.one("playlist")["readonly"] == "true"


def test_readonly_is_left_out_of_your_own_playlists(api: SubsonicClient, library: Library, fmt: str) -> None:
    """knuckles (the disopy Discord bot) fails on createPlaylist's `readonly=false`; the field is optional."""
    created = api.call("createPlaylist", fmt, http="post", name="Mine", songId=_song_ids(library, "Yesterday"))
    assert "readonly" not in created.one("playlist")
    listed = api.call("getPlaylists", fmt).items("playlists", "playlist")
    assert [item.get("readonly") for item in listed] == [None]


def test_other_users_playlists_need_admin(
    api: SubsonicClient, admin_api: SubsonicClient, user: User, library: Library, fmt: str
) -> None:
    services.playlist_create(owner=user, name="Mine")
    assert api.call("getPlaylists", fmt, username="root").error_code == 50
    names = [p["name"] for p in admin_api.call("getPlaylists", fmt, username="alice").items("playlists", "playlist")]
    assert names == ["Mine"]


def test_update(api: SubsonicClient, user: User, library: Library, fmt: str) -> None:
    playlist = services.playlist_create(
        owner=user, name="Mix", track_ids=[t.pk for t in library.tracks[:3]]
    )  # Come Together, Something, Here Comes the Sun
    reply = api.call(
        "updatePlaylist",
        fmt,
        playlistId=f"pl-{playlist.pk}",
        name="Renamed",
        comment="for Sunday",
        public="true",
        songIndexToRemove=["0", "2"],
        songIdToAdd=_song_ids(library, "Yesterday", "Help!"),
    )
    assert reply.ok
    got = api.call("getPlaylist", fmt, id=f"pl-{playlist.pk}")
    assert got.one("playlist")["name"] == "Renamed"
    assert got.one("playlist")["comment"] == "for Sunday"
    assert got.one("playlist")["public"] == "true"
    assert got.ids("playlist", "entry") == _song_ids(library, "Something", "Yesterday", "Help!")
    bad = api.call("updatePlaylist", fmt, playlistId=f"pl-{playlist.pk}", songIndexToRemove="99")
    assert bad.error_code == 0


def test_only_the_owner_changes_a_playlist(library: Library, fmt: str) -> None:
    owner = UserFactory.create(username="bob")
    playlist = services.playlist_create(owner=owner, name="Bob's", is_public=True)
    intruder = client_for(UserFactory.create(username="eve"))
    assert intruder.call("updatePlaylist", fmt, playlistId=f"pl-{playlist.pk}", name="Mine").error_code == 50
    assert intruder.call("deletePlaylist", fmt, id=f"pl-{playlist.pk}").error_code == 50
    assert Playlist.objects.filter(pk=playlist.pk, name="Bob's").exists()


def test_delete(api: SubsonicClient, user: User, library: Library, fmt: str) -> None:
    playlist = services.playlist_create(owner=user, name="Gone soon")
    assert api.call("deletePlaylist", fmt, id=f"pl-{playlist.pk}").ok
    assert not Playlist.objects.filter(pk=playlist.pk).exists()
    assert api.call("deletePlaylist", fmt, id=f"pl-{playlist.pk}").error_code == 70


def test_users_without_playlist_role_cannot_create(library: Library, fmt: str) -> None:
    limited = client_for(UserFactory.create(username="kid", can_edit_playlists=False))
    assert limited.call("createPlaylist", fmt, name="Nope").error_code == 50
