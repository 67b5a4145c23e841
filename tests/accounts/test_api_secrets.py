"""Subsonic app-passwords and API keys over the API: reveal, rotate, key rotation, cross-user isolation, storage."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from accounts import selectors, services
from accounts.models import ApiKey, SubsonicCredential
from tests.factories.accounts import AdminFactory, UserFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/users/me/subsonic-password"


def test_reveal_generates_once_then_returns_the_same_password(api_client_for: Any) -> None:
    user = UserFactory.create()
    client = api_client_for(user)
    first = client.get(URL)
    assert first.status_code == 200
    assert first["Cache-Control"] == "no-store"
    password = first.json()["password"]
    assert len(password) >= 24
    assert set(password) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert client.get(URL).json() == {"username": user.username, "password": password}
    assert selectors.user_check_subsonic_password(user=user, password=password)


def test_rotate_replaces_the_password(api_client_for: Any) -> None:
    user = UserFactory.create()
    client = api_client_for(user)
    old = client.get(URL).json()["password"]
    new = client.post(URL).json()["password"]
    assert new != old
    assert client.get(URL).json()["password"] == new
    assert not selectors.user_check_subsonic_password(user=user, password=old)
    salt = "c19b2d"
    token = hashlib.md5((new + salt).encode()).hexdigest()
    assert selectors.user_check_subsonic_token(user=user, token=token, salt=salt)


def test_admin_rotates_any_users_password(api_client_for: Any) -> None:
    user = UserFactory.create()
    old = services.subsonic_password_reveal(user=user)
    response = api_client_for(AdminFactory.create()).post(f"/api/v1/admin/users/{user.pk}/subsonic-password")
    assert response.status_code == 200
    assert response.json()["username"] == user.username
    assert response.json()["password"] == services.subsonic_password_reveal(user=user) != old


def test_secret_key_rotation_gives_a_clear_409_and_rotating_recovers(api_client_for: Any, settings: Any) -> None:
    user = UserFactory.create()
    client = api_client_for(user)
    old = client.get(URL).json()["password"]
    settings.SUBSONIC_SECRET_KEY = "a completely different subsonic secret key 0123456789"
    response = client.get(URL)
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "subsonic_password_unavailable"
    assert "regenerate your Subsonic password" in error["message"]
    assert old not in response.content.decode()
    new = client.post(URL).json()["password"]
    assert client.get(URL).json()["password"] == new


def test_stored_app_password_is_encrypted_not_plain(api_client_for: Any) -> None:
    """Dump every table of the database and look for the app-password, the raw API key and the login password."""
    user = UserFactory.create()
    client = api_client_for(user)
    password = client.get(URL).json()["password"]
    raw_key = client.post("/api/v1/users/me/api-keys", {"name": "script"}, format="json").json()["key"]
    dump: list[str] = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608 - names from introspection
            for row in cursor.fetchall():
                for value in row:
                    if isinstance(value, (bytes, memoryview)):
                        dump.append(bytes(value).decode("latin-1"))
                    else:
                        dump.append(str(value))
    text = "\n".join(dump)
    assert password not in text
    assert raw_key not in text
    assert "correct horse battery staple" not in text
    assert SubsonicCredential.objects.filter(user=user).exists()


def test_other_users_cannot_reach_my_app_password(api_client_for: Any) -> None:
    owner = UserFactory.create()
    intruder = UserFactory.create()
    secret = services.subsonic_password_reveal(user=owner)
    client = api_client_for(intruder)
    assert client.post(f"/api/v1/admin/users/{owner.pk}/subsonic-password").status_code == 403
    revealed = client.get(URL).json()["password"]
    assert revealed != secret
    assert services.subsonic_password_reveal(user=owner) == secret


def test_management_command_prints_and_rotates(capsys: Any) -> None:
    user = UserFactory.create(username="headless")
    call_command("subsonic_password", "headless")
    first = capsys.readouterr().out.strip()
    assert first == services.subsonic_password_reveal(user=user)
    call_command("subsonic_password", "headless", "--rotate")
    second = capsys.readouterr().out.strip()
    assert second != first
    assert second == services.subsonic_password_reveal(user=user)
    with pytest.raises(CommandError, match="not found"):
        call_command("subsonic_password", "ghost")


def test_management_command_explains_key_rotation(settings: Any) -> None:
    user = UserFactory.create(username="rotated")
    services.subsonic_password_reveal(user=user)
    settings.SUBSONIC_SECRET_KEY = "another key for the app-password encryption 987654"
    with pytest.raises(CommandError, match=r"regenerate your Subsonic password.*--rotate"):
        call_command("subsonic_password", "rotated")


# ---------------------------------------------------------------------------------------------------------------
# API keys
# ---------------------------------------------------------------------------------------------------------------
KEYS = "/api/v1/users/me/api-keys"


def test_api_key_is_shown_once_and_listed_by_prefix(api_client_for: Any) -> None:
    user = UserFactory.create()
    client = api_client_for(user)
    created = client.post(KEYS, {"name": "backup script"}, format="json")
    assert created.status_code == 201
    assert created["Cache-Control"] == "no-store"
    body = created.json()
    raw = body["key"]
    assert raw.startswith("mcma_")
    assert len(raw) > 40
    assert raw.startswith(body["prefix"])
    listing = client.get(KEYS).json()
    assert [(k["id"], k["name"], k["prefix"]) for k in listing] == [(body["id"], "backup script", body["prefix"])]
    assert raw not in client.get(KEYS).content.decode()
    assert ApiKey.objects.get().key_hash != raw


def test_api_key_authenticates_until_revoked(api_client_for: Any) -> None:
    user = UserFactory.create()
    client = api_client_for(user)
    created = client.post(KEYS, {"name": "cli"}, format="json").json()
    keyed = api_client_for(None)
    keyed.credentials(HTTP_AUTHORIZATION=f"ApiKey {created['key']}")
    assert keyed.get("/api/v1/users/me").json()["username"] == user.username
    header_client = api_client_for(None)
    assert header_client.get("/api/v1/users/me", HTTP_X_API_KEY=created["key"]).status_code == 200
    assert client.delete(f"{KEYS}/{created['id']}").status_code == 204
    response = keyed.get("/api/v1/users/me")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"
    assert client.get(KEYS).json()[0]["revoked_at"] is not None


def test_api_key_of_a_disabled_user_is_refused(api_client_for: Any) -> None:
    user = UserFactory.create()
    _, raw = services.api_key_create(user=user, name="")
    user.is_active = False
    user.save()
    assert selectors.user_by_api_key(raw_key=raw) is None
    client = api_client_for(None)
    assert client.get("/api/v1/users/me", HTTP_AUTHORIZATION=f"ApiKey {raw}").status_code == 401


@pytest.mark.parametrize("header", ["ApiKey", "ApiKey a b", "ApiKey mcma_nope"])
def test_malformed_or_unknown_api_keys_are_401(api_client_for: Any, header: str) -> None:
    response = api_client_for(None).get("/api/v1/users/me", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert response.json()["error"]["code"] in {"authentication_failed", "invalid_api_key"}


def test_users_cannot_see_or_revoke_each_others_keys(api_client_for: Any) -> None:
    owner = UserFactory.create()
    key, raw = services.api_key_create(user=owner, name="mine")
    intruder = api_client_for(UserFactory.create())
    assert intruder.get(KEYS).json() == []
    response = intruder.delete(f"{KEYS}/{key.pk}")
    assert response.status_code == 404
    key.refresh_from_db()
    assert key.revoked_at is None
    assert selectors.user_by_api_key(raw_key=raw) == owner


def test_api_key_name_is_validated(api_client_for: Any) -> None:
    response = api_client_for(UserFactory.create()).post(KEYS, {"name": "x" * 101}, format="json")
    assert response.status_code == 400
