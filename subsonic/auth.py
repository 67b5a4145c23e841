"""Who is calling: `u`+`t`+`s`, `u`+`p` (clear or `enc:` hex) or OpenSubsonic `apiKey`.

Error codes follow the spec exactly: 10 missing parameter, 40 wrong credentials (also for an unknown or disabled
user, so usernames can't be probed), 42 unsupported mechanism (`jwt`), 43 conflicting mechanisms, 44 bad API
key. 41 (token auth unsupported) never applies: every app-password is recoverable, so tokens always work.

Failed attempts are counted per username+address and per address in Django's cache; only the failing pair is
slowed down, so a player that authenticates correctly from another address is never locked out by a guesser.
"""

from __future__ import annotations

import binascii
import hashlib

from django.core.cache import cache
from django.http import HttpRequest

from accounts.models import User
from accounts.selectors import user_by_api_key, user_check_subsonic_password, user_check_subsonic_token
from subsonic.errors import ControlCharacterError, ErrorCode, SubsonicError, missing_parameter
from subsonic.params import Params

FAILURE_WINDOW_SECONDS = 600
# Generous: a misconfigured player retrying every few seconds must not lock the account for its owner.
MAX_FAILURES_PER_USER_AND_ADDRESS = 30
MAX_FAILURES_PER_ADDRESS = 300

WRONG_CREDENTIALS = "Wrong username or password"


def authenticate(request: HttpRequest, params: Params) -> User:
    api_key = params.text("apiKey")
    try:
        username = params.text("u")
    except ControlCharacterError as exc:  # no account has such a name: say so, without asking the database
        raise SubsonicError(ErrorCode.WRONG_CREDENTIALS, WRONG_CREDENTIALS) from exc
    password = params.text("p")
    token = params.text("t")
    address = _client_address(request)
    if api_key is not None:
        if username or password or token:
            raise SubsonicError(ErrorCode.CONFLICTING_AUTH, "apiKey must not be combined with u, p or t")
        _refuse_if_throttled(address, "")
        user = user_by_api_key(raw_key=api_key)
        if user is None:
            _record_failure(address, "")
            raise SubsonicError(ErrorCode.INVALID_API_KEY, "Invalid API key")
        return user
    if not username:
        if params.text("jwt"):  # Navidrome's own session tokens: a mechanism this server does not offer
            raise SubsonicError(ErrorCode.AUTH_MECHANISM_NOT_SUPPORTED, "jwt authentication is not supported")
        raise missing_parameter("u")
    if password and token:
        raise SubsonicError(ErrorCode.CONFLICTING_AUTH, "Give either p or t and s, not both")
    if not password and not token:
        raise missing_parameter("t")
    salt = params.text("s")
    if token and not salt:
        raise missing_parameter("s")
    _refuse_if_throttled(address, username)
    user = User.objects.filter(username=username).first()
    if user is None or not user.is_active or not _credentials_match(user, password, token, salt):
        _record_failure(address, username)
        raise SubsonicError(ErrorCode.WRONG_CREDENTIALS, WRONG_CREDENTIALS)
    return user


def decode_password(raw: str) -> str | None:
    """`enc:` + hex of the UTF-8 password, or the clear password; None when the hex is malformed."""
    if not raw.startswith("enc:"):
        return raw
    try:
        return binascii.unhexlify(raw[4:]).decode("utf-8")
    except (binascii.Error, ValueError):
        return None


def _credentials_match(user: User, password: str | None, token: str | None, salt: str | None) -> bool:
    if password:
        clear = decode_password(password)
        return clear is not None and user_check_subsonic_password(user=user, password=clear)
    assert token is not None
    assert salt is not None
    return user_check_subsonic_token(user=user, token=token, salt=salt)


def _client_address(request: HttpRequest) -> str:
    return str(request.META.get("REMOTE_ADDR") or "unknown")


def _keys(address: str, username: str) -> tuple[str, str]:
    user_part = hashlib.sha256(username.encode("utf-8")).hexdigest()[:24]
    return f"subsonic-auth-fail:{address}:{user_part}", f"subsonic-auth-fail:{address}"


def _refuse_if_throttled(address: str, username: str) -> None:
    pair_key, address_key = _keys(address, username)
    counts = cache.get_many([pair_key, address_key])
    if (
        counts.get(pair_key, 0) >= MAX_FAILURES_PER_USER_AND_ADDRESS
        or counts.get(address_key, 0) >= MAX_FAILURES_PER_ADDRESS
    ):
        raise SubsonicError(
            ErrorCode.WRONG_CREDENTIALS,
            f"Too many failed logins from this address; try again in {FAILURE_WINDOW_SECONDS // 60} minutes",
        )


def _record_failure(address: str, username: str) -> None:
    for key in _keys(address, username):
        cache.add(key, 0, FAILURE_WINDOW_SECONDS)
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, FAILURE_WINDOW_SECONDS)
