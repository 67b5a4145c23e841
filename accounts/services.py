"""Writes of the accounts app: users, login passwords, Subsonic app-passwords, API keys, ListenBrainz tokens and
Last.fm sessions."""

from __future__ import annotations

import logging
import re
import secrets
from datetime import timedelta
from urllib.parse import urlencode

from django.contrib.auth.models import update_last_login
from django.contrib.auth.password_validation import validate_password
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from accounts import lastfm, listenbrainz
from accounts.crypto import (
    LASTFM_SESSION_INFO,
    LISTENBRAINZ_TOKEN_INFO,
    SecretUnreadableError,
    secret_decrypt,
    secret_encrypt,
)
from accounts.errors import (
    LastFmAuthorizationInvalidError,
    LastFmNotConfiguredError,
    LastFmUnreachableError,
    ListenBrainzTokenInvalidError,
    ListenBrainzUnreachableError,
    PasswordRejectedError,
    SubsonicPasswordUnavailableError,
)
from accounts.models import ApiKey, LastFmLink, ListenBrainzLink, SubsonicCredential, User
from accounts.selectors import API_KEY_PREFIX, api_key_hash
from mcma.errors import ConflictError, InvalidInputError, NotFoundError, PermissionDeniedError

logger = logging.getLogger(__name__)

# Boolean role flags an admin may set; anything else passed as a flag is a programming or input error.
USER_FLAGS = frozenset(
    {"can_download", "can_stream", "can_edit_playlists", "can_share", "can_comment", "can_request_downloads"}
)
# Fields `user_update` accepts besides the flags.
USER_FIELDS = frozenset(
    {
        "email",
        "first_name",
        "last_name",
        "is_active",
        "is_admin",
        "max_bitrate",
        "default_format",
        "subsonic_external_search",
    }
)
MAX_API_KEYS_PER_USER = 50
LISTENBRAINZ_TOKEN_FORM = re.compile(r"[!-~]{1,200}")
APP_PASSWORD_BYTES = 24  # 32 URL-safe characters
LAST_USED_RESOLUTION = timedelta(minutes=1)


# ---------------------------------------------------------------------------------------------------------------
# Users
# ---------------------------------------------------------------------------------------------------------------
def _password_validate(password: str, user: User | None) -> None:
    try:
        validate_password(password, user=user)
    except ValidationError as exc:
        raise PasswordRejectedError("The password was rejected.", details={"password": list(exc.messages)}) from exc


def _flags_check(flags: dict[str, object]) -> None:
    unknown = sorted(set(flags) - USER_FLAGS)
    if unknown:
        raise InvalidInputError("Unknown user flags.", details={"unknown": unknown})


def _is_last_admin(user: User) -> bool:
    others = User.objects.filter(is_active=True).exclude(pk=user.pk)
    return user.is_admin and not (others.filter(is_staff=True).exists() or others.filter(is_superuser=True).exists())


@transaction.atomic
def user_create(*, username: str, password: str, email: str = "", is_admin: bool = False, **flags: bool) -> User:
    _flags_check(dict(flags))
    username = username.strip()
    if not username:
        raise InvalidInputError("A username is required.", details={"field": "username"})
    if User.objects.filter(username__iexact=username).exists():
        raise ConflictError("That username is taken.", details={"username": username})
    user = User(username=username, email=email, is_staff=is_admin, is_superuser=is_admin, **flags)
    _password_validate(password, user)
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError as exc:  # a concurrent create won the race
        raise ConflictError("That username is taken.", details={"username": username}) from exc
    logger.info("user created: id=%s admin=%s", user.pk, is_admin)
    return user


@transaction.atomic
def user_update(*, user: User, **fields: object) -> User:
    unknown = sorted(set(fields) - USER_FIELDS - USER_FLAGS)
    if unknown:
        raise InvalidInputError("These fields can't be changed.", details={"unknown": unknown})
    demoting = fields.get("is_admin") is False or fields.get("is_active") is False
    if demoting and _is_last_admin(user):
        raise ConflictError("The last active admin can't be demoted or disabled.")
    changed: list[str] = []
    for name, value in fields.items():
        if name == "is_admin":
            user.is_staff = user.is_superuser = bool(value)
            changed += ["is_staff", "is_superuser"]
        else:
            setattr(user, name, value)
            changed.append(name)
    if changed:
        user.save(update_fields=changed)
    if fields.get("is_active") is False:
        _refresh_tokens_revoke(user)
    return user


