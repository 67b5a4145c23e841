"""gunicorn settings for `make run` and the Docker image: `gunicorn mcma.wsgi -c python:mcma.gunicorn_config`.

Every value comes from the environment, with the embedded default's values. The access log masks credentials
(mcma.access_log), and the start-up banner prints the URLs a phone on the LAN would use.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from mcma.network import listen_address, server_urls

BIND_ADDRESS, PORT = listen_address()

bind = [f"[{BIND_ADDRESS}]:{PORT}" if ":" in BIND_ADDRESS else f"{BIND_ADDRESS}:{PORT}"]
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("WEB_THREADS", "4"))
timeout = 120
accesslog = "-"
logger_class = "mcma.access_log.MaskingLogger"
# Nothing uses gunicornc, and its socket would live in the home dir, shared by every instance of the user's.
control_socket_disable = True


def when_ready(_server: Any) -> None:
    lines = ["mcma is ready. Point a Subsonic player or a browser at:"]
    lines += [f"  {url}" for url in server_urls(BIND_ADDRESS, PORT)]
    lines.append("(admin at /admin/, Subsonic API at /rest, REST API docs at /api/docs/)")
    print("\n".join(lines), file=sys.stderr, flush=True)
