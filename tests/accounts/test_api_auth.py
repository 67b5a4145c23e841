"""JWT login, refresh, logout, throttling and token revocation."""

from __future__ import annotations

from typing import Any

import jwt
import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from accounts import services
from tests.factories.accounts import UserFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning"),
]
PASSWORD = "correct horse battery staple"
TOKEN_URL = "/api/v1/auth/token"


def login(client: APIClient, username: str, password: str = PASSWORD, **extra: Any) -> Any:
    return client.post(TOKEN_URL, {"username": username, "password": password}, format="json", **extra)


def bearer(access: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


def test_login_returns_a_working_token_pair() -> None:
    user = UserFactory.create()
    response = login(APIClient(), user.username)
    assert response.status_code == 200
    assert set(response.json()) == {"access", "refresh"}
    assert response["Cache-Control"] == "no-store"
    me = bearer(response.json()["access"]).get("/api/v1/users/me")
    assert me.status_code == 200
    assert me.json()["username"] == user.username


@pytest.mark.parametrize(
    ("username", "password"),
    [("alice", "wrong password"), ("nobody", PASSWORD), ("%", PASSWORD), ("_", PASSWORD), ("ALICE", PASSWORD)],
)
def test_bad_credentials_get_a_clear_json_401(username: str, password: str) -> None:
    UserFactory.create(username="alice")
    response = login(APIClient(), username, password)
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "invalid_credentials"
    assert "credentials" in error["message"]
    assert "WWW-Authenticate" in response


def test_disabled_user_cannot_log_in_or_use_old_tokens(api_client_for: Any) -> None:
    user = UserFactory.create()
    client = api_client_for(user)
    user.is_active = False
    user.save()
    assert login(APIClient(), user.username).status_code == 401
    assert client.get("/api/v1/users/me").status_code == 401


@pytest.mark.parametrize("body", [{}, {"username": "x"}, [], {"username": ["a"], "password": {"b": 1}}])
def test_malformed_login_body_is_a_400(body: Any) -> None:
    response = APIClient().post(TOKEN_URL, body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"


def test_refresh_rotates_and_blacklists_the_old_refresh_token() -> None:
    user = UserFactory.create()
    tokens = login(APIClient(), user.username).json()
    first = APIClient().post("/api/v1/auth/token/refresh", {"refresh": tokens["refresh"]}, format="json")
    assert first.status_code == 200
    assert set(first.json()) == {"access", "refresh"}
    again = APIClient().post("/api/v1/auth/token/refresh", {"refresh": tokens["refresh"]}, format="json")
    assert again.status_code == 401
    assert again.json()["error"]["code"] == "token_not_valid"


def test_refresh_token_of_a_deleted_user_is_401_not_500() -> None:
    user = UserFactory.create()
    UserFactory.create(username="admin-keeper", is_staff=True)
    tokens = login(APIClient(), user.username).json()
    services.user_delete(user=user)
    response = APIClient().post("/api/v1/auth/token/refresh", {"refresh": tokens["refresh"]}, format="json")
    assert response.status_code == 401


def test_logout_blacklists_the_refresh_token() -> None:
    user = UserFactory.create()
    tokens = login(APIClient(), user.username).json()
    response = APIClient().post("/api/v1/auth/logout", {"refresh": tokens["refresh"]}, format="json")
    assert response.status_code == 204
    refresh = APIClient().post("/api/v1/auth/token/refresh", {"refresh": tokens["refresh"]}, format="json")
    assert refresh.status_code == 401
    garbage = APIClient().post("/api/v1/auth/logout", {"refresh": "not-a-token"}, format="json")
    assert garbage.status_code == 400
    assert garbage.json()["error"]["details"] == {"field": "refresh"}


def test_changing_the_password_revokes_access_and_refresh_tokens() -> None:
    user = UserFactory.create()
    tokens = login(APIClient(), user.username).json()
    client = bearer(tokens["access"])
    response = client.post(
        "/api/v1/users/me/password",
        {"old_password": PASSWORD, "new_password": "a much better passphrase 42"},
        format="json",
    )
    assert response.status_code == 204
    assert client.get("/api/v1/users/me").status_code == 401
    refresh = APIClient().post("/api/v1/auth/token/refresh", {"refresh": tokens["refresh"]}, format="json")
    assert refresh.status_code == 401
    assert login(APIClient(), user.username, "a much better passphrase 42").status_code == 200


@pytest.mark.parametrize("key", ["k", "secret", "changeme", "not so secret", "x" * 64])
def test_tokens_signed_with_another_key_are_rejected(key: str) -> None:
    user = UserFactory.create()
    forged = jwt.encode(
        {"token_type": "access", "user_id": str(user.pk), "exp": 4102444800, "jti": "x"}, key, algorithm="HS256"
    )
    response = bearer(forged).get("/api/v1/users/me")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_not_valid"


def test_unsigned_token_is_rejected() -> None:
    user = UserFactory.create()
    forged = jwt.encode({"token_type": "access", "user_id": str(user.pk), "exp": 4102444800}, "", algorithm="none")
    assert bearer(forged).get("/api/v1/users/me").status_code == 401


# ---------------------------------------------------------------------------------------------------------------
# Throttling of failed logins
# ---------------------------------------------------------------------------------------------------------------
def _rates(ip: str, user: str) -> Any:
    from django.conf import settings

    return override_settings(
        REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"login_ip": ip, "login_user": user}}
    )


