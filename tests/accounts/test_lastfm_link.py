"""Connecting to Last.fm: POST /api/v1/users/me/lastfm gives Last.fm's authorisation page; Last.fm sends the browser
back to /api/v1/lastfm/callback, which trades the token for a session key (stored encrypted, never shown). All
against a fake Last.fm on 127.0.0.1 that checks every signature."""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.test import Client

from accounts import lastfm, services
from accounts.models import LastFmLink, User
from tests.factories.accounts import UserFactory
from tests.fakes.lastfm_server import FakeLastFm

pytestmark = pytest.mark.django_db


def _authorize_url(api_client_for: Any, user: User) -> str:
    response = api_client_for(user).post("/api/v1/users/me/lastfm")
    assert response.status_code == 200, response.content
    assert response["Cache-Control"] == "no-store"
    return str(response.json()["authorize_url"])


def _allowed(authorize_url: str) -> str:
    """What the browser does: open Last.fm's page, where the user allows; the callback path and query it is sent to."""
    answer = requests.get(authorize_url, allow_redirects=False, timeout=5)
    assert answer.status_code == 302
    location = urlsplit(answer.headers["Location"])
    return f"{location.path}?{location.query}"


def _status(api_client_for: Any, user: User) -> dict[str, Any]:
    return dict(api_client_for(user).get("/api/v1/users/me").json()["lastfm"])


@pytest.mark.security
def test_the_round_trip_connects_and_the_session_is_stored_encrypted(
    api_client_for: Any, fake_lastfm: FakeLastFm
) -> None:
    user = UserFactory.create()
    authorize_url = _authorize_url(api_client_for, user)
    assert authorize_url.startswith(fake_lastfm.auth_url)
    callback = parse_qs(urlsplit(authorize_url).query)["cb"][0]
    assert urlsplit(callback).path == "/api/v1/lastfm/callback"
    returned = _allowed(authorize_url)
    assert Client().post(returned).status_code == 405  # only the browser's GET back from Last.fm
    page = Client().get(returned)  # no login needed: the browser comes back from Last.fm
    assert page.status_code == 200
    assert "no-store" in page["Cache-Control"]
    assert "Connected as <strong>alice-fm</strong>" in page.content.decode()
    [session_key] = fake_lastfm.sessions
    assert b"alice-fm" not in bytes(LastFmLink.objects.get(user=user).ciphertext)
    assert session_key.encode() not in bytes(LastFmLink.objects.get(user=user).ciphertext)
    assert services.lastfm_session_for(user_id=user.pk) == session_key
    status = _status(api_client_for, user)
    assert status == {"available": True, "connected": True, "username": "alice-fm", "session_valid": True}
    assert session_key not in api_client_for(user).get("/api/v1/users/me").content.decode()


def test_without_an_api_account_connecting_is_a_409(api_client_for: Any) -> None:
    user = UserFactory.create()
    response = api_client_for(user).post("/api/v1/users/me/lastfm")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "lastfm_not_configured"
    assert "LASTFM_API_KEY" in response.json()["error"]["message"]
    assert _status(api_client_for, user) == {
        "available": False,
        "connected": False,
        "username": None,
        "session_valid": False,
    }


def test_connecting_needs_a_login(api_client_for: Any, fake_lastfm: FakeLastFm) -> None:
    assert api_client_for(None).post("/api/v1/users/me/lastfm").status_code == 401


@pytest.mark.security
@pytest.mark.parametrize("state", ["", "1", "1:forged:signature", "not a state at all"])
def test_a_forged_state_is_a_400_page_and_connects_nobody(
    api_client_for: Any, fake_lastfm: FakeLastFm, state: str
) -> None:
    user = UserFactory.create()
    returned = urlsplit(_allowed(_authorize_url(api_client_for, user)))
    token = parse_qs(returned.query)["token"][0]
    page = Client().get(returned.path, {"state": state, "token": token})
    assert page.status_code == 400
    assert "connect to Last.fm again" in page.content.decode()
    assert not LastFmLink.objects.exists()
    assert not fake_lastfm.sessions  # the token was not even traded


@pytest.mark.security
def test_a_state_over_an_hour_old_is_refused(
    api_client_for: Any, fake_lastfm: FakeLastFm, monkeypatch: pytest.MonkeyPatch
) -> None:
    returned = _allowed(_authorize_url(api_client_for, UserFactory.create()))
    monkeypatch.setattr(services, "LASTFM_AUTHORIZE_SECONDS", -1)
    assert Client().get(returned).status_code == 400
    assert not LastFmLink.objects.exists()


def test_a_token_nobody_allowed_is_a_400_and_changes_nothing(api_client_for: Any, fake_lastfm: FakeLastFm) -> None:
    user = UserFactory.create()
    returned = urlsplit(_allowed(_authorize_url(api_client_for, user)))
    state = parse_qs(returned.query)["state"][0]
    for token in ("0" * 32, "", "<script>"):  # declined on Last.fm's page, missing, malformed
        page = Client().get(returned.path, {"state": state, "token": token})
        assert page.status_code == 400, token
        assert "<script>" not in page.content.decode()
    assert not LastFmLink.objects.exists()


def test_last_fm_down_is_a_503_and_keeps_the_old_session(api_client_for: Any, fake_lastfm: FakeLastFm) -> None:
    user = UserFactory.create()
    assert Client().get(_allowed(_authorize_url(api_client_for, user))).status_code == 200
    old = services.lastfm_session_for(user_id=user.pk)
    returned = _allowed(_authorize_url(api_client_for, user))
    fake_lastfm.down_for = 1
    page = Client().get(returned)
    assert page.status_code == 503
    assert "nothing was changed" in page.content.decode()
    assert services.lastfm_session_for(user_id=user.pk) == old


def test_disconnecting_forgets_the_session(api_client_for: Any, fake_lastfm: FakeLastFm) -> None:
    user = UserFactory.create()
    assert Client().get(_allowed(_authorize_url(api_client_for, user))).status_code == 200
    assert api_client_for(user).delete("/api/v1/users/me/lastfm").status_code == 204
    assert not LastFmLink.objects.exists()
    assert _status(api_client_for, user)["connected"] is False


def test_the_signature_is_the_md5_of_the_sorted_parameters_and_the_secret(settings: Any) -> None:
    settings.LASTFM_API_SECRET = "secret"
    expected = hashlib.md5(b"api_keykeymethodauth.getSessiontokent0ksecret", usedforsecurity=False).hexdigest()
    assert lastfm.signature({"token": "t0k", "method": "auth.getSession", "api_key": "key"}) == expected
