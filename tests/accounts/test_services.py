"""accounts.crypto, accounts.services and accounts.selectors without HTTP."""

from __future__ import annotations

import hashlib
import logging
from typing import Any

import pytest
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from accounts import crypto, selectors, services
from accounts.errors import PasswordRejectedError, SubsonicPasswordUnavailableError
from accounts.models import ApiKey, SubsonicCredential
from mcma.errors import ConflictError, InvalidInputError, NotFoundError
from tests.factories.accounts import AdminFactory, UserFactory

pytestmark = pytest.mark.django_db
OTHER_KEY = "rotated subsonic secret key, long enough for production 0123"


def test_crypto_round_trip_is_randomised_and_authenticated() -> None:
    first = crypto.secret_encrypt("hunter2-app-password")
    second = crypto.secret_encrypt("hunter2-app-password")
    assert first != second  # fresh IV each time
    assert b"hunter2" not in first
    assert crypto.secret_decrypt(memoryview(first)) == "hunter2-app-password"
    tampered = bytearray(first)
    tampered[-5] ^= 0x01
    with pytest.raises(crypto.SecretUnreadableError):
        crypto.secret_decrypt(bytes(tampered))
    with pytest.raises(crypto.SecretUnreadableError):
        crypto.secret_decrypt(b"not a token at all")


def test_crypto_key_is_derived_from_the_setting(settings: Any) -> None:
    token = crypto.secret_encrypt("value")
    settings.SUBSONIC_SECRET_KEY = OTHER_KEY
    with pytest.raises(crypto.SecretUnreadableError):
        crypto.secret_decrypt(token)
    assert crypto.secret_decrypt(crypto.secret_encrypt("value")) == "value"


def test_subsonic_checks(settings: Any) -> None:
    user = UserFactory.create()
    assert not selectors.user_check_subsonic_password(user=user, password="anything")  # no credential yet
    assert not selectors.user_check_subsonic_token(user=user, token=hashlib.md5(b"s").hexdigest(), salt="s")
    password = services.subsonic_password_reveal(user=user)
    token = hashlib.md5((password + "abc").encode()).hexdigest()
    assert selectors.user_check_subsonic_password(user=user, password=password)
    assert not selectors.user_check_subsonic_password(user=user, password=password[:-1])
    assert selectors.user_check_subsonic_token(user=user, token=token.upper(), salt="abc")
    assert not selectors.user_check_subsonic_token(user=user, token=token, salt="abd")
    assert not selectors.user_check_subsonic_token(user=user, token=token, salt="")
    user.is_active = False
    assert not selectors.user_check_subsonic_password(user=user, password=password)
    user.is_active = True
    settings.SUBSONIC_SECRET_KEY = OTHER_KEY
    with pytest.raises(SubsonicPasswordUnavailableError, match="regenerate your Subsonic password"):
        selectors.user_check_subsonic_token(user=user, token=token, salt="abc")
    with pytest.raises(SubsonicPasswordUnavailableError):
        selectors.user_check_subsonic_password(user=user, password=password)


def test_rotation_replaces_the_ciphertext_and_resets_last_use() -> None:
    user = UserFactory.create()
    old = services.subsonic_password_reveal(user=user)
    SubsonicCredential.objects.filter(user=user).update(last_used_at="2026-01-01T00:00:00Z")
    new = services.subsonic_password_rotate(user=user)
    assert new != old
    assert len(new) >= 24
    assert SubsonicCredential.objects.get(user=user).last_used_at is None


def test_secrets_never_reach_the_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    user = UserFactory.create()
    revealed = services.subsonic_password_reveal(user=user)
    rotated = services.subsonic_password_rotate(user=user)
    _, raw_key = services.api_key_create(user=user, name="k")
    services.user_password_set(user=user, password="brand new passphrase 77")
    logged = caplog.text
    for secret in (revealed, rotated, raw_key, "brand new passphrase 77"):
        assert secret not in logged


def test_api_key_lookup() -> None:
    user = UserFactory.create()
    key, raw = services.api_key_create(user=user, name="cli")
    assert selectors.user_by_api_key(raw_key=raw) == user
    assert key.key_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert raw[:12] == key.prefix
    for bad in ("", raw + "x", raw[:-1], "x" * 10_000):
        assert selectors.user_by_api_key(raw_key=bad) is None
    services.api_key_revoke(user=user, key_id=key.pk)
    assert selectors.user_by_api_key(raw_key=raw) is None
    services.api_key_revoke(user=user, key_id=key.pk)  # idempotent
    with pytest.raises(NotFoundError):
        services.api_key_revoke(user=UserFactory.create(), key_id=key.pk)


def test_last_used_is_recorded_at_most_once_a_minute() -> None:
    user = UserFactory.create()
    key, raw = services.api_key_create(user=user, name="k")
    services.api_key_touch(raw_key=raw)
    key.refresh_from_db()
    first = key.last_used_at
    assert first is not None
    services.api_key_touch(raw_key=raw)
    key.refresh_from_db()
    assert key.last_used_at == first
    services.api_key_touch(raw_key="mcma_unknown")  # unknown keys touch nothing and don't fail
    services.subsonic_password_reveal(user=user)
    services.subsonic_password_touch(user=user)
    assert SubsonicCredential.objects.get(user=user).last_used_at is not None


def test_api_keys_are_capped(monkeypatch: Any) -> None:
    monkeypatch.setattr(services, "MAX_API_KEYS_PER_USER", 2)
    user = UserFactory.create()
    services.api_key_create(user=user, name="a")
    services.api_key_create(user=user, name="b")
    with pytest.raises(ConflictError):
        services.api_key_create(user=user, name="c")
    assert ApiKey.objects.filter(user=user).count() == 2


def test_user_create_and_update_validate_their_input() -> None:
    with pytest.raises(InvalidInputError):
        services.user_create(username="x", password="long enough passphrase", is_superuser=True)
    with pytest.raises(InvalidInputError):
        services.user_create(username="  ", password="long enough passphrase")
    with pytest.raises(PasswordRejectedError):
        services.user_create(username="weak", password="123")
    user = services.user_create(username="ok", password="long enough passphrase", can_share=True)
    assert user.can_share
    assert not user.is_admin
    with pytest.raises(InvalidInputError):
        services.user_update(user=user, password="x")
    with pytest.raises(ConflictError):
        services.user_create(username="OK", password="long enough passphrase")


def test_password_change_blacklists_outstanding_refresh_tokens() -> None:
    user = UserFactory.create()
    tokens = [RefreshToken.for_user(user) for _ in range(3)]
    services.user_password_set(user=user, password="another fine passphrase")
    assert (
        BlacklistedToken.objects.filter(token__user=user).count()
        == OutstandingToken.objects.filter(user=user).count()
        == len(tokens)
    )
    with pytest.raises(PasswordRejectedError):
        services.user_password_change(user=user, old_password="wrong", new_password="x")


def test_disabling_a_user_revokes_refresh_tokens() -> None:
    AdminFactory.create()
    user = UserFactory.create()
    RefreshToken.for_user(user)
    services.user_update(user=user, is_active=False)
    assert BlacklistedToken.objects.filter(token__user=user).count() == 1
