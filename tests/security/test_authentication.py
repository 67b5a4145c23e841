"""Authentication that falls through when the lookup fails (Ampache CVE-2021-21399, Navidrome CVE-2025-27112),
`enc:` hex passwords, and the login throttles of both APIs."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import SubsonicCredential, User
from accounts.services import api_key_create
from subsonic import auth
from tests.factories.accounts import UserFactory
from tests.subsonic.support import SubsonicClient

pytestmark = [pytest.mark.django_db, pytest.mark.security]
SALT = "c0ffee42"


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def _error(client: Client, method: str = "ping", **params: Any) -> tuple[int, str] | None:
    response = client.get(f"/rest/{method}", {"f": "json", "v": "1.16.1", "c": "probe", **params})
    assert response.status_code == 200
    body = json.loads(response.content)["subsonic-response"]
    return None if body["status"] == "ok" else (body["error"]["code"], body["error"]["message"])


WRONG = (40, auth.WRONG_CREDENTIALS)


@pytest.mark.parametrize(
    "token",
    [
        _md5("" + SALT),  # the empty password of a zero-value user (Navidrome)
        _md5("None" + SALT),  # a NULL concatenated as text (Ampache)
        _md5("null" + SALT),
        _md5(SALT),
        "",
    ],
)
def test_token_auth_for_a_user_that_does_not_exist_is_error_40(owner: User, token: str) -> None:
    expected = (10, "Required parameter is missing: t") if token == "" else WRONG
    assert _error(Client(), u="nosuchuser", t=token, s=SALT) == expected


def test_token_auth_for_a_user_without_a_subsonic_password_is_error_40(db: None) -> None:
    user = UserFactory.create(username="fresh")  # never revealed an app-password
    assert not SubsonicCredential.objects.filter(user=user).exists()
    for token in (_md5(SALT), _md5("None" + SALT)):
        assert _error(Client(), u="fresh", t=token, s=SALT) == WRONG
    assert _error(Client(), u="fresh", p="enc:") == WRONG


def test_unknown_and_known_users_get_the_same_answer(owner_sub: SubsonicClient, monkeypatch: Any) -> None:
    """No enumeration: byte-identical error documents, and neither path runs the password hasher, so there is no
    ~100 ms argon2 gap to time. (Sub-millisecond differences are not something a test here can assert.)"""
    hashed: list[str] = []
    monkeypatch.setattr("django.contrib.auth.hashers.check_password", lambda *a, **k: hashed.append("x"))
    documents = set()
    for username in ("alice", "nosuchuser", "ALICE", "%", "_"):
        for fmt in ("xml", "json"):
            params = {"u": username, "t": _md5("wrong" + SALT), "s": SALT, "v": "1.16.1", "c": "probe"}
            if fmt == "json":
                params["f"] = "json"
            documents.add((fmt, Client().get("/rest/ping", params).content))
    assert len(documents) == 2  # one per format
    assert hashed == []


def test_rest_login_hashes_once_for_unknown_and_known_users(owner: User, monkeypatch: Any) -> None:
    """Django's ModelBackend hashes a dummy password for unknown users; keep it so (timing enumeration)."""
    from django.contrib.auth import hashers

    calls: list[str] = []
    real = hashers.MD5PasswordHasher.encode  # the suite's hasher (conftest); production's argon2 is called alike

    def counting(self: Any, password: str, salt: str) -> str:
        calls.append(password)
        return real(self, password, salt)

    monkeypatch.setattr(hashers.MD5PasswordHasher, "encode", counting)
    answers = []
    for username in ("alice", "nosuchuser"):
        calls.clear()
        response = APIClient().post("/api/v1/auth/token", {"username": username, "password": "wrong"}, format="json")
        answers.append((response.status_code, response.json()))
        assert len(calls) == 1, username
    assert answers[0] == answers[1]


@pytest.mark.parametrize(
    "password",
    [
        "enc:",  # empty
        "enc:abc",  # odd length
        "enc:zz",  # not hex
        "enc:ff",  # hex, but not UTF-8
        "enc:c3",  # a truncated UTF-8 sequence
        "enc:é1",  # not ASCII
        "enc: 61",  # whitespace
        "enc:0x61",
        "ENC:61",  # the prefix is lower case: this is a clear password, and a wrong one
        "enc:" + "61" * 5000,  # long
    ],
)
def test_malformed_enc_passwords_are_wrong_credentials(owner_sub: SubsonicClient, password: str) -> None:
    assert _error(Client(), u="alice", p=password) == WRONG


def test_enc_password_in_either_hex_case_logs_in(owner_sub: SubsonicClient) -> None:
    hex_password = owner_sub.password.encode().hex()
    assert _error(Client(), u="alice", p="enc:" + hex_password) is None
    assert _error(Client(), u="alice", p="enc:" + hex_password.upper()) is None


def test_subsonic_unknown_users_are_throttled_like_known_ones(owner_sub: SubsonicClient, monkeypatch: Any) -> None:
    monkeypatch.setattr(auth, "MAX_FAILURES_PER_USER_AND_ADDRESS", 3)
    for username in ("alice", "nosuchuser"):
        guesser = Client(REMOTE_ADDR="10.8.8.8")
        for _ in range(3):
            assert _error(guesser, u=username, p="wrong") == WRONG
        code, message = _error(guesser, u=username, p="wrong") or (0, "")
        assert code == 40
        assert "Too many failed logins" in message
    # The owner, elsewhere, is not locked out by the guessing.
    assert _error(Client(REMOTE_ADDR="10.9.9.9"), u="alice", p=owner_sub.password) is None


def test_rest_throttle_ignores_a_spoofed_forwarded_for(owner: User, settings: Any) -> None:
    rates = {"login_ip": "3/min", "login_user": "100/min"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    for i in range(3):
        response = APIClient().post(
            "/api/v1/auth/token",
            {"username": f"guess{i}", "password": "x"},
            format="json",
            HTTP_X_FORWARDED_FOR=f"10.0.{i}.1",
        )
        assert response.status_code == 401
    fresh_xff = APIClient().post(
        "/api/v1/auth/token", {"username": "alice", "password": "x"}, format="json", HTTP_X_FORWARDED_FOR="10.7.7.7"
    )
    assert fresh_xff.status_code == 429


def test_subsonic_api_key_guessing_is_throttled_per_address(owner: User, monkeypatch: Any) -> None:
    monkeypatch.setattr(auth, "MAX_FAILURES_PER_ADDRESS", 3)
    _, raw = api_key_create(user=owner, name="player")
    guesser = Client(REMOTE_ADDR="10.8.8.9")
    for i in range(3):
        assert _error(guesser, apiKey=f"mcma_guess{i}") == (44, "Invalid API key")
    code, message = _error(guesser, apiKey=raw) or (0, "")
    assert code == 40
    assert "Too many failed logins" in message  # even the right key, while the address is locked out
    assert _error(Client(REMOTE_ADDR="10.9.9.8"), apiKey=raw) is None
