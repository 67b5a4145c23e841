"""Playlists over REST: CRUD, entries, visibility, ownership (mass assignment and cross-user access)."""

from __future__ import annotations

from typing import Any

import pytest

from library.models import Playlist, PlaylistEntry
from tests.factories.accounts import AdminFactory, UserFactory
from tests.factories.library import PlaylistFactory, TrackFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/playlists"


def positions(playlist: Playlist) -> list[int]:
    return list(PlaylistEntry.objects.filter(playlist=playlist).order_by("position").values_list("track_id", flat=True))


def test_create_and_read_a_playlist(api_client_for: Any) -> None:
    user = UserFactory.create()
    tracks = TrackFactory.create_batch(3)
    client = api_client_for(user)
    created = client.post(
        URL,
        {"name": "  Road trip ", "comment": "for the car", "track_ids": [tracks[2].pk, tracks[0].pk, tracks[2].pk]},
        format="json",
    )
    assert created.status_code == 201, created.content
    data = created.json()
    assert data["name"] == "Road trip"
    assert data["owner"] == {"id": user.pk, "username": user.username}
    assert data["is_public"] is False
    assert data["entry_count"] == 3
    assert data["duration_ms"] == 3 * 180_000
    assert [(e["position"], e["track"]["id"]) for e in data["entries"]] == [
        (0, tracks[2].pk),
        (1, tracks[0].pk),
        (2, tracks[2].pk),
    ]
    assert client.get(f"{URL}/{data['id']}").json() == data


def test_owner_is_always_the_requesting_user(api_client_for: Any) -> None:
    """Mass assignment (Navidrome CVE-2024-32963): an `owner` in the body must not make someone else the owner."""
    admin = AdminFactory.create()
    user = UserFactory.create()
    client = api_client_for(user)
    created = client.post(
        URL, {"name": "Mine", "owner": admin.pk, "owner_id": admin.pk, "ownerId": admin.pk}, format="json"
    ).json()
    assert Playlist.objects.get(pk=created["id"]).owner == user
    client.patch(f"{URL}/{created['id']}", {"owner": admin.pk, "owner_id": admin.pk}, format="json")
    assert Playlist.objects.get(pk=created["id"]).owner == user


def test_visibility_own_and_public_only(api_client_for: Any) -> None:
    me, other = UserFactory.create(), UserFactory.create()
    mine_private = PlaylistFactory.create(owner=me, name="a")
    theirs_public = PlaylistFactory.create(owner=other, is_public=True, name="b")
    theirs_private = PlaylistFactory.create(owner=other, name="c")
    client = api_client_for(me)
    listed = [p["id"] for p in client.get(URL).json()["results"]]
    assert listed == [mine_private.pk, theirs_public.pk]
    assert client.get(f"{URL}/{theirs_public.pk}").status_code == 200
    hidden = client.get(f"{URL}/{theirs_private.pk}")
    assert hidden.status_code == 404
    assert hidden.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("patch", "", {"name": "pwned"}),
        ("delete", "", None),
        ("post", "/tracks", {"track_ids": []}),
        ("put", "/tracks", {"track_ids": []}),
        ("post", "/tracks/remove", {"positions": [0]}),
        ("post", "/tracks/move", {"from_position": 0, "to_position": 1}),
    ],
)
def test_other_users_cannot_change_or_delete_my_playlists(
    api_client_for: Any, method: str, suffix: str, body: Any
) -> None:
    owner = UserFactory.create()
    tracks = TrackFactory.create_batch(2)
    public = PlaylistFactory.create(owner=owner, is_public=True, name="public")
    private = PlaylistFactory.create(owner=owner, name="private")
    for playlist in (public, private):
        PlaylistEntry.objects.bulk_create(
            [PlaylistEntry(playlist=playlist, track=t, position=i) for i, t in enumerate(tracks)]
        )
    intruder = api_client_for(UserFactory.create())
    public_response = getattr(intruder, method)(f"{URL}/{public.pk}{suffix}", body, format="json")
    assert public_response.status_code == 403
    assert public_response.json()["error"]["code"] == "permission_denied"
    private_response = getattr(intruder, method)(f"{URL}/{private.pk}{suffix}", body, format="json")
    assert private_response.status_code == 404
    for playlist in (public, private):
        playlist.refresh_from_db()
        assert playlist.name in ("public", "private")
        assert positions(playlist) == [t.pk for t in tracks]


def test_update_add_remove_move_replace_and_delete(api_client_for: Any) -> None:
    user = UserFactory.create()
    t = TrackFactory.create_batch(4)
    client = api_client_for(user)
    pid = client.post(URL, {"name": "Mix", "track_ids": [t[0].pk, t[1].pk]}, format="json").json()["id"]
    playlist = Playlist.objects.get(pk=pid)
    patched = client.patch(f"{URL}/{pid}", {"name": "Mix 2", "is_public": True, "comment": "hi"}, format="json")
    assert (patched.json()["name"], patched.json()["is_public"]) == ("Mix 2", True)
    assert client.post(f"{URL}/{pid}/tracks", {"track_ids": [t[2].pk, t[3].pk]}, format="json").status_code == 200
    assert positions(playlist) == [t[0].pk, t[1].pk, t[2].pk, t[3].pk]
    client.post(f"{URL}/{pid}/tracks/remove", {"positions": [0, 2]}, format="json")
    assert positions(playlist) == [t[1].pk, t[3].pk]
    client.post(f"{URL}/{pid}/tracks/move", {"from_position": 1, "to_position": 0}, format="json")
    assert positions(playlist) == [t[3].pk, t[1].pk]
    replaced = client.put(f"{URL}/{pid}/tracks", {"track_ids": [t[2].pk, t[2].pk, t[0].pk]}, format="json")
    assert [e["position"] for e in replaced.json()["entries"]] == [0, 1, 2]
    assert positions(playlist) == [t[2].pk, t[2].pk, t[0].pk]
    assert client.delete(f"{URL}/{pid}").status_code == 204
    assert not Playlist.objects.filter(pk=pid).exists()


@pytest.mark.parametrize(
    ("method", "suffix", "body", "status"),
    [
        ("post", "", {"name": ""}, 400),
        ("post", "", {"name": "x", "track_ids": [999999]}, 404),
        ("post", "", {"name": "x", "track_ids": ["a"]}, 400),
        ("post", "", {"name": "x", "track_ids": [2**70]}, 400),
        ("patch", "/{id}", {"name": "   "}, 400),
        ("post", "/{id}/tracks", {"track_ids": [999999]}, 404),
        ("post", "/{id}/tracks/remove", {"positions": [5]}, 400),
        ("post", "/{id}/tracks/move", {"from_position": 0, "to_position": 9}, 400),
        ("post", "/{id}/tracks/move", {}, 400),
    ],
)
def test_playlist_input_errors(api_client_for: Any, method: str, suffix: str, body: Any, status: int) -> None:
    user = UserFactory.create()
    playlist = PlaylistFactory.create(owner=user)
    PlaylistEntry.objects.create(playlist=playlist, track=TrackFactory.create(), position=0)
    response = getattr(api_client_for(user), method)(URL + suffix.format(id=playlist.pk), body, format="json")
    assert response.status_code == status, response.content
    assert set(response.json()["error"]) == {"code", "message", "details"}
    assert len(positions(playlist)) == 1


def test_users_without_playlist_role_cannot_create(api_client_for: Any) -> None:
    response = api_client_for(UserFactory.create(can_edit_playlists=False)).post(URL, {"name": "x"}, format="json")
    assert response.status_code == 403
