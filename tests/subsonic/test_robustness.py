"""Every route, fed nothing and fed junk, answers a Subsonic document that is not the internal-error fallback."""

from __future__ import annotations

from typing import Any

import pytest

from subsonic.routes import ROUTES
from tests.subsonic.conftest import Library
from tests.subsonic.support import SubsonicClient

JUNK: dict[str, Any] = {
    "id": ["x", "tr-", "al-1e9", "pl-999999999999999999999"],
    "albumId": "al--1",
    "artistId": "%00",
    "songId": "tr-abc",
    "playlistId": "pl-0",
    "type": "byYear",
    "size": "9999999999999999999999",
    "count": "-1",
    "offset": "1.5",
    "fromYear": "x",
    "toYear": "1999",
    "genre": "\u0000",
    "query": "%_\\",
    "time": "99999999999999999",
    "position": "-1",
    "current": "zz",
    "currentIndex": "-3",
    "rating": "9",
    "submission": "perhaps",
    "username": "../../etc",
    "password": "enc:0",
    "email": "not-an-email",
    "name": "",
    "streamUrl": "ftp://x",
    "expires": "-5",
    "musicFolderId": "0",
    "ifModifiedSince": "abc",
    "songIndexToRemove": "-1",
    "public": "maybe",
    "artist": "",
    "title": "",
}


def test_no_route_crashes(admin_api: SubsonicClient, library: Library, caplog: pytest.LogCaptureFixture) -> None:
    """One test over the whole table (one fixture set-up instead of eighty); failures name every bad route."""
    crashed = []
    for method in sorted(ROUTES):
        params: dict[str, Any]
        for params in ({}, JUNK):
            reply = admin_api.call(method, "json", validate=False, **params)
            if not reply.response["Content-Type"].startswith("application/json"):
                continue  # a binary answer (stream, cover) to parameters that happened to be valid
            body = reply.body
            if body["status"] not in ("ok", "failed") or (
                body["status"] == "failed" and body["error"]["message"] == "Internal server error"
            ):
                crashed.append((method, "junk" if params else "no params"))
    assert crashed == []
    assert not [r.getMessage() for r in caplog.records if r.name == "subsonic.dispatch"]
