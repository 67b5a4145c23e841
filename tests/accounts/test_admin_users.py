"""Users in the management UI: roles and flags, API keys by prefix, the app-password, disabling."""

from __future__ import annotations

from typing import cast

import pytest
from django.test import Client

from accounts import services
from accounts.models import User
from tests.factories.accounts import AdminFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def boss(client: Client) -> User:
    user = cast(User, AdminFactory(username="boss"))
    client.force_login(user)
    return user


def test_the_user_page_lists_flags_api_keys_by_prefix_and_app_password_buttons(client: Client, boss: User) -> None:
    listener = cast(User, UserFactory(username="listener"))
    key, raw = services.api_key_create(user=listener, name="my script")

    page = client.get(f"/admin/accounts/user/{listener.pk}/change/").content.decode()

    assert "can_request_downloads" in page
    assert 'name="subsonic_external_search"' in page
    assert key.prefix in page
    assert raw not in page
    assert 'id="subsonic-password"' in page


def test_reveal_and_rotate_a_users_app_password(client: Client, boss: User) -> None:
    listener = cast(User, UserFactory(username="listener"))
    shown = client.post(f"/admin/accounts/user/{listener.pk}/subsonic-password/reveal")
    assert "no-store" in shown["Cache-Control"]
    password = shown.content.decode().split('id="app-password">', 1)[1].split("<", 1)[0]
    assert password == services.subsonic_password_reveal(user=listener)

    rotated = client.post(f"/admin/accounts/user/{listener.pk}/subsonic-password/rotate").content.decode()
    assert password not in rotated
    assert "A new app-password was made" in rotated
    assert client.get(f"/admin/accounts/user/{listener.pk}/subsonic-password/reveal").status_code == 405


def test_a_bad_app_password_request_changes_nothing(client: Client, boss: User) -> None:
    response = client.post("/admin/accounts/user/999999/subsonic-password/reveal", follow=True)
    assert "No such user or action." in response.content.decode()
    response = client.post(f"/admin/accounts/user/{boss.pk}/subsonic-password/leak", follow=True)
    assert "No such user or action." in response.content.decode()


def test_a_listener_cannot_see_anyones_app_password(client: Client) -> None:
    listener = cast(User, UserFactory(username="listener"))
    other = cast(User, UserFactory(username="other"))
    client.force_login(listener)
    response = client.post(f"/admin/accounts/user/{other.pk}/subsonic-password/reveal", follow=True)
    assert 'id="app-password"' not in response.content.decode()


def test_disable_and_enable_users_through_the_service(client: Client, boss: User) -> None:
    listener = cast(User, UserFactory(username="listener"))
    data = {"action": "disable_users", "_selected_action": [listener.pk, boss.pk]}
    page = client.post("/admin/accounts/user/", data, follow=True).content.decode()

    listener.refresh_from_db()
    boss.refresh_from_db()
    assert listener.is_active is False
    assert boss.is_active is True  # the last admin stays
    assert "last active admin" in page

    client.post("/admin/accounts/user/", {"action": "enable_users", "_selected_action": [listener.pk]})
    listener.refresh_from_db()
    assert listener.is_active is True
