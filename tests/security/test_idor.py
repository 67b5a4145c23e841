"""Object-level authorization (gonic GHSA-hmgp-w9jm-vp95, Navidrome CVE-2024-32963, ASVS 4.2.3): for every object
a user owns, another ordinary user can neither read nor change it, over REST and over Subsonic, and afterwards
the owner's object is exactly as it was."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from accounts.models import ApiKey, User
from downloads.models import DownloadJob, JobState
from library.models import Bookmark, Playlist, PlayQueue, Share, TrackAnnotation
from tests.subsonic.support import SubsonicClient

pytestmark = [pytest.mark.django_db, pytest.mark.security]
DENIED_REST = (403, 404)
DENIED_SUBSONIC = (50, 70)


def _denied(reply: Any) -> None:
    assert not reply.ok, f"{reply.method} let another user through"
    assert reply.error_code in DENIED_SUBSONIC, (reply.method, reply.error_code, reply.error_message)


# ---------------------------------------------------------------------------------------------------------------
# REST
# ---------------------------------------------------------------------------------------------------------------
def test_rest_playlists_of_another_user(owner_rest: APIClient, intruder_rest: APIClient, tracks: list[Any]) -> None:
    ids = [t.pk for t in tracks]
    private = owner_rest.post("/api/v1/playlists", {"name": "mine", "track_ids": ids[:2]}, format="json").json()
    public = owner_rest.post(
        "/api/v1/playlists", {"name": "shared", "track_ids": ids[:2], "is_public": True}, format="json"
    ).json()
    assert intruder_rest.get(f"/api/v1/playlists/{private['id']}").status_code == 404
    listed = {p["id"] for p in intruder_rest.get("/api/v1/playlists").json()["results"]}
    assert private["id"] not in listed
    assert public["id"] in listed  # public playlists are readable, and no more than that
    for playlist in (private, public):
        base = f"/api/v1/playlists/{playlist['id']}"
        for method, path, body in (
            ("patch", base, {"name": "taken", "is_public": True}),
            ("delete", base, None),
            ("post", f"{base}/tracks", {"track_ids": ids[2:]}),
            ("put", f"{base}/tracks", {"track_ids": ids[2:]}),
            ("post", f"{base}/tracks/remove", {"positions": [0]}),
            ("post", f"{base}/tracks/move", {"from_position": 0, "to_position": 1}),
        ):
            response = getattr(intruder_rest, method)(path, body, format="json")
            assert response.status_code in DENIED_REST, (method, path, response.status_code)
        stored = Playlist.objects.get(pk=playlist["id"])
        assert stored.name == playlist["name"]
        assert list(stored.entries.order_by("position").values_list("track_id", flat=True)) == ids[:2]


def test_rest_playlist_owner_cannot_be_assigned(owner: User, intruder_rest: APIClient) -> None:
    """Mass assignment: an `owner`/`owner_id` in the body is ignored, the playlist belongs to the caller."""
    body = {"name": "forged", "owner": owner.pk, "owner_id": owner.pk, "ownerId": owner.pk}
    created = intruder_rest.post("/api/v1/playlists", body, format="json")
    assert created.status_code == 201
    assert Playlist.objects.get(pk=created.json()["id"]).owner.username == "mallory"


def test_rest_api_keys_of_another_user(owner_rest: APIClient, intruder_rest: APIClient) -> None:
    created = owner_rest.post("/api/v1/users/me/api-keys", {"name": "backup"}, format="json").json()
    assert created["id"] not in {k["id"] for k in intruder_rest.get("/api/v1/users/me/api-keys").json()}
    assert intruder_rest.delete(f"/api/v1/users/me/api-keys/{created['id']}").status_code == 404
    assert ApiKey.objects.get(pk=created["id"]).revoked_at is None
    assert APIClient().get("/api/v1/users/me", HTTP_X_API_KEY=created["key"]).json()["username"] == "alice"


def test_rest_download_jobs_of_another_user(owner: User, intruder_rest: APIClient) -> None:
    job = DownloadJob.objects.create(source="youtube", external_id="abc", requested_by=owner, state=JobState.FAILED)
    assert intruder_rest.get(f"/api/v1/downloads/{job.pk}").status_code == 404
    assert intruder_rest.post(f"/api/v1/downloads/{job.pk}/cancel").status_code == 404
    assert intruder_rest.post(f"/api/v1/downloads/{job.pk}/retry").status_code == 404
    assert intruder_rest.post("/api/v1/downloads/retry-failed").status_code == 403
    listed = intruder_rest.get("/api/v1/downloads").json()["results"]
    assert str(job.pk) not in {j["id"] for j in listed}
    assert intruder_rest.get("/api/v1/downloads", {"user": str(owner.pk)}).status_code == 403
    job.refresh_from_db()
    assert job.state == JobState.FAILED
    assert job.attempt == 0


def test_rest_stars_ratings_and_plays_are_per_user(
    owner_rest: APIClient, intruder_rest: APIClient, tracks: list[Any]
) -> None:
    track = f"/api/v1/tracks/{tracks[0].pk}"
    assert owner_rest.post(f"{track}/star").status_code in (200, 204)
    assert owner_rest.put(f"{track}/rating", {"rating": 5}, format="json").status_code in (200, 204)
    assert owner_rest.post("/api/v1/me/plays", {"track_id": tracks[0].pk}, format="json").status_code == 201
    seen = intruder_rest.get(track).json()
    assert (seen["starred_at"], seen["rating"], seen["play_count"]) == (None, 0, 0)
    assert intruder_rest.get("/api/v1/me/plays").json()["results"] == []
    assert intruder_rest.get("/api/v1/tracks", {"starred": "true"}).json()["results"] == []
    intruder_rest.delete(f"{track}/star")
    intruder_rest.put(f"{track}/rating", {"rating": 1}, format="json")
    mine = owner_rest.get(track).json()
    assert mine["starred_at"] is not None
    assert (mine["rating"], mine["play_count"]) == (5, 1)


def test_rest_admin_routes_refuse_ordinary_users(owner: User, intruder_rest: APIClient) -> None:
    user = f"/api/v1/admin/users/{owner.pk}"
    assert intruder_rest.get("/api/v1/admin/users").status_code == 403
    assert intruder_rest.get(user).status_code == 403
    assert intruder_rest.patch(user, {"is_active": False}, format="json").status_code == 403
    assert intruder_rest.post(f"{user}/subsonic-password").status_code == 403
    assert intruder_rest.delete(user).status_code == 403
    assert intruder_rest.post("/api/v1/sources/local/scan").status_code == 403
    owner.refresh_from_db()
    assert owner.is_active


# ---------------------------------------------------------------------------------------------------------------
# Subsonic
# ---------------------------------------------------------------------------------------------------------------
def test_subsonic_playlists_of_another_user(
    owner_sub: SubsonicClient, intruder_sub: SubsonicClient, tracks: list[Any], fmt: str
) -> None:
    songs = [f"tr-{t.pk}" for t in tracks]
    created = owner_sub.call("createPlaylist", fmt, name="mine", songId=songs[:2]).one("playlist")
    pid = created["id"]
    _denied(intruder_sub.call("getPlaylist", fmt, id=pid))
    assert pid not in intruder_sub.call("getPlaylists", fmt).ids("playlists", "playlist")
    _denied(intruder_sub.call("getPlaylists", fmt, username="alice"))
    _denied(intruder_sub.call("updatePlaylist", fmt, playlistId=pid, name="taken", public="true"))
    _denied(intruder_sub.call("updatePlaylist", fmt, playlistId=pid, songIdToAdd=songs[2]))
    _denied(intruder_sub.call("updatePlaylist", fmt, playlistId=pid, songIndexToRemove=0))
    _denied(intruder_sub.call("createPlaylist", fmt, playlistId=pid, songId=songs[2]))  # "replace the songs"
    _denied(intruder_sub.call("deletePlaylist", fmt, id=pid))
    stored = Playlist.objects.get(pk=int(pid.removeprefix("pl-")))
    assert (stored.name, stored.is_public, stored.owner.username) == ("mine", False, "alice")
    assert stored.entries.count() == 2


def test_subsonic_play_queue_of_another_user(
    owner_sub: SubsonicClient, intruder_sub: SubsonicClient, tracks: list[Any], fmt: str
) -> None:
    songs = [f"tr-{t.pk}" for t in tracks]
    assert owner_sub.call("savePlayQueue", fmt, id=songs[:2], current=songs[1], position=4000).ok
    assert intruder_sub.call("getPlayQueue", fmt).items("playQueue", "entry") == []
    assert intruder_sub.call("getPlayQueueByIndex", fmt).items("playQueueByIndex", "entry") == []
    assert intruder_sub.call("savePlayQueue", fmt, id=songs[2]).ok  # their own queue, not the owner's
    mine = owner_sub.call("getPlayQueue", fmt)
    assert mine.ids("playQueue", "entry") == songs[:2]
    assert mine.one("playQueue")["position"] == "4000"
    assert PlayQueue.objects.filter(user__username="alice").count() == 1


def test_subsonic_bookmarks_of_another_user(
    owner_sub: SubsonicClient, intruder_sub: SubsonicClient, tracks: list[Any], fmt: str
) -> None:
    song = f"tr-{tracks[0].pk}"
    assert owner_sub.call("createBookmark", fmt, id=song, position=5000, comment="mine").ok
    assert intruder_sub.call("getBookmarks", fmt).items("bookmarks", "bookmark") == []
    intruder_sub.call("deleteBookmark", fmt, id=song)
    assert intruder_sub.call("createBookmark", fmt, id=song, position=1, comment="theirs").ok
    mine = Bookmark.objects.get(user__username="alice")
    assert (mine.position_ms, mine.comment) == (5000, "mine")
    assert owner_sub.call("getBookmarks", fmt).one("bookmarks", "bookmark")["position"] == "5000"


def test_subsonic_shares_of_another_user(
    owner_sub: SubsonicClient, intruder_sub: SubsonicClient, tracks: list[Any], fmt: str
) -> None:
    share = owner_sub.call("createShare", fmt, id=f"tr-{tracks[0].pk}", description="mine").one("shares", "share")
    assert intruder_sub.call("getShares", fmt).items("shares", "share") == []
    _denied(intruder_sub.call("updateShare", fmt, id=share["id"], description="taken", expires=1))
    _denied(intruder_sub.call("deleteShare", fmt, id=share["id"]))
    stored = Share.objects.get(pk=int(share["id"].removeprefix("sh-")))
    assert (stored.description, stored.expires_at, stored.owner.username) == ("mine", None, "alice")


def test_subsonic_stars_and_ratings_are_per_user(
    owner_sub: SubsonicClient, intruder_sub: SubsonicClient, tracks: list[Any], fmt: str
) -> None:
    song = f"tr-{tracks[0].pk}"
    album = f"al-{tracks[0].album_id}"
    assert owner_sub.call("star", fmt, id=song, albumId=album).ok
    assert owner_sub.call("setRating", fmt, id=song, rating=5).ok
    starred = intruder_sub.call("getStarred2", fmt)
    assert starred.items("starred2", "song") == []
    assert starred.items("starred2", "album") == []
    seen = intruder_sub.call("getSong", fmt, id=song).one("song")
    assert "starred" not in seen
    assert seen.get("userRating") in (None, "0")
    assert intruder_sub.call("unstar", fmt, id=song, albumId=album).ok
    assert intruder_sub.call("setRating", fmt, id=song, rating=0).ok
    mine = TrackAnnotation.objects.get(user__username="alice", track=tracks[0])
    assert mine.starred_at is not None
    assert mine.rating == 5
    assert owner_sub.call("getStarred2", fmt).ids("starred2", "album") == [album]


def test_subsonic_users_of_another_user(
    owner: User, owner_sub: SubsonicClient, intruder_sub: SubsonicClient, fmt: str
) -> None:
    _denied(intruder_sub.call("getUser", fmt, username="alice"))
    _denied(intruder_sub.call("getUsers", fmt))
    _denied(intruder_sub.call("changePassword", fmt, username="alice", password="taken over 1234"))
    _denied(intruder_sub.call("updateUser", fmt, username="alice", adminRole="true", email="x@example.test"))
    _denied(intruder_sub.call("deleteUser", fmt, username="alice"))
    _denied(intruder_sub.call("createUser", fmt, username="sock", password="puppet pass 1", email="s@example.test"))
    owner.refresh_from_db()
    assert owner.is_active
    assert not owner.is_admin
    assert owner_sub.call("ping", fmt).ok  # the owner's app-password still works
    assert not User.objects.filter(username="sock").exists()
