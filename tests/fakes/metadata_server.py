"""Fake AcoustID (`POST /v2/lookup`) and MusicBrainz (`GET /ws/2/recording/<id>`) on 127.0.0.1, answering in the
shapes the real services document (recorded below), and able to answer 503, malformed JSON or slowly.

AcoustID answers a match only for a fingerprint registered in `fingerprints` (the real fpcalc output of a test
file), so a test proves the file was really fingerprinted. Every request is recorded with its arrival time and
User-Agent, which is how the tests check the shared one-request-per-second limit.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fakes.serving import JsonHandler, served

RECORDING_ID = "b1a9c0e9-d987-4042-ae91-78d6a3267d69"
RELEASE_ID = "f5093c06-23e3-404f-aeaa-40f72885ee3a"
OTHER_RELEASE_ID = "3d4b5c6a-0000-4000-8000-000000000002"
RELEASE_GROUP_ID = "1b022e01-4da6-387b-8658-8678046e4cef"
ARTIST_ID = "a74b1b7f-71a5-4011-9441-d0b5e4122711"


def recording_record(recording_id: str = RECORDING_ID, *, title: str = "Paranoid Android") -> dict[str, Any]:
    """A recording as ws/2 answers `?inc=artists+artist-credits+releases+release-groups+media+isrcs+genres`."""
    credit = [{"name": "Radiohead", "joinphrase": "", "artist": {"id": ARTIST_ID, "name": "Radiohead"}}]
    return {
        "id": recording_id,
        "title": title,
        "length": 387000,
        "artist-credit": credit,
        "isrcs": ["GBAYE9700012"],
        "genres": [{"name": "alternative rock", "count": 12}, {"name": "art rock", "count": 7}],
        "releases": [
            {
                "id": OTHER_RELEASE_ID,
                "title": "Paranoid Android",
                "status": "Official",
                "date": "1997-05-26",
                "artist-credit": credit,
                "release-group": {
                    "id": "9e2c1c8a-0000-4000-8000-000000000003",
                    "primary-type": "Single",
                    "secondary-types": [],
                    "first-release-date": "1997-05-26",
                },
                "media": [
                    {"position": 1, "track-count": 3, "tracks": [{"id": "t-single", "number": "1", "position": 1}]}
                ],
            },
            {
                "id": RELEASE_ID,
                "title": "OK Computer",
                "status": "Official",
                "date": "1997-06-16",
                "artist-credit": credit,
                "release-group": {
                    "id": RELEASE_GROUP_ID,
                    "primary-type": "Album",
                    "secondary-types": [],
                    "first-release-date": "1997-05-21",
                },
                "media": [
                    {
                        "position": 1,
                        "format": "CD",
                        "track-count": 12,
                        "track-offset": 1,
                        "tracks": [
                            {
                                "id": "e9a9e8f5-0000-4000-8000-000000000004",
                                "number": "2",
                                "position": 2,
                                "title": title,
                                "length": 387000,
                            }
                        ],
                    }
                ],
            },
        ],
    }


@dataclass
class FakeMetadataServices:
    base_url: str = ""
    fingerprints: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # fingerprint → AcoustID results
    recordings: dict[str, dict[str, Any]] = field(default_factory=dict)  # MusicBrainz id → recording record
    down_for: int = 0  # the next N requests get a 503
    malformed_for: int = 0  # the next N requests get a body that is not JSON
    slow_seconds: float = 0.0  # every answer waits this long first
    requests: list[tuple[float, str, str]] = field(default_factory=list)  # (time.time(), path, User-Agent)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def match(self, fingerprint: str, recording_id: str = RECORDING_ID, *, score: float = 0.97) -> None:
        self.fingerprints[fingerprint] = [{"id": "acoustid-1", "score": score, "recordings": [{"id": recording_id}]}]

    def hits(self, prefix: str) -> list[tuple[float, str, str]]:
        with self.lock:
            return [hit for hit in self.requests if hit[1].startswith(prefix)]


def _handler(fake: FakeMetadataServices) -> type[BaseHTTPRequestHandler]:
    class Handler(JsonHandler):
        def _fault(self) -> bool:
            with fake.lock:
                fake.requests.append((time.time(), urlsplit(self.path).path, self.headers.get("User-Agent", "")))
                down = fake.down_for > 0
                fake.down_for -= down
                malformed = not down and fake.malformed_for > 0
                fake.malformed_for -= malformed
            if fake.slow_seconds:
                time.sleep(fake.slow_seconds)
            if down:
                self._answer(503, {"error": "Your requests are exceeding the allowable rate limit."})
            elif malformed:
                self._answer(200, b"<html>502 Bad Gateway</html>")
            return down or malformed

        def do_GET(self) -> None:
            if self._fault():
                return
            parts = urlsplit(self.path)
            prefix = "/ws/2/recording/"
            if not parts.path.startswith(prefix) or parse_qs(parts.query).get("fmt") != ["json"]:
                return self._answer(400, {"error": "Invalid request"})
            record = fake.recordings.get(parts.path.removeprefix(prefix))
            if record is None:
                return self._answer(404, {"error": "Not Found"})
            return self._answer(200, record)

        def do_POST(self) -> None:
            form = parse_qs(self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode())
            if self._fault():
                return
            if urlsplit(self.path).path != "/v2/lookup":
                return self._answer(404, {"status": "error", "error": {"code": 1, "message": "unknown method"}})
            if form.get("client") != ["test-key"]:
                return self._answer(400, {"status": "error", "error": {"code": 4, "message": "invalid API key"}})
            fingerprint = (form.get("fingerprint") or [""])[0]
            return self._answer(200, {"status": "ok", "results": fake.fingerprints.get(fingerprint, [])})

    return Handler


@contextmanager
def metadata_server() -> Iterator[FakeMetadataServices]:
    fake = FakeMetadataServices()
    with served(_handler(fake)) as base_url:
        fake.base_url = base_url
        yield fake