@transaction.atomic
def user_delete(*, user: User) -> None:
    if _is_last_admin(user):
        raise ConflictError("The last active admin can't be deleted.")
    logger.info("user deleted: id=%s", user.pk)
    user.delete()


def _refresh_tokens_revoke(user: User) -> None:
    """Blacklist every outstanding refresh token of `user` (access tokens die with the password hash claim)."""
    outstanding = OutstandingToken.objects.filter(user=user).exclude(blacklistedtoken__isnull=False)
    BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token=token) for token in outstanding], ignore_conflicts=True
    )


@transaction.atomic
def user_password_set(*, user: User, password: str) -> None:
    _password_validate(password, user)
    user.set_password(password)
    user.save(update_fields=["password"])
    _refresh_tokens_revoke(user)
    logger.info("login password changed: user=%s", user.pk)


def user_password_change(*, user: User, old_password: str, new_password: str) -> None:
    """The self-service path: proves knowledge of the old password first."""
    if not user.check_password(old_password):
        raise PasswordRejectedError("The current password is wrong.", details={"field": "old_password"})
    user_password_set(user=user, password=new_password)


# ---------------------------------------------------------------------------------------------------------------
# JWT sessions
# ---------------------------------------------------------------------------------------------------------------
def token_pair_issue(*, user: User) -> dict[str, str]:
    """A fresh refresh + access token pair for an authenticated, active user."""
    if not user.is_active:
        raise PermissionDeniedError("This account is disabled.")
    refresh = RefreshToken.for_user(user)
    update_last_login(User, user)
    return {"refresh": str(refresh), "access": str(refresh.access_token)}


def token_revoke(*, refresh: str) -> None:
    """Log out: blacklist the refresh token so it can't mint access tokens any more."""
    try:
        RefreshToken(refresh).blacklist()  # type: ignore[arg-type]
    except TokenError as exc:
        raise InvalidInputError("The refresh token is invalid or expired.", details={"field": "refresh"}) from exc


# ---------------------------------------------------------------------------------------------------------------
# Subsonic app-passwords
# ---------------------------------------------------------------------------------------------------------------
def _app_password_new() -> str:
    return secrets.token_urlsafe(APP_PASSWORD_BYTES)


@transaction.atomic
def subsonic_password_rotate(*, user: User) -> str:
    """Replace the app-password with a fresh random one and return it (the only moment it leaves the server)."""
    password = _app_password_new()
    SubsonicCredential.objects.update_or_create(
        user=user, defaults={"ciphertext": secret_encrypt(password), "last_used_at": None}
    )
    logger.info("subsonic app-password rotated: user=%s", user.pk)
    return password


def subsonic_password_reveal(*, user: User) -> str:
    """The current app-password, generated on first use. Raises SubsonicPasswordUnavailableError after a key change."""
    credential = SubsonicCredential.objects.filter(user=user).first()
    if credential is None:
        password = _app_password_new()
        try:
            with transaction.atomic():
                SubsonicCredential.objects.create(user=user, ciphertext=secret_encrypt(password))
        except IntegrityError:
            # Someone else generated it at the same moment: theirs is the one stored, so reveal that.
            credential = SubsonicCredential.objects.get(user=user)
        else:
            return password
    try:
        return secret_decrypt(credential.ciphertext)
    except SecretUnreadableError as exc:
        raise SubsonicPasswordUnavailableError() from exc


# ---------------------------------------------------------------------------------------------------------------
# API keys
# ---------------------------------------------------------------------------------------------------------------
@transaction.atomic
def api_key_create(*, user: User, name: str) -> tuple[ApiKey, str]:
    """Create a key and return it with its raw value, which is never stored and can't be shown again."""
    name = name.strip()
    if len(name) > ApiKey._meta.get_field("name").max_length:  # type: ignore[operator]
        raise InvalidInputError("The key name is too long.", details={"field": "name", "max_length": 100})
    live = ApiKey.objects.filter(user=user, revoked_at__isnull=True).count()
    if live >= MAX_API_KEYS_PER_USER:
        raise ConflictError("Too many API keys; revoke one first.", details={"limit": MAX_API_KEYS_PER_USER})
    raw = API_KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey.objects.create(user=user, name=name, prefix=raw[:12], key_hash=api_key_hash(raw))
    logger.info("api key created: user=%s key=%s", user.pk, key.pk)
    return key, raw