def test_failed_logins_are_throttled_per_user_with_a_json_429() -> None:
    UserFactory.create(username="victim")
    with _rates("100/min", "3/min"):
        for _ in range(3):
            assert login(APIClient(), "victim", "guess").status_code == 401
        blocked = login(APIClient(), "Victim ", PASSWORD)  # even the right password, once the bucket is full
        assert blocked.status_code == 429
        error = blocked.json()["error"]
        assert error["code"] == "throttled"
        assert "Too many failed login attempts" in error["message"]
        assert error["details"]["retry_after"] > 0
        assert int(blocked["Retry-After"]) > 0
        # Other accounts from the same IP are still fine (the IP limit is higher).
        other = UserFactory.create()
        assert login(APIClient(), other.username).status_code == 200


def test_failed_logins_are_throttled_per_ip_across_usernames() -> None:
    user = UserFactory.create()
    with _rates("3/min", "100/min"):
        for i in range(3):
            assert login(APIClient(), f"someone{i}", "guess").status_code == 401
        assert login(APIClient(), user.username).status_code == 429
        # A different client address has its own bucket; a spoofed X-Forwarded-For does not.
        assert login(APIClient(), user.username, HTTP_X_FORWARDED_FOR="10.9.9.9").status_code == 429
        assert login(APIClient(), user.username, REMOTE_ADDR="10.0.0.2").status_code == 200


def test_successful_logins_are_not_counted() -> None:
    user = UserFactory.create()
    with _rates("2/min", "2/min"):
        for _ in range(5):
            assert login(APIClient(), user.username).status_code == 200


@pytest.mark.security
def test_a_user_locked_out_at_one_address_still_logs_in_from_another() -> None:
    """Issue 19, defect 8: the per-user limit is per (username, address), so a guesser can't lock the owner out."""
    user = UserFactory.create(username="victim")
    with _rates("100/min", "3/min"):
        for _ in range(3):
            assert login(APIClient(), "victim", "guess", REMOTE_ADDR="10.6.6.6").status_code == 401
        assert login(APIClient(), "victim", REMOTE_ADDR="10.6.6.6").status_code == 429
        assert login(APIClient(), user.username, REMOTE_ADDR="10.2.2.2").status_code == 200


@pytest.mark.security
def test_a_throttled_token_login_never_checks_the_password(monkeypatch: pytest.MonkeyPatch) -> None:
    UserFactory.create(username="victim")
    with _rates("100/min", "3/min"):
        for _ in range(3):
            login(APIClient(), "victim", "guess")
        checked: list[str] = []
        monkeypatch.setattr(
            "django.contrib.auth.backends.ModelBackend.authenticate", lambda *a, **k: checked.append("x")
        )
        assert login(APIClient(), "victim").status_code == 429
        assert checked == []


@pytest.mark.security
def test_twenty_five_wrong_token_logins_then_the_right_one_is_still_refused() -> None:
    UserFactory.create(username="victim")
    statuses = [login(APIClient(), "victim", f"guess {i}").status_code for i in range(25)]
    assert statuses[0] == 401
    assert statuses[-1] == 429
    assert login(APIClient(), "victim").status_code == 429
