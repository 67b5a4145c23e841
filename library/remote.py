"""HTTP GETs to the metadata services the library asks (LRCLIB, the Cover Art Archive): one User-Agent, one
timeout rule and one reading of what an answer means, so each service's module only maps its own fields.

Redirects are followed (the Cover Art Archive answers every image with one); bodies are read up to a limit, so
a hostile or broken mirror cannot fill memory.
"""

from __future__ import annotations

import json
from typing import Any

import requests
from django.conf import settings

import mcma


def user_agent() -> str:
    """What every metadata service is told about the caller (MusicBrainz asks for a contact)."""
    return f"mcma/{mcma.__version__} ( {settings.METADATA_CONTACT} )"


class RemoteUnavailableError(Exception):
    """No usable answer (down, timed out, rate limited, 5xx, malformed): the same call may work later."""


class RemoteRefusedError(Exception):
    """A 4xx other than 404/429: asking again the same way will never work."""


def _get(
    url: str, *, params: dict[str, Any] | None, timeout: float, unavailable: type[RemoteUnavailableError]
) -> requests.Response:
    try:
        response = requests.get(
            url, params=params, timeout=timeout, headers={"User-Agent": user_agent()}, allow_redirects=True, stream=True
        )
    except requests.RequestException as exc:
        raise unavailable(f"{type(exc).__name__} from {url}") from exc
    if response.status_code == 429 or response.status_code >= 500:
        response.close()
        raise unavailable(f"HTTP {response.status_code} from {url}")
    return response


def _body(response: requests.Response, *, limit: int, unavailable: type[RemoteUnavailableError]) -> bytes:
    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in response.iter_content(64 * 1024):
            size += len(chunk)
            if size > limit:
                raise unavailable(f"the answer is larger than {limit:,} bytes")
            chunks.append(chunk)
    except requests.RequestException as exc:
        raise unavailable(f"{type(exc).__name__} while reading the answer") from exc
    finally:
        response.close()
    return b"".join(chunks)


def get_json(
    url: str,
    *,
    params: dict[str, Any] | None = None,
    timeout: float,
    unavailable: type[RemoteUnavailableError] = RemoteUnavailableError,
    limit: int = 4 * 1024 * 1024,
) -> dict[str, Any] | None:
    """The JSON object at `url`, or None for a 404."""
    response = _get(url, params=params, timeout=timeout, unavailable=unavailable)
    status = response.status_code
    body = _body(response, limit=limit, unavailable=unavailable)
    if status == 404:
        return None
    if status >= 300:
        raise RemoteRefusedError(f"HTTP {status} from {url}")
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise unavailable(f"the answer from {url} is not JSON") from exc
    if not isinstance(data, dict):
        raise unavailable(f"the answer from {url} is not a JSON object")
    return data


def get_bytes(
    url: str,
    *,
    timeout: float,
    limit: int,
    unavailable: type[RemoteUnavailableError] = RemoteUnavailableError,
) -> tuple[bytes, str] | None:
    """(body, content type) at `url`, or None for a 404."""
    response = _get(url, params=None, timeout=timeout, unavailable=unavailable)
    status, content_type = response.status_code, response.headers.get("Content-Type", "")
    body = _body(response, limit=limit, unavailable=unavailable)
    if status == 404:
        return None
    if status >= 300:
        raise RemoteRefusedError(f"HTTP {status} from {url}")
    return body, content_type.split(";")[0].strip().lower()
