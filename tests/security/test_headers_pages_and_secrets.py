"""Metadata injected into headers and markup (Navidrome 6e61a4164, supysonic 0c291f4, cherrymusic CVE-2015-8310),
the public share pages, user strings reaching ORM filters (Navidrome CVE-2024-47062's "ORM leak"), and secrets
kept in plaintext (Navidrome CVE-2024-56362)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.conf import settings
from django.core import serializers
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import User
from accounts.services import api_key_create, subsonic_password_reveal, token_pair_issue
from library.models import Share, Track
from tests.security.conftest import rest_client
from tests.subsonic.support import SubsonicClient

pytestmark = [pytest.mark.django_db, pytest.mark.security]
HOSTILE_NAMES = [
    'party"; filename="evil.html',
    "semi;colon, comma.mp3",
    "new\r\nSet-Cookie: owned=1",
    "tab\there",
    "ünïcødé 東京 🎵",
    "..\\..\\boot.ini",
]


def _store(track: Track, name: str) -> None:
    relative = f"library/{name}.mp3"
    target = Path(settings.MEDIA_ROOT) / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(b"ID3" + b"\x00" * 997)
    Track.objects.filter(pk=track.pk).update(path=relative, size_bytes=1000)


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_file_names_cannot_inject_header_parameters(owner_sub: SubsonicClient, tracks: list[Track], name: str) -> None:
    _store(tracks[0], name)
    response = owner_sub.raw("download", id=f"tr-{tracks[0].pk}", **owner_sub.auth_params())
    assert response.status_code == 200
    disposition = response["Content-Disposition"]
    assert "\r" not in disposition
    assert "\n" not in disposition
    assert "Set-Cookie" not in response
    assert disposition.startswith('attachment; filename="')
    # Exactly the two parameters the server writes: nothing smuggled in through the name.
    fallback, extended = disposition.removeprefix("attachment; ").split("; filename*=")
    assert fallback.count('"') == 2
    assert extended.startswith("UTF-8''")
    assert all(ch not in extended for ch in ' ";\\')


def test_share_pages_escape_what_users_wrote(owner_sub: SubsonicClient, tracks: list[Track]) -> None:
    markup = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    Track.objects.filter(pk=tracks[0].pk).update(title=markup)
    created = owner_sub.call("createShare", "json", id=f"tr-{tracks[0].pk}", description=markup)
    token = Share.objects.get(pk=int(created.one("shares", "share")["id"].removeprefix("sh-"))).token
    page = Client().get(f"/share/{token}")
    assert page.status_code == 200
    assert b"<script>alert" not in page.content
    assert b"<img src=x" not in page.content
    assert b"&lt;script&gt;" in page.content


@pytest.mark.parametrize(
    "path",
    [
        "/share/..%2f..%2fetc%2fpasswd",
        "/share/%2e%2e",
        "/share/" + "a" * 5000,
        "/share/not-a-token/0",
        "/share/not-a-token/-1",
        "/share/not-a-token/" + "9" * 5000,
    ],
)
def test_hostile_share_paths_are_404(db: None, path: str) -> None:
    response = Client().get(path)
    assert response.status_code == 404


def test_a_nul_in_a_share_token_is_404(db: None) -> None:
    for path in ("/share/%00", "/share/abc%00def", "/share/abc%00def/0"):
        assert Client().get(path).status_code == 404, path


def test_share_positions_outside_the_share_are_404(owner_sub: SubsonicClient, tracks: list[Track]) -> None:
    created = owner_sub.call("createShare", "json", id=f"tr-{tracks[0].pk}")
    token = Share.objects.get(pk=int(created.one("shares", "share")["id"].removeprefix("sh-"))).token
    for position in ("1", "2", "99999999999999999999"):
        assert Client().get(f"/share/{token}/{position}").status_code == 404


def test_unknown_query_parameters_never_become_filters(admin: User, owner: User, tracks: list[Track]) -> None:
    client: APIClient = rest_client(admin)
    every_track = client.get("/api/v1/tracks").json()["count"]
    every_user = client.get("/api/v1/admin/users").json()["count"]
    for probe in (
        {"title": "nothing like this"},
        {"title__startswith": "zzz"},
        {"path__contains": "/etc"},
        {"album__album_artist__name": "x"},
        {"annotations__user__password__startswith": "md5"},
    ):
        response = client.get("/api/v1/tracks", probe)
        assert response.status_code in (200, 400), probe
        if response.status_code == 200:
            assert response.json()["count"] == every_track, probe
    for probe in ({"password__startswith": "md5"}, {"password": "x"}, {"is_superuser": "false"}):
        response = client.get("/api/v1/admin/users", probe)
        assert response.status_code in (200, 400), probe
        if response.status_code == 200:
            assert response.json()["count"] == every_user, probe


@pytest.mark.parametrize("ordering", ["password", "-password", "path", "album__album_artist__name", "owner__password"])
def test_orderings_are_allowlisted(owner_rest: APIClient, tracks: list[Track], ordering: str) -> None:
    for path in ("/api/v1/tracks", "/api/v1/albums", "/api/v1/artists", "/api/v1/genres"):
        response = owner_rest.get(path, {"ordering": ordering})
        assert response.status_code == 400, (path, ordering, response.status_code)
        assert response.json()["error"]["code"] == "invalid"


def test_no_secret_is_stored_in_plaintext(owner: User) -> None:
    app_password = subsonic_password_reveal(user=owner)
    key, raw_key = api_key_create(user=owner, name="script")
    tokens = token_pair_issue(user=owner)
    dump = "".join(
        serializers.serialize("json", model._default_manager.all())
        for model in apps.get_models()
        if model._meta.managed
    )
    assert '"username": "alice"' in dump
    assert key.prefix in dump  # the key's row is in the dump, with its prefix and hash only
    for secret in (app_password, raw_key, settings.SECRET_KEY, settings.JWT_SIGNING_KEY, tokens["access"]):
        assert secret
        assert secret not in dump


def test_subsonic_ignores_unknown_parameters(owner_sub: SubsonicClient, tracks: list[Track], fmt: str) -> None:
    every = owner_sub.call("search3", fmt, query="").ids("searchResult3", "song")
    leak: dict[str, Any] = {"password": "x", "title__startswith": "zzz", "u__password": "x", "_order": "password"}
    assert owner_sub.call("search3", fmt, query="", **leak).ids("searchResult3", "song") == every
