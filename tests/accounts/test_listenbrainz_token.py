"""PATCH /api/v1/users/me {"listenbrainz_token": …}: checked with ListenBrainz, stored encrypted, never shown."""

from __future__ import annotations

from typing import Any

import pytest

from accounts import services
from accounts.models import ListenBrainzLink
from tests.factories.accounts import UserFactory
from tests.fakes.listenbrainz_server import FakeListenBrainz

pytestmark = pytest.mark.django_db


def _patch(client: Any, token: str | None) -> Any:
    return client.patch("/api/v1/users/me", {"listenbrainz_token": token}, format="json")


@pytest.mark.security
def test_a_valid_token_is_stored_encrypted_and_never_shown(
    api_client_for: Any, fake_listenbrainz: FakeListenBrainz
) -> None:
    user = UserFactory.create()
    client = api_client_for(user)
    response = _patch(client, "good-token")
    assert response.status_code == 200
    assert response.json()["listenbrainz"] == {"connected": True, "username": "alice-lb", "token_valid": True}
    assert b"good-token" not in bytes(ListenBrainzLink.objects.get(user=user).ciphertext)
    assert "good-token" not in client.get("/api/v1/users/me").content.decode()
    assert services.listenbrainz_token_for(user_id=user.pk) == "good-token"


def test_a_token_listenbrainz_refuses_is_a_400_and_changes_nothing(
    api_client_for: Any, fake_listenbrainz: FakeListenBrainz
) -> None:
    user = UserFactory.create()
    response = _patch(api_client_for(user), "typo-token")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "listenbrainz_token_invalid"
    assert response.json()["error"]["details"] == {"field": "listenbrainz_token"}
    assert not ListenBrainzLink.objects.exists()


def test_listenbrainz_down_is_a_503_and_keeps_the_old_token(
    api_client_for: Any, fake_listenbrainz: FakeListenBrainz
) -> None:
    user = UserFactory.create()
    client = api_client_for(user)
    assert _patch(client, "good-token").status_code == 200
    fake_listenbrainz.down_for = 1
    fake_listenbrainz.tokens["other-token"] = "alice-lb"
    response = _patch(client, "other-token")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "listenbrainz_unavailable"
    assert services.listenbrainz_token_for(user_id=user.pk) == "good-token"


def test_listenbrainz_unreachable_is_a_503(api_client_for: Any, settings: Any) -> None:
    settings.LISTENBRAINZ_URL = "http://127.0.0.1:9"  # discard port: nothing listens
    response = _patch(api_client_for(UserFactory.create()), "good-token")
    assert response.status_code == 503


def test_an_empty_token_disconnects(api_client_for: Any, fake_listenbrainz: FakeListenBrainz) -> None:
    user = UserFactory.create()
    client = api_client_for(user)
    assert _patch(client, "good-token").status_code == 200
    for empty in ("", None):
        response = _patch(client, empty)
        assert response.status_code == 200
        assert response.json()["listenbrainz"] == {"connected": False, "username": None, "token_valid": False}
    assert not ListenBrainzLink.objects.exists()


def test_a_refused_token_shows_in_the_profile(api_client_for: Any, fake_listenbrainz: FakeListenBrainz) -> None:
    user = UserFactory.create()
    client = api_client_for(user)
    assert _patch(client, "good-token").status_code == 200
    services.listenbrainz_token_reject(user_id=user.pk)
    assert client.get("/api/v1/users/me").json()["listenbrainz"]["token_valid"] is False
    assert services.listenbrainz_token_for(user_id=user.pk) is None
    assert _patch(client, "good-token").json()["listenbrainz"]["token_valid"] is True  # a new token clears it


@pytest.mark.security
def test_a_token_unreadable_after_a_key_change_counts_as_refused(
    api_client_for: Any, fake_listenbrainz: FakeListenBrainz, settings: Any
) -> None:
    user = UserFactory.create()
    assert _patch(api_client_for(user), "good-token").status_code == 200
    settings.SUBSONIC_SECRET_KEY = "another key entirely, long enough to be a real one"
    assert services.listenbrainz_token_for(user_id=user.pk) is None
    assert ListenBrainzLink.objects.get(user=user).rejected_at is not None


def test_a_too_long_token_is_a_400(api_client_for: Any) -> None:
    response = _patch(api_client_for(UserFactory.create()), "x" * 201)
    assert response.status_code == 400


@pytest.mark.security
@pytest.mark.parametrize("token", ["a\nb", "€uro", "two words", "nul\x00"])
def test_a_token_that_cannot_be_a_header_is_a_400_without_asking(
    api_client_for: Any, fake_listenbrainz: FakeListenBrainz, token: str
) -> None:
    response = _patch(api_client_for(UserFactory.create()), token)
    assert response.status_code == 400
    assert response.json()["error"]["code"] in {"listenbrainz_token_invalid", "invalid"}
    assert fake_listenbrainz.calls == 0
