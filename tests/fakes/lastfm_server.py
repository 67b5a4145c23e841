"""A fake Last.fm on 127.0.0.1: the authorisation page (`/api/auth/`, where "the user allows" by being redirected
back to `cb` with a new token) and the web service (`/2.0/`: auth.getSession, track.updateNowPlaying,
track.scrobble), checking the API key and every signature as Last.fm does, answering its error codes (14 for a
token nobody authorised, 9 for an unknown session key), recording every submission, and able to be "down" (error
16, HTTP 503) for the next N calls or to ignore the next scrobbles."""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qsl, urlencode, urlsplit

from tests.fakes.serving import JsonHandler, served

API_KEY = "fake-api-key"
API_SECRET = "fake-shared-secret"


@dataclass
class FakeLastFm:
    base_url: str = ""
    user: str = "alice-fm"  # who "allows" on the authorisation page
    authorised: dict[str, str] = field(default_factory=dict)  # token → the user who allowed it
    sessions: dict[str, str] = field(default_factory=dict)  # session key → user
    scrobbles: list[dict[str, str]] = field(default_factory=list)  # track.scrobble parameters, in order
    now_playing: list[dict[str, str]] = field(default_factory=list)
    down_for: int = 0  # the next N web-service calls get error 16
    ignore_scrobbles: int = 0  # the next N scrobbles are answered "ignored"
    calls: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/2.0/"

    @property
    def auth_url(self) -> str:
        return f"{self.base_url}/api/auth/"


def _signature(params: dict[str, str]) -> str:
    text = "".join(f"{name}{params[name]}" for name in sorted(params) if name not in {"format", "api_sig"})
    return hashlib.md5((text + API_SECRET).encode(), usedforsecurity=False).hexdigest()


def _handler(fake: FakeLastFm) -> type[BaseHTTPRequestHandler]:
    class Handler(JsonHandler):
        def _error(self, code: int, error: int, message: str) -> None:
            self._answer(code, {"error": error, "message": message})

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            params = dict(parse_qsl(url.query))
            if url.path == "/api/auth/":
                return self._authorise(params)
            return self._service(params)

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
            return self._service(dict(parse_qsl(body)))

        def _authorise(self, params: dict[str, str]) -> None:
            """The user allows at once: back to `cb` with a fresh token, as Last.fm adds it."""
            if params.get("api_key") != API_KEY or not params.get("cb"):
                return self._error(400, 10, "Invalid API key")
            token = secrets.token_hex(16)
            with fake.lock:
                fake.authorised[token] = fake.user
            callback = params["cb"]
            self.send_response(302)
            self.send_header("Location", f"{callback}{'&' if '?' in callback else '?'}{urlencode({'token': token})}")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _service(self, params: dict[str, str]) -> None:
            with fake.lock:
                fake.calls += 1
                if fake.down_for > 0:
                    fake.down_for -= 1
                    return self._error(503, 16, "There was a temporary error processing your request.")
            if params.get("format") != "json":
                return self._error(400, 6, "This test double answers JSON only")
            if params.get("api_key") != API_KEY:
                return self._error(403, 10, "Invalid API key - You must be granted a valid key by last.fm")
            if params.get("api_sig") != _signature(params):
                return self._error(403, 13, "Invalid method signature supplied")
            method = params.get("method")
            if method == "auth.getSession":
                with fake.lock:
                    user = fake.authorised.pop(params.get("token", ""), None)
                    if user is None:
                        return self._error(403, 14, "Unauthorized Token - This token has not been authorized")
                    key = secrets.token_hex(16)
                    fake.sessions[key] = user
                return self._answer(200, {"session": {"name": user, "key": key, "subscriber": 0}})
            if method not in {"track.updateNowPlaying", "track.scrobble"} or self.command != "POST":
                return self._error(400, 3, "Invalid Method - No method with that name in this package")
            if params.get("sk") not in fake.sessions:
                return self._error(403, 9, "Invalid session key - Please re-authenticate")
            if method == "track.updateNowPlaying":
                with fake.lock:
                    fake.now_playing.append(params)
                return self._answer(200, {"nowplaying": {"track": {"#text": params.get("track", "")}}})
            with fake.lock:
                ignored = fake.ignore_scrobbles > 0
                fake.ignore_scrobbles -= ignored
                if not ignored:
                    fake.scrobbles.append(params)
            message = {"code": "3", "#text": "Timestamp too old"} if ignored else {"code": "0", "#text": ""}
            counts = {"accepted": 0 if ignored else 1, "ignored": 1 if ignored else 0}
            return self._answer(200, {"scrobbles": {"@attr": counts, "scrobble": {"ignoredMessage": message}}})

    return Handler


@contextmanager
def lastfm_server() -> Iterator[FakeLastFm]:
    fake = FakeLastFm()
    with served(_handler(fake)) as base_url:
        fake.base_url = base_url
        yield fake
