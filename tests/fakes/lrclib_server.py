"""A fake LRCLIB on 127.0.0.1: `GET /api/get` answers from `songs` (keyed by (artist, title)) like the real service
(404 `TrackNotFound` for an unknown song), and can be told to answer 503, malformed JSON or slowly."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

from tests.fakes.serving import JsonHandler, served

Mode = Literal["normal", "down", "malformed", "slow"]


@dataclass
class FakeLrclib:
    base_url: str = ""
    songs: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    mode: Mode = "normal"
    slow_seconds: float = 2.0
    queries: list[dict[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _handler(fake: FakeLrclib) -> type[BaseHTTPRequestHandler]:
    class Handler(JsonHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            query = {key: values[0] for key, values in parse_qs(url.query).items()}
            with fake.lock:
                fake.queries.append(query)
            if fake.mode == "down":
                return self._answer(503, b'{"message": "down for maintenance"}')
            if fake.mode == "malformed":
                return self._answer(200, b'{"plainLyrics": "half an ans')
            if fake.mode == "slow":
                time.sleep(fake.slow_seconds)
            if url.path != "/api/get":
                return self._answer(404, b'{"code": 404, "name": "NotFound"}')
            song = fake.songs.get((query.get("artist_name", ""), query.get("track_name", "")))
            if song is None:
                body = {"code": 404, "name": "TrackNotFound", "message": "Failed to find specified track"}
                return self._answer(404, json.dumps(body).encode())
            return self._answer(200, json.dumps(song).encode())

    return Handler


@contextmanager
def lrclib_server() -> Iterator[FakeLrclib]:
    fake = FakeLrclib()
    with served(_handler(fake)) as base_url:
        fake.base_url = base_url
        yield fake
