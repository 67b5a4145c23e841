"""getUser(s), createUser, updateUser, deleteUser, changePassword: self-service vs admin rules."""

from __future__ import annotations

from accounts.models import User
from tests.subsonic.support import SubsonicClient


def test_get_own_user(api: SubsonicClient, user: User, fmt: str) -> None:
    reply = api.call("getUser", fmt, username="alice")
    info = reply.one("user")
    assert info["username"] == "alice"
    assert info["adminRole"] == "false"
    assert info["streamRole"] == "true"
    assert info["shareRole"] == "false"
    assert reply.values("user", "folder") == ["1"]  # YouTube is disabled by default: no folder


def test_other_users_need_admin(api: SubsonicClient, admin: User, fmt: str) -> None:
    assert api.call("getUser", fmt, username="root").error_code == 50
    assert api.call("getUsers", fmt).error_code == 50
    assert api.call("getUser", fmt).error_code == 10


def test_admin_reads_everyone(admin_api: SubsonicClient, user: User, fmt: str) -> None:
    assert admin_api.call("getUser", fmt, username="alice").one("user")["username"] == "alice"
    names = [u["username"] for u in admin_api.call("getUsers", fmt).items("users", "user")]
    assert names == ["alice", "root"]
    assert admin_api.call("getUser", fmt, username="ghost").error_code == 70


def test_create_update_delete(admin_api: SubsonicClient, fmt: str) -> None:
    created = admin_api.call(
        "createUser",
        fmt,
        http="post",
        username="carol",
        password="enc:" + b"a long enough secret".hex(),
        email="carol@example.test",
        shareRole="true",
        downloadRole="true",
    )
    assert created.ok, created.body
    carol = User.objects.get(username="carol")
    assert carol.check_password("a long enough secret")
    assert carol.can_share
    assert carol.can_download
    assert carol.can_stream
    assert not carol.is_admin
    updated = admin_api.call("updateUser", fmt, username="carol", streamRole="false", maxBitRate=192, adminRole="true")
    assert updated.ok
    carol.refresh_from_db()
    assert not carol.can_stream
    assert carol.max_bitrate == 192
    assert carol.is_admin
    assert carol.can_share  # untouched by a partial update
    assert admin_api.call("deleteUser", fmt, username="carol").ok
    assert not User.objects.filter(username="carol").exists()


def test_user_management_errors(admin_api: SubsonicClient, api: SubsonicClient, admin: User, fmt: str) -> None:
    assert api.call("createUser", fmt, username="x", password="long secret 123", email="x@x.test").error_code == 50
    assert api.call("deleteUser", fmt, username="root").error_code == 50
    assert admin_api.call("createUser", fmt, username="x", password="long secret 123").error_code == 10
    taken = admin_api.call("createUser", fmt, username="alice", password="long secret 123", email="a@a.test")
    assert taken.error_code == 0
    assert admin_api.call("createUser", fmt, username="y", password="short", email="y@y.test").error_code == 0
    assert admin_api.call("deleteUser", fmt, username="root").error_code == 0  # the last admin stays
    assert admin_api.call("updateUser", fmt, username="ghost").error_code == 70


def test_change_password_sets_the_login_password_only(api: SubsonicClient, user: User, fmt: str) -> None:
    assert api.call("changePassword", fmt, username="alice", password="a brand new passphrase").ok
    user.refresh_from_db()
    assert user.check_password("a brand new passphrase")
    assert api.call("ping", fmt).ok  # the Subsonic app-password keeps working


def test_change_password_rules(api: SubsonicClient, admin_api: SubsonicClient, user: User, fmt: str) -> None:
    assert api.call("changePassword", fmt, username="root", password="another long one").error_code == 50
    assert admin_api.call("changePassword", fmt, username="alice", password="set by the admin").ok
    assert api.call("changePassword", fmt, username="alice", password="enc:xyz").error_code == 0
    assert api.call("changePassword", fmt, username="alice").error_code == 10
