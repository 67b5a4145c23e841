"""A database that cannot answer gives players a Subsonic error document with a clear message, never a hang, an
HTML 500 or the driver's text."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import OperationalError

from library import selectors
from tests.subsonic.support import SubsonicClient


def test_a_database_that_cannot_answer_is_an_error_document(
    api: SubsonicClient, fmt: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def database_gone(**_kwargs: Any) -> Any:
        raise OperationalError('connection to server at "10.9.8.7", port 6543 failed: timeout expired')

    monkeypatch.setattr(selectors, "album_list", database_gone)

    reply = api.call("getAlbumList2", fmt, type="newest")

    assert reply.error_code == 0
    assert reply.error_message == "The database is unavailable; try again in a moment."
    assert "Traceback" not in caplog.text
    assert "10.9.8.7" in caplog.text


def test_a_redis_cache_that_cannot_answer_is_an_error_document(api: SubsonicClient, fmt: str, settings: Any) -> None:
    # Nothing listens on port 1: the login throttle's counters (in the cache) cannot be read.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_timeout": 0.5, "socket_connect_timeout": 0.5},
        }
    }

    reply = api.call("ping", fmt)

    assert reply.error_code == 0
    assert reply.error_message == "The cache is unavailable; try again in a moment."
