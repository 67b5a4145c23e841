"""/admin/login/ shares the failed-login throttle of POST /api/v1/auth/token (issue 19, defect 8)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from tests.accounts.test_api_auth import PASSWORD, login
from tests.factories.accounts import AdminFactory

pytestmark = [pytest.mark.django_db, pytest.mark.security]
ADMIN_LOGIN = "/admin/login/"


def admin_login(client: Client, username: str, password: str) -> Any:
    return client.post(ADMIN_LOGIN, {"username": username, "password": password, "next": "/admin/"})


def test_twenty_five_wrong_passwords_then_the_right_one_is_still_refused() -> None:
    AdminFactory.create(username="boss")
    client = Client(REMOTE_ADDR="10.1.1.1")
    statuses = [admin_login(client, "boss", f"guess {i}").status_code for i in range(25)]
    assert statuses[0] == 200  # a wrong password: the form again, with Django's own message
    assert statuses[-1] == 429
    response = admin_login(client, "boss", PASSWORD)
    assert response.status_code == 429
    assert b"Too many failed login attempts" in response.content
    assert b'name="username"' in response.content  # the login form is shown again
    assert "_auth_user_id" not in client.session


def test_a_throttled_admin_login_never_checks_the_password(monkeypatch: pytest.MonkeyPatch) -> None:
    AdminFactory.create(username="boss")
    client = Client(REMOTE_ADDR="10.1.1.2")
    for i in range(10):
        admin_login(client, "boss", f"guess {i}")
    checked: list[str] = []
    monkeypatch.setattr("django.contrib.auth.backends.ModelBackend.authenticate", lambda *a, **k: checked.append("x"))
    assert admin_login(client, "boss", PASSWORD).status_code == 429
    assert checked == []


def test_an_admin_locked_out_at_one_address_still_logs_in_from_another() -> None:
    AdminFactory.create(username="boss")
    attacker = Client(REMOTE_ADDR="10.6.6.6")
    for i in range(12):
        admin_login(attacker, "boss", f"guess {i}")
    assert admin_login(attacker, "boss", PASSWORD).status_code == 429
    owner = Client(REMOTE_ADDR="10.2.2.2")
    response = admin_login(owner, "boss", PASSWORD)
    assert response.status_code == 302
    assert owner.session["_auth_user_id"]


def test_admin_and_token_logins_share_one_set_of_counters() -> None:
    AdminFactory.create(username="boss")
    client = Client(REMOTE_ADDR="10.3.3.3")
    for i in range(10):
        admin_login(client, "boss", f"guess {i}")
    assert login(APIClient(), "boss", REMOTE_ADDR="10.3.3.3").status_code == 429
    assert login(APIClient(), "boss", REMOTE_ADDR="10.4.4.4").status_code == 200


def test_a_good_admin_login_is_not_throttled() -> None:
    AdminFactory.create(username="boss")
    for _ in range(15):
        client = Client(REMOTE_ADDR="10.5.5.5")
        assert admin_login(client, "boss", PASSWORD).status_code == 302


@pytest.mark.parametrize(("username", "password"), [("bo\x00ss", PASSWORD), ("boss", "pass\x00word"), ("\x00", "\x00")])
def test_nul_in_admin_credentials_is_a_form_error(username: str, password: str) -> None:
    AdminFactory.create(username="boss")
    response = admin_login(Client(), username, password)
    assert response.status_code == 200
    assert b"errornote" in response.content or b"errorlist" in response.content
