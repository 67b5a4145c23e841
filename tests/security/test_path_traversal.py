"""Path traversal in every id (gonic GHSA-4gxv-p5g5-j7w7, Jellyfin CVE-2021-21402, MPD CVE-2026-49128): ids are
opaque keys looked up in the database, never joined to a path. Every hostile id is a clear refusal (a Subsonic
error other than "Internal server error", a REST 404/400 in the API's error shape), never a file."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from accounts.models import User
from tests.security.conftest import rest_client
from tests.subsonic.conftest import client_for
from tests.subsonic.support import Reply, SubsonicClient

pytestmark = [pytest.mark.django_db, pytest.mark.security]

PAYLOADS = [
    "../",
    "../../../../etc/passwd",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",  # arrives as this literal text: the server must not decode it again
    "..%2F..%2F",
    "....//....//etc/passwd",
    "/etc/passwd",
    "tr-1/../../etc/passwd",
    "al-1/../../../etc/passwd",
    "..\\..\\win.ini",
    "C:\\Windows\\win.ini",
    "file:///etc/passwd",
    "tr-9" + "9" * 5000,
]
NUL_PAYLOADS = ["al-1\x00", "\x00", "tr-1\x00.mp3"]
# Every Subsonic parameter that names an object, with what else the method needs to reach the lookup.
ID_PARAMETERS: list[tuple[str, str, dict[str, Any]]] = [
    ("getMusicDirectory", "id", {}),
    ("getArtist", "id", {}),
    ("getAlbum", "id", {}),
    ("getSong", "id", {}),
    ("getArtistInfo", "id", {}),
    ("getArtistInfo2", "id", {}),
    ("getAlbumInfo", "id", {}),
    ("getAlbumInfo2", "id", {}),
    ("getSimilarSongs", "id", {}),
    ("getSimilarSongs2", "id", {}),
    ("getIndexes", "musicFolderId", {}),
    ("getArtists", "musicFolderId", {}),
    ("getAlbumList2", "musicFolderId", {"type": "random"}),
    ("getPlaylist", "id", {}),
    ("updatePlaylist", "playlistId", {}),
    ("updatePlaylist", "songIdToAdd", {"playlistId": "pl-1"}),
    ("deletePlaylist", "id", {}),
    ("createPlaylist", "playlistId", {}),
    ("createPlaylist", "songId", {"name": "x"}),
    ("stream", "id", {}),
    ("download", "id", {}),
    ("getCoverArt", "id", {}),
    ("getLyricsBySongId", "id", {}),
    ("getAvatar", "username", {}),
    ("getUser", "username", {}),
    ("star", "id", {}),
    ("star", "albumId", {}),
    ("star", "artistId", {}),
    ("unstar", "id", {}),
    ("setRating", "id", {"rating": 3}),
    ("scrobble", "id", {}),
    ("createBookmark", "id", {"position": 1}),
    ("deleteBookmark", "id", {}),
    ("savePlayQueue", "id", {}),
    ("savePlayQueue", "current", {"id": "tr-1"}),
    ("createShare", "id", {}),
    ("updateShare", "id", {}),
    ("deleteShare", "id", {}),
    ("updateInternetRadioStation", "id", {"streamUrl": "http://127.0.0.1/x", "name": "x"}),
    ("deleteInternetRadioStation", "id", {}),
]


def assert_refused(reply: Reply) -> None:
    assert not reply.ok, f"{reply.method} accepted a hostile id"
    assert reply.error_message != "Internal server error", reply.method
    assert reply.error_code in (0, 10, 50, 70), (reply.error_code, reply.error_message)
    assert reply.response["Content-Type"].split(";")[0] in ("text/xml", "application/json")


def _params(param: str, payload: str, extra: dict[str, Any]) -> dict[str, Any]:
    return {param: payload, **extra}


@pytest.fixture
def sharer(admin: User) -> SubsonicClient:
    """An admin with every role, so no role check answers before the id is looked up."""
    User.objects.filter(pk=admin.pk).update(can_share=True, can_comment=True)
    admin.refresh_from_db()
    return client_for(admin)


@pytest.mark.parametrize(("method", "param", "extra"), ID_PARAMETERS, ids=[f"{m}-{p}" for m, p, _ in ID_PARAMETERS])
def test_subsonic_ids_are_never_paths(sharer: SubsonicClient, method: str, param: str, extra: dict[str, Any]) -> None:
    for payload in PAYLOADS:
        for fmt in ("xml", "json"):
            assert_refused(sharer.call(method, fmt, **_params(param, payload, extra)))


@pytest.mark.parametrize(("method", "param", "extra"), ID_PARAMETERS, ids=[f"{m}-{p}" for m, p, _ in ID_PARAMETERS])
def test_subsonic_ids_with_nul_are_refused(
    sharer: SubsonicClient, method: str, param: str, extra: dict[str, Any]
) -> None:
    for payload in NUL_PAYLOADS:
        for fmt in ("xml", "json"):
            assert_refused(sharer.call(method, fmt, **_params(param, payload, extra)))


REST_PATHS = [
    "artists/{}",
    "albums/{}",
    "albums/{}/cover",
    "tracks/{}",
    "tracks/{}/stream",
    "genres/{}",
    "playlists/{}",
    "downloads/{}",
    "sources/{}/health",
    "sources/{}/scans",
    "sources/local/scans/{}",
]
REST_PAYLOADS = [
    "..",
    "%2e%2e",
    "..%2f..%2fetc%2fpasswd",
    "%2fetc%2fpasswd",
    "..%5c..%5cwin.ini",
    "%00",
    "1%00",
    "1%2f..%2f2",
    "-1",
    "99999999999999999999",
    "9" * 5000,
]


@pytest.mark.parametrize("template", REST_PATHS)
def test_rest_ids_are_never_paths(admin: User, template: str) -> None:
    client: APIClient = rest_client(admin)
    for payload in REST_PAYLOADS:
        response = client.get("/api/v1/" + template.format(payload))
        assert response.status_code in (400, 404), (template, payload, response.status_code)
        assert set(response.json()["error"]) == {"code", "message", "details"}


def test_rest_id_actions_refuse_hostile_ids(owner_rest: APIClient) -> None:
    for payload in REST_PAYLOADS:
        for method, path, body in (
            ("post", "tracks/{}/star", None),
            ("delete", "tracks/{}/star", None),
            ("put", "tracks/{}/rating", {"rating": 3}),
            ("patch", "playlists/{}", {"name": "x"}),
            ("delete", "playlists/{}", None),
            ("post", "playlists/{}/tracks", {"track_ids": [1]}),
            ("post", "downloads/{}/cancel", None),
            ("post", "downloads/{}/retry", None),
            ("delete", "users/me/api-keys/{}", None),
        ):
            response = getattr(owner_rest, method)("/api/v1/" + path.format(payload), body, format="json")
            assert response.status_code in (400, 404), (method, path, payload, response.status_code)
            assert set(response.json()["error"]) == {"code", "message", "details"}
