"""The one door for HTTP calls to the metadata services the library asks (AcoustID, MusicBrainz, the Cover Art
Archive, LRCLIB): one User-Agent, one timeout rule, one retry rule and one reading of what an answer means, so
each service's module only maps its own fields.

- Each attempt has the caller's timeout (for connecting and for each read). Redirects are followed (the Cover Art
  Archive answers every image with one); bodies are read up to a limit, so a broken mirror cannot fill memory.
- A timeout, a refused connection, a 429 or a 5xx is retried METADATA_HTTP_RETRIES times, after
  METADATA_RETRY_BASE_SECONDS * 2**n (or the answer's Retry-After when longer). When the retries run out the caller
  gets its `unavailable` error with a `retry_after` (at least METADATA_PAUSE_SECONDS), which its task waits
  before coming back; a service with a shared rate slot (`interval`) is also paused for every process.
- A 404 is "nothing there" (None); another 4xx is `RemoteRefusedError`, and an answer larger than the limit or a
  2xx that is not a JSON object `RemoteMalformedError`, neither retried: the same question would get the same
  answer.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import requests
from django.conf import settings

import mcma
from library.ratelimit import SlotUnavailableError, service_pause, slot_take


def user_agent() -> str:
    """What every metadata service is told about the caller (MusicBrainz asks for a contact)."""
    return f"mcma/{mcma.__version__} ( {settings.METADATA_CONTACT} )"


class RemoteUnavailableError(Exception):
    """No usable answer (down, timed out, rate limited, 5xx): the same call may work after `retry_after` s."""

    def __init__(self, message: str, *, retry_after: float = 0.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RemoteRefusedError(Exception):
    """A 4xx other than 404/429: asking again the same way will never work."""


class RemoteMalformedError(Exception):
    """A successful answer that is not the JSON object the service documents."""


Unavailable = Callable[..., Exception]  # called as unavailable(message, retry_after=seconds)

_JSON_LIMIT = 4 * 1024 * 1024


def get_json(
    url: str,
    *,
    service: str,
    timeout: float,
    params: dict[str, Any] | None = None,
    method: str = "GET",
    interval: float | None = None,
    unavailable: Unavailable = RemoteUnavailableError,
) -> dict[str, Any] | None:
    """The JSON object answered to `method url` (params as a query for GET, a form body otherwise), or None
    for a 404. `interval`: the service's shared rate slot, in seconds between calls over all processes."""
    status, _type, body = _answer(
        url,
        service=service,
        method=method,
        params=params,
        timeout=timeout,
        limit=_JSON_LIMIT,
        interval=interval,
        unavailable=unavailable,
        accept="application/json",
    )
    if status == 404:
        return None
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise RemoteMalformedError(f"{service} answered something that is not JSON") from exc
    if not isinstance(data, dict):
        raise RemoteMalformedError(f"{service} answered JSON that is not an object")
    return data


def get_bytes(
    url: str, *, service: str, timeout: float, limit: int, unavailable: Unavailable = RemoteUnavailableError
) -> tuple[bytes, str] | None:
    """(body, content type) at `url`, or None for a 404."""
    status, content_type, body = _answer(
        url,
        service=service,
        method="GET",
        params=None,
        timeout=timeout,
        limit=limit,
        interval=None,
        unavailable=unavailable,
        accept="*/*",
    )
    return None if status == 404 else (body, content_type)


def _answer(
    url: str,
    *,
    service: str,
    method: str,
    params: dict[str, Any] | None,
    timeout: float,
    limit: int,
    interval: float | None,
    unavailable: Unavailable,
    accept: str,
) -> tuple[int, str, bytes]:
    """(status, content type, body) of a 2xx or 404 answer, after the retry rule."""
    retries = max(settings.METADATA_HTTP_RETRIES, 0)
    problem, retry_after = "", 0.0
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(max(retry_after, settings.METADATA_RETRY_BASE_SECONDS * 2 ** (attempt - 1)))
        if interval is not None:
            try:
                slot_take(service=service, interval=interval)
            except SlotUnavailableError as exc:
                raise unavailable(str(exc), retry_after=exc.retry_after) from exc
        try:
            response = requests.request(
                method,
                url,
                params=params if method == "GET" else None,
                data=params if method != "GET" else None,
                headers={"User-Agent": user_agent(), "Accept": accept},
                timeout=timeout,
                allow_redirects=True,
                stream=True,
            )
            with response:
                status = response.status_code
                if status == 429 or status >= 500:
                    problem, retry_after = f"HTTP {status}", _retry_after(response)
                    continue
                body = _body(response, limit=limit)
        except requests.RequestException as exc:
            problem, retry_after = type(exc).__name__, 0.0
            continue
        if status != 404 and status >= 300:
            raise RemoteRefusedError(f"{service} refused the request: HTTP {status}")
        return status, response.headers.get("Content-Type", "").split(";")[0].strip().lower(), body
    pause = max(retry_after, float(settings.METADATA_PAUSE_SECONDS))
    if interval is not None:
        service_pause(service=service, seconds=pause)
    raise unavailable(f"{service} unavailable: {problem} after {retries + 1} attempts", retry_after=pause)


def _body(response: requests.Response, *, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise RemoteMalformedError(f"the answer is larger than {limit:,} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _retry_after(response: requests.Response) -> float:
    """The Retry-After header in seconds (only the delta form; the HTTP-date form is rare on these APIs)."""
    try:
        return min(max(float(response.headers.get("Retry-After", "0")), 0.0), 3600.0)
    except ValueError:
        return 0.0
