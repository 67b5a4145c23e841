"""A local HTTP media server for yt-dlp's generic extractor: real audio, covers, and failure routes.

Routes (also reachable through `serve_media()` from other fake servers, e.g. YouTube Music's `/watch?v=`):
  /media/<name>        the registered bytes with their content type (audio or image)
  /status/<code>       an empty answer with that HTTP status (429, 503, 404...)
  /truncated/<name>    announces the full Content-Length, sends half, closes the connection
  /slow/<name>         sends the file in small chunks with pauses (cancel, timeout and relay tests)
  /slowcut/<name>      like /slow, but hangs up half-way (a download failing while it is relayed)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

_MIME_BY_SUFFIX = {
    ".opus": "audio/ogg",
    ".ogg": "audio/ogg",
    ".mp3": "audio/mpeg",
    ".m4a": "audio/mp4",
    ".flac": "audio/flac",
    ".jpg": "image/jpeg",
    ".png": "image/png",
}


@dataclass
class MediaStore:
    """What the server can serve, and a record of what was asked for."""

    files: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    slow_chunk: int = 2048
    slow_pause: float = 0.05
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add_file(self, name: str, path: Path, mime: str | None = None) -> None:
        self.files[name] = (path.read_bytes(), mime or _MIME_BY_SUFFIX.get(path.suffix, "application/octet-stream"))

    def count(self, prefix: str) -> int:
        with self.lock:
            return sum(1 for r in self.requests if r.startswith(prefix))


def serve_media(handler: BaseHTTPRequestHandler, store: MediaStore, route: str, name: str) -> None:
    """Answer `handler` according to `route` ("media", "status", "truncated", "slow") for the file `name`."""
    with store.lock:
        store.requests.append(f"/{route}/{name}")
    if route == "status":
        code = int(name) if name.isdigit() else 500
        body = b"<html><body>error</body></html>"
        handler.send_response(code)
        handler.send_header("Content-Type", "text/html")
        handler.send_header("Content-Length", str(len(body)))
        if code == 429:
            handler.send_header("Retry-After", "3600")
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(body)
        return
    if name not in store.files:
        handler.send_error(404, "no such media")
        return
    data, mime = store.files[name]
    handler.send_response(200)
    handler.send_header("Content-Type", mime)
    handler.send_header("Content-Length", str(len(data)))
    handler.send_header("Accept-Ranges", "none")
    handler.end_headers()
    if handler.command == "HEAD":
        return
    try:
        if route == "truncated":
            handler.wfile.write(data[: len(data) // 2])
            handler.wfile.flush()
            handler.close_connection = True
        elif route in ("slow", "slowcut"):
            stop = len(data) // 2 if route == "slowcut" else len(data)
            for start in range(0, stop, store.slow_chunk):
                handler.wfile.write(data[start : min(stop, start + store.slow_chunk)])
                handler.wfile.flush()
                time.sleep(store.slow_pause)
            if route == "slowcut":
                handler.close_connection = True
        else:
            handler.wfile.write(data)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the client gave up (cancelled download): nothing left to send


class _MediaHandler(BaseHTTPRequestHandler):
    server: _MediaHTTPServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        parts = self.path.split("?")[0].strip("/").split("/", 1)
        if len(parts) != 2 or parts[0] not in ("media", "status", "truncated", "slow", "slowcut"):
            self.send_error(404, "unknown route")
            return
        serve_media(self, self.server.store, parts[0], parts[1])


class _MediaHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # clients that hang up mid-answer (cancelled downloads, timeouts) are expected here

    def __init__(self, store: MediaStore) -> None:
        super().__init__(("127.0.0.1", 0), _MediaHandler)
        self.store = store


@dataclass
class RunningMediaServer:
    store: MediaStore
    base_url: str

    def url(self, route: str, name: str) -> str:
        return f"{self.base_url}/{route}/{name}"


@contextmanager
def media_server(store: MediaStore | None = None) -> Iterator[RunningMediaServer]:
    server = _MediaHTTPServer(store or MediaStore())
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="fake-media-server", daemon=True)
    thread.start()
    try:
        yield RunningMediaServer(store=server.store, base_url=f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
