"""A fake ListenBrainz API on 127.0.0.1: `GET /1/validate-token` and `POST /1/submit-listens`, answering like the
real service (401 for an unknown token, `{"valid": false}` from validate-token), recording every submission, and
able to be "down" (503) for the next N calls."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fakes.serving import JsonHandler, served


@dataclass
class FakeListenBrainz:
    base_url: str = ""
    tokens: dict[str, str] = field(default_factory=dict)  # token → ListenBrainz user name
    submissions: list[dict[str, Any]] = field(default_factory=list)  # bodies accepted, in order
    down_for: int = 0  # the next N calls get a 503
    calls: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def listens(self, listen_type: str) -> list[dict[str, Any]]:
        with self.lock:
            return [item for body in self.submissions if body["listen_type"] == listen_type for item in body["payload"]]


def _handler(fake: FakeListenBrainz) -> type[BaseHTTPRequestHandler]:
    class Handler(JsonHandler):
        def _user(self) -> str | None:
            header = self.headers.get("Authorization", "")
            return fake.tokens.get(header.removeprefix("Token ")) if header.startswith("Token ") else None

        def _down(self) -> bool:
            with fake.lock:
                fake.calls += 1
                if fake.down_for > 0:
                    fake.down_for -= 1
                    return True
            return False

        def do_GET(self) -> None:
            if self._down():
                return self._answer(503, {"code": 503, "error": "down for maintenance"})
            if self.path != "/1/validate-token":
                return self._answer(404, {"code": 404, "error": "not found"})
            user = self._user()
            if user is None:
                return self._answer(200, {"code": 200, "message": "Token invalid.", "valid": False})
            return self._answer(200, {"code": 200, "message": "Token valid.", "valid": True, "user_name": user})

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
            if self._down():
                return self._answer(503, {"code": 503, "error": "down for maintenance"})
            if self.path != "/1/submit-listens":
                return self._answer(404, {"code": 404, "error": "not found"})
            if self._user() is None:
                return self._answer(401, {"code": 401, "error": "Invalid authorization token."})
            if body.get("listen_type") not in {"single", "playing_now", "import"} or not body.get("payload"):
                return self._answer(400, {"code": 400, "error": "Invalid JSON document submitted."})
            with fake.lock:
                fake.submissions.append(body)
            return self._answer(200, {"status": "ok"})

    return Handler


@contextmanager
def listenbrainz_server() -> Iterator[FakeListenBrainz]:
    fake = FakeListenBrainz()
    with served(_handler(fake)) as base_url:
        fake.base_url = base_url
        yield fake
