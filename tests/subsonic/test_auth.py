"""u+t+s, u+p (clear and enc:), apiKey; error codes 10/40/41-44 exactly; disabled users; throttling."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from accounts.models import SubsonicCredential, User
from accounts.services import api_key_create, subsonic_password_reveal
from subsonic import auth
from tests.subsonic.support import SubsonicClient


@pytest.fixture(autouse=True)
def _clear_throttle() -> None:
    cache.clear()


def _code(client: Client, method: str = "ping", **params: Any) -> int | None:
    response = client.get(f"/rest/{method}", {"f": "json", "c": "pytest", **params})
    body = json.loads(response.content)["subsonic-response"]
    return body["error"]["code"] if body["status"] == "failed" else None


@pytest.fixture
def password(user: User) -> str:
    return subsonic_password_reveal(user=user)


def test_token_auth(client: Client, user: User, password: str) -> None:
    token = hashlib.md5((password + "s4lt3d").encode()).hexdigest()
    assert _code(client, u="alice", t=token, s="s4lt3d") is None


def test_token_auth_accepts_the_same_salt_again(client: Client, user: User, password: str) -> None:
    """DSub reuses one salt for every request: no replay rejection."""
    token = hashlib.md5((password + "s4lt3d").encode()).hexdigest()
    assert _code(client, u="alice", t=token, s="s4lt3d") is None
    assert _code(client, u="alice", t=token, s="s4lt3d") is None


def test_clear_and_hex_password(client: Client, user: User, password: str) -> None:
    assert _code(client, u="alice", p=password) is None
    assert _code(client, u="alice", p="enc:" + password.encode().hex()) is None


@pytest.mark.parametrize("bad", ["enc:zz", "enc:abc", "enc:ff"])
def test_malformed_hex_password_is_wrong_credentials(client: Client, user: User, password: str, bad: str) -> None:
    assert _code(client, u="alice", p=bad) == 40


def test_login_password_is_not_the_subsonic_password(client: Client, user: User, password: str) -> None:
    assert _code(client, u="alice", p="correct horse battery staple") == 40


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({}, 10),
        ({"p": "x"}, 10),
        ({"u": "alice"}, 10),
        ({"u": "alice", "t": "abc"}, 10),
        ({"u": "alice", "p": "x", "t": "abc", "s": "salt"}, 43),
        ({"u": "alice", "t": "0" * 32, "s": "salt"}, 40),
        ({"u": "nobody", "p": "whatever"}, 40),
        ({"jwt": "eyJhbGciOi.x.y"}, 42),
    ],
)
def test_credential_errors(client: Client, user: User, password: str, params: dict[str, str], code: int) -> None:
    assert _code(client, **params) == code


def test_disabled_user_is_refused(client: Client, user: User, password: str) -> None:
    user.is_active = False
    user.save()
    assert _code(client, u="alice", p=password) == 40


def test_unreadable_app_password_asks_to_regenerate(client: Client, user: User, password: str) -> None:
    SubsonicCredential.objects.filter(user=user).update(ciphertext=b"garbage")
    response = client.get("/rest/ping", {"f": "json", "u": "alice", "p": password})
    error = json.loads(response.content)["subsonic-response"]["error"]
    assert error["code"] == 40
    assert "regenerate your Subsonic password" in error["message"]


def test_api_key(client: Client, user: User) -> None:
    _, raw = api_key_create(user=user, name="script")
    assert _code(client, apiKey=raw) is None
    response = client.get("/rest/tokenInfo", {"f": "json", "apiKey": raw})
    assert json.loads(response.content)["subsonic-response"]["tokenInfo"] == {"username": "alice"}


def test_api_key_errors(client: Client, user: User) -> None:
    _, raw = api_key_create(user=user, name="script")
    assert _code(client, apiKey=raw, u="alice") == 43
    assert _code(client, apiKey="mcma_not-a-key") == 44


def test_extensions_need_no_auth(client: Client, db: None) -> None:
    response = client.get("/rest/getOpenSubsonicExtensions", {"f": "json"})
    body = json.loads(response.content)["subsonic-response"]
    names = {item["name"]: item["versions"] for item in body["openSubsonicExtensions"]}
    assert names["formPost"] == [1]
    assert {"apiKeyAuthentication", "songLyrics", "indexBasedQueue"} <= set(names)


def test_other_methods_need_auth(client: Client, db: None) -> None:
    assert _code(client, "getLicense") == 10


def test_repeated_failures_are_throttled_per_user_and_address(
    client: Client, user: User, password: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(auth, "MAX_FAILURES_PER_USER_AND_ADDRESS", 3)
    for _ in range(3):
        assert _code(client, u="alice", p="wrong") == 40
    response = client.get("/rest/ping", {"f": "json", "u": "alice", "p": password})
    error = json.loads(response.content)["subsonic-response"]["error"]
    assert error["code"] == 40
    assert "Too many failed logins" in error["message"]
    # The real owner on another device (another address) is not locked out.
    other = Client(REMOTE_ADDR="10.0.0.2")
    assert _code(other, u="alice", p=password) is None


def test_successful_logins_are_never_throttled(api: SubsonicClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth, "MAX_FAILURES_PER_USER_AND_ADDRESS", 2)
    for _ in range(5):
        assert api.call("ping").ok
