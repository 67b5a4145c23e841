"""The one way identification calls a web service: shared rate limit, User-Agent, timeout and the retry rule.

503s, 429s, other 5xx, timeouts and refused connections are retried with exponential backoff; a 4xx is not (the
same question would get the same answer). When the retries run out the service is paused for every process and
the caller gets MetadataServiceUnavailableError, whose `retry_after` the task uses to come back later.
"""

from __future__ import annotations

import time
from typing import Any

import requests
from django.conf import settings

from library.enrichment.errors import (
    MetadataAnswerMalformedError,
    MetadataNotFoundError,
    MetadataRequestRefusedError,
    MetadataServiceUnavailableError,
)
from library.enrichment.ratelimit import service_pause, slot_take
from library.remote import user_agent

_RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})


def json_request(*, service: str, method: str, url: str, interval: float, params: dict[str, Any] | None = None) -> Any:
    """The decoded JSON answer of `method url`, sent as a query (GET) or a form body (POST)."""
    retries = max(settings.METADATA_HTTP_RETRIES, 0)
    problem, retry_after = "", 0.0
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(max(retry_after, settings.METADATA_RETRY_BASE_SECONDS * 2 ** (attempt - 1)))
        slot_take(service=service, interval=interval)
        try:
            response = requests.request(
                method,
                url,
                params=params if method == "GET" else None,
                data=params if method != "GET" else None,
                headers={"User-Agent": user_agent(), "Accept": "application/json"},
                timeout=settings.METADATA_TIMEOUT_SECONDS,
                allow_redirects=False,
            )
        except (requests.Timeout, requests.ConnectionError) as exc:
            problem, retry_after = f"{type(exc).__name__} after {attempt + 1} attempts", 0.0
            continue
        if response.status_code in _RETRIED_STATUSES:
            problem = f"HTTP {response.status_code} after {attempt + 1} attempts"
            retry_after = _retry_after(response)
            continue
        return _decoded(service, response)
    pause = max(retry_after, float(settings.METADATA_PAUSE_SECONDS))
    service_pause(service=service, seconds=pause)
    raise MetadataServiceUnavailableError(f"{service} unavailable: {problem}", retry_after=pause)


def _decoded(service: str, response: requests.Response) -> Any:
    if response.status_code == 404:
        raise MetadataNotFoundError(f"{service} has no such record (HTTP 404)")
    if response.status_code >= 300:
        raise MetadataRequestRefusedError(f"{service} refused the request: HTTP {response.status_code}")
    try:
        return response.json()
    except ValueError as exc:
        raise MetadataAnswerMalformedError(f"{service} answered something that is not JSON") from exc


def _retry_after(response: requests.Response) -> float:
    """The Retry-After header in seconds (only the delta form; the HTTP-date form is rare on these APIs)."""
    try:
        return min(max(float(response.headers.get("Retry-After", "0")), 0.0), 3600.0)
    except ValueError:
        return 0.0