def api_key_touch(*, raw_key: str) -> None:
    """Record that a key was just used (at most one write a minute, so busy scripts don't hammer the table)."""
    now = timezone.now()
    stale = Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
    ApiKey.objects.filter(stale, key_hash=api_key_hash(raw_key)).update(last_used_at=now)


def subsonic_password_touch(*, user: User) -> None:
    """Record a successful Subsonic login with the app-password (call only after the check succeeded)."""
    now = timezone.now()
    stale = Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
    SubsonicCredential.objects.filter(stale, user=user).update(last_used_at=now)


@transaction.atomic
def api_key_revoke(*, user: User, key_id: int) -> None:
    """Revoke one of `user`'s keys. Another user's key is reported as not found, so ids leak nothing."""
    key = ApiKey.objects.select_for_update().filter(pk=key_id, user=user).first()
    if key is None:
        raise NotFoundError("API key not found.", details={"id": key_id})
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])


# ---------------------------------------------------------------------------------------------------------------
# ListenBrainz tokens
# ---------------------------------------------------------------------------------------------------------------
def listenbrainz_token_set(*, user: User, token: str | None) -> ListenBrainzLink | None:
    """Connect `user` to ListenBrainz with `token` after asking ListenBrainz whether it is valid; an empty token
    disconnects. Listens waiting for a valid token are sent by the next sweep."""
    token = (token or "").strip()
    if not token:
        ListenBrainzLink.objects.filter(user=user).delete()
        logger.info("listenbrainz disconnected: user=%s", user.pk)
        return None
    if not LISTENBRAINZ_TOKEN_FORM.fullmatch(token):
        # It travels in an HTTP header: anything else could never be a token, so ListenBrainz is not asked.
        raise ListenBrainzTokenInvalidError(
            "A ListenBrainz token is printable ASCII without spaces (at most 200 characters).",
            details={"field": "listenbrainz_token"},
        )
    try:
        owner = listenbrainz.token_validate(token)
    except listenbrainz.ListenBrainzTokenRejectedError as exc:
        raise ListenBrainzTokenInvalidError(
            "ListenBrainz does not accept this token; copy the user token from your ListenBrainz settings page.",
            details={"field": "listenbrainz_token"},
        ) from exc
    except (listenbrainz.ListenBrainzUnavailableError, listenbrainz.ListenBrainzRefusedError) as exc:
        raise ListenBrainzUnreachableError(
            "ListenBrainz can't check the token right now; nothing was changed, try again later."
        ) from exc
    link, _ = ListenBrainzLink.objects.update_or_create(
        user=user,
        defaults={
            "ciphertext": secret_encrypt(token, purpose=LISTENBRAINZ_TOKEN_INFO),
            "listenbrainz_username": owner.username,
            "rejected_at": None,
        },
    )
    logger.info("listenbrainz connected: user=%s", user.pk)
    return link


def listenbrainz_token_reject(*, user_id: int) -> None:
    """ListenBrainz refused the stored token: stop sending until the user gives a new one (the profile says so)."""
    _link_reject(ListenBrainzLink, user_id=user_id)


def listenbrainz_token_for(*, user_id: int) -> str | None:
    """The token to send with, or None: not connected, refused, or unreadable after a key change (which counts
    as refused, so the user is told to set it again)."""
    return _link_secret(ListenBrainzLink, user_id=user_id, purpose=LISTENBRAINZ_TOKEN_INFO)


def _link_reject(model: type[ListenBrainzLink | LastFmLink], *, user_id: int) -> None:
    model.objects.filter(user_id=user_id, rejected_at__isnull=True).update(rejected_at=timezone.now())
    logger.warning("%s refused by its service: user=%s", model.__name__, user_id)


