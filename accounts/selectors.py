"""Reads of the accounts app: credential checks for Subsonic and API-key authentication, user lookups."""

from __future__ import annotations

import hashlib
import hmac

from django.db.models import QuerySet

from accounts import lastfm
from accounts.crypto import SecretUnreadableError, secret_decrypt
from accounts.errors import SubsonicPasswordUnavailableError
from accounts.models import ApiKey, LastFmLink, ListenBrainzLink, SubsonicCredential, User
from mcma.errors import NotFoundError

API_KEY_PREFIX = "mcma_"


def api_key_hash(raw_key: str) -> str:
    """SHA-256 is enough here: keys are 256-bit random, so there is nothing to brute-force offline."""
    return hashlib.sha256(raw_key.encode("utf-8")).hexdigest()


def user_by_api_key(*, raw_key: str) -> User | None:
    """The active owner of a live (unrevoked) API key, or None. The lookup is by hash, never by the raw key."""
    if not raw_key or len(raw_key) > 200:
        return None
    digest = api_key_hash(raw_key)
    key = (
        ApiKey.objects.select_related("user")
        .filter(key_hash=digest, revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if key is None or not hmac.compare_digest(key.key_hash, digest):
        return None
    return key.user


def _subsonic_secret(user: User) -> str | None:
    credential = SubsonicCredential.objects.filter(user=user).only("ciphertext").first()
    if credential is None:
        return None
    try:
        return secret_decrypt(credential.ciphertext)
    except SecretUnreadableError as exc:
        raise SubsonicPasswordUnavailableError() from exc


def user_check_subsonic_password(*, user: User, password: str) -> bool:
    """Constant-time check of a clear-text Subsonic password (`p=`/`enc:`). False for no credential or inactive."""
    if not user.is_active:
        return False
    secret = _subsonic_secret(user)
    if secret is None:
        return False
    return hmac.compare_digest(secret.encode("utf-8"), password.encode("utf-8"))


def user_check_subsonic_token(*, user: User, token: str, salt: str) -> bool:
    """Constant-time check of Subsonic token auth: `token == md5(password + salt)` (hex, case-insensitive)."""
    if not user.is_active or not salt:
        return False
    secret = _subsonic_secret(user)
    if secret is None:
        return False
    expected = hashlib.md5((secret + salt).encode("utf-8"), usedforsecurity=False).hexdigest()
    return hmac.compare_digest(expected.encode("ascii"), token.strip().lower().encode("utf-8"))


def user_get(*, user_id: int) -> User:
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        raise NotFoundError("User not found.", details={"id": user_id})
    return user


def user_get_by_username(*, username: str) -> User:
    user = User.objects.filter(username=username).first()
    if user is None:
        raise NotFoundError("User not found.", details={"username": username})
    return user


def users_list() -> QuerySet[User]:
    return User.objects.order_by("username", "pk")


def api_keys_of(*, user: User) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(user=user).order_by("-created_at", "-pk")


def listenbrainz_status(*, user: User) -> dict[str, object]:
    """What the profile shows about the ListenBrainz link (never the token)."""
    link = ListenBrainzLink.objects.filter(user=user).first()
    return {
        "connected": link is not None,
        "username": (link.listenbrainz_username or None) if link else None,
        "token_valid": link is not None and link.rejected_at is None,
    }


def lastfm_status(*, user: User) -> dict[str, object]:
    """What the profile shows about the Last.fm link (never the session key)."""
    link = LastFmLink.objects.filter(user=user).first()
    return {
        "available": lastfm.configured(),
        "connected": link is not None,
        "username": (link.lastfm_username or None) if link else None,
        "session_valid": link is not None and link.rejected_at is None,
    }
