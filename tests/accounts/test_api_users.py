"""The current user, password change and the admin user endpoints (role matrix included)."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.models import SubsonicCredential, User
from tests.factories.accounts import AdminFactory, UserFactory

pytestmark = pytest.mark.django_db
PASSWORD = "correct horse battery staple"


def test_me_requires_authentication(api_client_for: Any) -> None:
    response = api_client_for(None).get("/api/v1/users/me")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_me_shows_the_profile_without_secrets(api_client_for: Any) -> None:
    user = UserFactory.create(can_share=True)
    data = api_client_for(user).get("/api/v1/users/me").json()
    assert data["username"] == user.username
    assert data["is_admin"] is False
    assert data["can_share"] is True
    assert "password" not in data


def test_me_patch_changes_profile_but_never_roles(api_client_for: Any) -> None:
    user = UserFactory.create()
    response = api_client_for(user).patch(
        "/api/v1/users/me",
        {
            "email": "new@example.test",
            "first_name": "Ada",
            "is_staff": True,
            "is_superuser": True,
            "is_admin": True,
            "can_share": True,
            "username": "hijack",
            "password": "x",
        },
        format="json",
    )
    assert response.status_code == 200
    user.refresh_from_db()
    assert (user.email, user.first_name, user.username) == ("new@example.test", "Ada", user.username)
    assert not user.is_staff
    assert not user.is_superuser
    assert not user.can_share
    assert user.check_password(PASSWORD)


def test_me_patch_validates(api_client_for: Any) -> None:
    response = api_client_for(UserFactory.create()).patch("/api/v1/users/me", {"email": "not-an-email"}, format="json")
    assert response.status_code == 400
    assert "email" in response.json()["error"]["details"]


def test_password_change_needs_the_old_password(api_client_for: Any) -> None:
    user = UserFactory.create()
    client = api_client_for(user)
    wrong = client.post(
        "/api/v1/users/me/password", {"old_password": "nope", "new_password": "fresh passphrase 99"}, format="json"
    )
    assert wrong.status_code == 400
    assert wrong.json()["error"]["code"] == "password_rejected"
    weak = client.post("/api/v1/users/me/password", {"old_password": PASSWORD, "new_password": "123"}, format="json")
    assert weak.status_code == 400
    assert weak.json()["error"]["details"]["password"]
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


# ---------------------------------------------------------------------------------------------------------------
# Admin: role matrix and CRUD
# ---------------------------------------------------------------------------------------------------------------
ADMIN_CALLS = [
    ("get", "/api/v1/admin/users", None),
    ("post", "/api/v1/admin/users", {"username": "x", "password": "some long passphrase"}),
    ("get", "/api/v1/admin/users/{id}", None),
    ("patch", "/api/v1/admin/users/{id}", {"is_admin": True}),
    ("delete", "/api/v1/admin/users/{id}", None),
    ("post", "/api/v1/admin/users/{id}/subsonic-password", None),
]


@pytest.mark.parametrize(("method", "url", "body"), ADMIN_CALLS)
def test_admin_endpoints_refuse_normal_users_and_anonymous(
    api_client_for: Any, method: str, url: str, body: Any
) -> None:
    user = UserFactory.create()
    target = UserFactory.create()
    path = url.format(id=target.pk)
    forbidden = getattr(api_client_for(user), method)(path, body, format="json")
    assert forbidden.status_code == 403
    assert forbidden.json()["error"]["code"] == "permission_denied"
    assert getattr(api_client_for(None), method)(path, body, format="json").status_code == 401
    target.refresh_from_db()
    assert not target.is_staff
    assert not SubsonicCredential.objects.filter(user=target).exists()
    user.refresh_from_db()
    assert not user.is_staff


def test_admin_lists_and_creates_users(api_client_for: Any, production_hashing: None) -> None:
    admin = AdminFactory.create()
    UserFactory.create_batch(3)
    client = api_client_for(admin)
    listing = client.get("/api/v1/admin/users").json()
    assert listing["count"] == 4
    assert [u["username"] for u in listing["results"]] == sorted(u["username"] for u in listing["results"])
    created = client.post(
        "/api/v1/admin/users",
        {"username": "newbie", "password": "a long enough passphrase", "can_share": True, "is_admin": False},
        format="json",
    )
    assert created.status_code == 201
    assert created.json()["can_share"] is True
    newbie = User.objects.get(username="newbie")
    assert newbie.check_password("a long enough passphrase")
    assert newbie.password.startswith("argon2")
    duplicate = client.post(
        "/api/v1/admin/users", {"username": "NEWBIE", "password": "a long enough passphrase"}, format="json"
    )
    assert duplicate.status_code == 409
    weak = client.post("/api/v1/admin/users", {"username": "weak", "password": "password"}, format="json")
    assert weak.status_code == 400


def test_admin_updates_disables_and_deletes_users(api_client_for: Any) -> None:
    admin = AdminFactory.create()
    user = UserFactory.create()
    user_client = api_client_for(user)
    client = api_client_for(admin)
    patched = client.patch(f"/api/v1/admin/users/{user.pk}", {"max_bitrate": 192, "is_active": False}, format="json")
    assert patched.status_code == 200
    assert patched.json()["max_bitrate"] == 192
    assert user_client.get("/api/v1/users/me").status_code == 401  # disabled users can do nothing
    assert client.get(f"/api/v1/admin/users/{user.pk}").json()["is_active"] is False
    assert client.delete(f"/api/v1/admin/users/{user.pk}").status_code == 204
    assert client.get(f"/api/v1/admin/users/{user.pk}").status_code == 404
    assert client.get("/api/v1/admin/users/999999").json()["error"]["code"] == "not_found"


def test_admin_sets_a_users_default_format(api_client_for: Any) -> None:
    user = UserFactory.create()
    client = api_client_for(AdminFactory.create())
    patched = client.patch(f"/api/v1/admin/users/{user.pk}", {"default_format": "mp3"}, format="json")
    assert patched.status_code == 200
    assert patched.json()["default_format"] == "mp3"
    refused = client.patch(f"/api/v1/admin/users/{user.pk}", {"default_format": "wma"}, format="json")
    assert refused.status_code == 400
    assert "default_format" in refused.json()["error"]["details"]
    mine = api_client_for(user).patch("/api/v1/users/me", {"default_format": "flac"}, format="json")
    assert mine.json().get("default_format", "mp3") == "mp3"  # admin-set: a user cannot change their own
    user.refresh_from_db()
    assert user.default_format == "mp3"


def test_the_last_admin_cannot_be_removed(api_client_for: Any) -> None:
    admin = AdminFactory.create()
    client = api_client_for(admin)
    for method, body in (("patch", {"is_admin": False}), ("patch", {"is_active": False}), ("delete", None)):
        response = getattr(client, method)(f"/api/v1/admin/users/{admin.pk}", body, format="json")
        assert response.status_code == 409, method
    other = AdminFactory.create()
    assert client.patch(f"/api/v1/admin/users/{other.pk}", {"is_admin": False}, format="json").status_code == 200


def test_a_user_switches_external_search_in_subsonic_off_and_on(api_client_for: Any) -> None:
    user = UserFactory.create()
    assert api_client_for(user).get("/api/v1/users/me").json()["subsonic_external_search"] is True
    response = api_client_for(user).patch("/api/v1/users/me", {"subsonic_external_search": False}, format="json")
    assert response.status_code == 200
    assert response.json()["subsonic_external_search"] is False
    user.refresh_from_db()
    assert user.subsonic_external_search is False
    bad = api_client_for(user).patch("/api/v1/users/me", {"subsonic_external_search": "maybe"}, format="json")
    assert bad.status_code == 400