def _link_secret(model: type[ListenBrainzLink | LastFmLink], *, user_id: int, purpose: bytes) -> str | None:
    """The secret of the user's link to a scrobbling service that has not refused it; one that can no longer be
    decrypted counts as refused."""
    link = model.objects.filter(user_id=user_id, rejected_at__isnull=True).first()
    if link is None:
        return None
    try:
        return secret_decrypt(link.ciphertext, purpose=purpose)
    except SecretUnreadableError:
        _link_reject(model, user_id=user_id)
        return None


# ---------------------------------------------------------------------------------------------------------------
# Last.fm sessions
# ---------------------------------------------------------------------------------------------------------------
_LASTFM_STATE_SALT = "mcma.accounts.lastfm-authorize"
# How long the way from the profile through Last.fm's page and back may take.
LASTFM_AUTHORIZE_SECONDS = 3600
# Last.fm's tokens are 32 hexadecimal characters; anything far from that is not sent on.
LASTFM_TOKEN_FORM = re.compile(r"[0-9A-Za-z_-]{1,200}")
_LASTFM_NOT_CONFIGURED = (
    "Last.fm is not set up on this server: its administrator sets LASTFM_API_KEY and LASTFM_API_SECRET."
)
_LASTFM_STALE = "This return from Last.fm is not valid or is over an hour old; connect to Last.fm again."


def lastfm_authorize_start(*, user: User, callback: str) -> str:
    """The Last.fm page to send `user`'s browser to. Last.fm brings it back to `callback` with its token and a
    state naming the user (signed, good for LASTFM_AUTHORIZE_SECONDS), which `lastfm_authorize_finish` takes."""
    if not lastfm.configured():
        raise LastFmNotConfiguredError(_LASTFM_NOT_CONFIGURED)
    state = signing.dumps(user.pk, salt=_LASTFM_STATE_SALT)
    return lastfm.authorize_url(f"{callback}{'&' if '?' in callback else '?'}{urlencode({'state': state})}")


def lastfm_authorize_finish(*, state: str, token: str) -> LastFmLink:
    """Connect the user the state names to the Last.fm account that authorised `token`. Plays waiting for a valid
    session are sent by the next sweep."""
    if not lastfm.configured():
        raise LastFmNotConfiguredError(_LASTFM_NOT_CONFIGURED)
    try:
        user_id = signing.loads(state, salt=_LASTFM_STATE_SALT, max_age=LASTFM_AUTHORIZE_SECONDS)
    except signing.BadSignature as exc:  # forged, altered or expired
        raise LastFmAuthorizationInvalidError(_LASTFM_STALE, details={"field": "state"}) from exc
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        raise LastFmAuthorizationInvalidError(_LASTFM_STALE, details={"field": "state"})
    if not LASTFM_TOKEN_FORM.fullmatch(token):
        raise LastFmAuthorizationInvalidError(
            "Last.fm sent no usable token; connect to Last.fm again.", details={"field": "token"}
        )
    try:
        session = lastfm.session_get(token)
    except lastfm.LastFmSessionRejectedError as exc:
        raise LastFmAuthorizationInvalidError(
            "Last.fm did not authorise this server (declined, or its page was left open too long); connect again.",
            details={"field": "token"},
        ) from exc
    except (lastfm.LastFmUnavailableError, lastfm.LastFmRefusedError) as exc:
        raise LastFmUnreachableError(
            "Last.fm can't be reached right now; nothing was changed, connect again later."
        ) from exc
    link, _ = LastFmLink.objects.update_or_create(
        user=user,
        defaults={
            "ciphertext": secret_encrypt(session.key, purpose=LASTFM_SESSION_INFO),
            "lastfm_username": session.username,
            "rejected_at": None,
        },
    )
    logger.info("lastfm connected: user=%s", user.pk)
    return link


def lastfm_disconnect(*, user: User) -> None:
    LastFmLink.objects.filter(user=user).delete()
    logger.info("lastfm disconnected: user=%s", user.pk)


def lastfm_session_reject(*, user_id: int) -> None:
    """Last.fm refused the stored session (access revoked): stop sending until the user authorises again."""
    _link_reject(LastFmLink, user_id=user_id)


def lastfm_session_for(*, user_id: int) -> str | None:
    """The session key to sign with, or None: not connected, refused, unreadable after a key change (which counts
    as refused), or the server has no Last.fm API account any more."""
    return _link_secret(LastFmLink, user_id=user_id, purpose=LASTFM_SESSION_INFO) if lastfm.configured() else None
