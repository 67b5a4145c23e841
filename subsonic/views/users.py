"""User management. Anyone may read and change their own account; everything about others is admin only.

`changePassword` sets the login password (web UI and REST API). Subsonic clients authenticate with the separate
app-password shown in the user's profile, which this call leaves alone: a player can't rotate a secret it never
chose, and a login password sent through a Subsonic client (often as clear text) never becomes a player secret.
"""

from __future__ import annotations

from accounts import services as account_services
from accounts.models import User
from accounts.selectors import user_get_by_username, users_list
from subsonic import builders
from subsonic.auth import decode_password
from subsonic.call import Call, music_folders
from subsonic.errors import invalid_parameter
from subsonic.responses import Node

# Subsonic role parameter → mcma user flag.
ROLE_FLAGS = {
    "downloadRole": "can_download",
    "streamRole": "can_stream",
    "playlistRole": "can_edit_playlists",
    "shareRole": "can_share",
    "commentRole": "can_comment",
}
# createUser defaults per the Subsonic spec (roles not listed default to false).
CREATE_DEFAULTS = {"streamRole": True, "playlistRole": True, "downloadRole": False, "shareRole": False}


def _folders() -> list[int]:
    return list(music_folders())


def _target(call: Call) -> User:
    """The user named by `username`: oneself, or anyone for an admin (50 otherwise, before any lookup)."""
    username = call.params.required("username")
    if username != call.user.username:
        call.require_admin()
    return user_get_by_username(username=username)


def get_user(call: Call) -> Node:
    return builders.user(_target(call), _folders())


def get_users(call: Call) -> Node:
    call.require_admin()
    node = Node("users")
    folders = _folders()
    node.add_list("user", [builders.user(item, folders) for item in users_list()])
    return node


def _password(call: Call) -> str:
    password = decode_password(call.params.required("password"))
    if password is None:
        raise invalid_parameter("password", "malformed enc: hex")
    return password


def create_user(call: Call) -> None:
    call.require_admin()
    flags = {flag: call.params.flag(role, CREATE_DEFAULTS.get(role, False)) for role, flag in ROLE_FLAGS.items()}
    account_services.user_create(
        username=call.params.required("username"),
        password=_password(call),
        email=call.params.required("email"),
        is_admin=call.params.flag("adminRole", False),
        **flags,
    )


def update_user(call: Call) -> None:
    """Only the parameters present change (a partial update, as in the spec)."""
    call.require_admin()
    user = user_get_by_username(username=call.params.required("username"))
    fields: dict[str, object] = {
        flag: call.params.flag(role, False) for role, flag in ROLE_FLAGS.items() if role in call.params
    }
    if "adminRole" in call.params:
        fields["is_admin"] = call.params.flag("adminRole", False)
    if "email" in call.params:
        fields["email"] = call.params.text("email") or ""
    if "maxBitRate" in call.params:
        fields["max_bitrate"] = call.params.int_or("maxBitRate", 0, minimum=0)
    if fields:
        account_services.user_update(user=user, **fields)
    if "password" in call.params:
        account_services.user_password_set(user=user, password=_password(call))


def delete_user(call: Call) -> None:
    call.require_admin()
    account_services.user_delete(user=user_get_by_username(username=call.params.required("username")))


def change_password(call: Call) -> None:
    account_services.user_password_set(user=_target(call), password=_password(call))
