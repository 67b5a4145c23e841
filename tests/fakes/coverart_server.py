"""A fake Cover Art Archive on 127.0.0.1: `GET /release/<mbid>/front-1200` redirects (307, like the real one) to
the image in `fronts`, 404 for a release without art; it can be told to answer 503, slowly, or with a page that
is not an image."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, Literal

from tests.fakes.serving import served

Mode = Literal["normal", "down", "not_image", "slow"]


@dataclass
class FakeCoverArchive:
    base_url: str = ""
    fronts: dict[str, bytes] = field(default_factory=dict)  # release id → JPEG bytes
    mode: Mode = "normal"
    down_for: int = 0  # the next N requests get a 503 whatever the mode
    slow_seconds: float = 2.0
    requests: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _handler(fake: FakeCoverArchive) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return None

        def _answer(self, code: int, body: bytes, content_type: str, location: str = "") -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            if location:
                self.send_header("Location", location)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            with fake.lock:
                fake.requests.append(self.path)
                down = fake.mode == "down" or fake.down_for > 0
                fake.down_for -= fake.down_for > 0
            if down:
                return self._answer(503, b"<html>Service Unavailable</html>", "text/html")
            if fake.mode == "slow":
                time.sleep(fake.slow_seconds)
            parts = self.path.strip("/").split("/")
            if len(parts) == 3 and parts[0] == "release" and parts[2] == "front-1200":
                if parts[1] not in fake.fronts:
                    return self._answer(404, b"Not Found", "text/plain")
                return self._answer(307, b"", "text/plain", location=f"{fake.base_url}/images/{parts[1]}.jpg")
            if len(parts) == 2 and parts[0] == "images":
                if fake.mode == "not_image":
                    return self._answer(200, b"<html>an error page, not a picture</html>", "image/jpeg")
                return self._answer(200, fake.fronts[parts[1].removesuffix(".jpg")], "image/jpeg")
            return self._answer(400, b"bad request", "text/plain")

    return Handler


@contextmanager
def coverart_server() -> Iterator[FakeCoverArchive]:
    fake = FakeCoverArchive()
    with served(_handler(fake)) as base_url:
        fake.base_url = base_url
        yield fake
