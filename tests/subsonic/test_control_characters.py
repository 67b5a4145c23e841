"""NUL and other C0 controls in Subsonic parameters: refused by `subsonic.params` before any database sees them
(PostgreSQL cannot store NUL in text and answered a 500-style error 0). Error 10 names the parameter; a username
holding one is error 40, answered without a query. Run this file on SQLite and on PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from library.models import Bookmark, InternetRadioStation, Playlist, Share
from tests.subsonic.conftest import Library, client_for
from tests.subsonic.support import SubsonicClient, parse

pytestmark = [pytest.mark.django_db, pytest.mark.security]

NUL = "ali\x00ce"


@pytest.fixture
def boss(admin: User) -> SubsonicClient:
    """An admin who may also share, so every method below reaches the parameter under test."""
    User.objects.filter(pk=admin.pk).update(can_share=True)
    admin.refresh_from_db()
    return client_for(admin)


def _calls(library: Library) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, the parameter holding the control character, the other parameters the method needs)."""
    song = f"tr-{library.tracks[0].pk}"
    return [
        ("search2", "query", {}),
        ("search3", "query", {}),
        ("getRandomSongs", "genre", {}),
        ("getSongsByGenre", "genre", {}),
        ("getTopSongs", "artist", {}),
        ("getLyrics", "artist", {"title": "Something"}),
        ("getLyrics", "title", {"artist": "The Beatles"}),
        ("createPlaylist", "name", {"songId": song}),
        ("createBookmark", "comment", {"id": song, "position": 1000}),
        ("createShare", "description", {"id": song}),
        ("createUser", "username", {"password": "pw", "email": "new@example.test"}),
        ("createInternetRadioStation", "name", {"streamUrl": "http://radio.example.test/stream"}),
        ("getAlbumList2", "type", {}),
        ("getArtist", "id", {}),
    ]


@pytest.mark.parametrize("http", ["get", "post"])
@pytest.mark.parametrize("control", ["\x00", "\x01", "\x1b", "\x1f"])
def test_every_listed_parameter_refuses_control_characters(
    boss: SubsonicClient, library: Library, http: str, control: str
) -> None:
    for method, name, others in _calls(library):
        reply = boss.call(method, "json", http=http, **{name: f"bad{control}value", **others})

        assert (method, reply.error_code) == (method, 10)
        assert f"'{name}'" in reply.error_message
        assert "control character" in reply.error_message
    assert not Playlist.objects.exists()
    assert not Bookmark.objects.exists()
    assert not Share.objects.exists()
    assert not InternetRadioStation.objects.exists()
    assert not User.objects.filter(email="new@example.test").exists()


def test_tab_newline_and_return_stay_allowed_in_free_text(boss: SubsonicClient, library: Library) -> None:
    reply = boss.call(
        "createBookmark", "json", id=f"tr-{library.tracks[0].pk}", position=5, comment="line one\r\n\tline two"
    )

    assert reply.ok
    assert Bookmark.objects.get().comment == "line one\r\n\tline two"


@pytest.mark.parametrize("http", ["get", "post"])
@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_a_username_with_nul_is_wrong_credentials_without_a_query(user: User, http: str, fmt: str) -> None:
    anonymous = SubsonicClient(Client(), NUL, "whatever")

    with CaptureQueriesContext(connection) as queries:
        reply = anonymous.call("ping", fmt, http=http)

    assert (reply.error_code, reply.error_message) == (40, "Wrong username or password")
    assert not queries.captured_queries


@pytest.mark.parametrize("name", ["c", "f", "v", "callback", "p", "t", "s", "apiKey"])
def test_control_characters_in_protocol_parameters_are_error_10(api: SubsonicClient, name: str) -> None:
    params = {"v": "1.16.1", "c": "pytest", **api.auth_params(), name: "x\x00y"}
    if name == "apiKey":
        params = {"v": "1.16.1", "c": "pytest", "apiKey": "x\x00y"}
    if name == "callback":
        params["f"] = "jsonp"
    response = api.raw("ping", **params)

    reply = parse("ping", "xml", response, validate=False)
    assert reply.error_code == 10
    assert f"'{name}'" in reply.error_message


def test_a_multipart_form_body_is_checked_the_same_way(api: SubsonicClient) -> None:
    response = api.client.post("/rest/search3", {"v": "1.16.1", "c": "pytest", **api.auth_params(), "query": NUL})

    reply = parse("search3", "xml", response, validate=False)
    assert (reply.error_code, "'query'" in reply.error_message) == (10, True)
