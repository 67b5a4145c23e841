"""The ListenBrainz HTTP API (https://listenbrainz.readthedocs.io/en/latest/users/api/): the only place that talks
to it. Two calls: validate a user token, and submit listens. Everything else (what to send, when, retries) is the
callers' business; this module only says what the service answered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import requests
from django.conf import settings

ListenType = Literal["playing_now", "single"]


class ListenBrainzTokenRejectedError(Exception):
    """ListenBrainz says the token is not (or no longer) valid: asking again will not help."""


class ListenBrainzUnavailableError(Exception):
    """No usable answer (down, timed out, rate limited, 5xx): the same call may work later."""


class ListenBrainzRefusedError(Exception):
    """A 4xx other than 401/429: the submission itself is wrong and resending it will never work."""


@dataclass(frozen=True)
class TokenOwner:
    username: str


def _call(method: str, path: str, *, token: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    url = settings.LISTENBRAINZ_URL.rstrip("/") + path
    try:
        response = requests.request(
            method,
            url,
            json=body,
            headers={"Authorization": f"Token {token}"},
            timeout=settings.LISTENBRAINZ_TIMEOUT_SECONDS,
            allow_redirects=False,
        )
    except requests.RequestException as exc:
        raise ListenBrainzUnavailableError(type(exc).__name__) from exc
    if response.status_code == 401:
        raise ListenBrainzTokenRejectedError(_message(response))
    if response.status_code == 429 or response.status_code >= 500:
        raise ListenBrainzUnavailableError(f"HTTP {response.status_code}")
    if response.status_code >= 300:
        raise ListenBrainzRefusedError(f"HTTP {response.status_code}: {_message(response)}")
    try:
        data = response.json()
    except ValueError as exc:
        raise ListenBrainzUnavailableError("the answer is not JSON") from exc
    if not isinstance(data, dict):
        raise ListenBrainzUnavailableError("the answer is not a JSON object")
    return data


def _message(response: requests.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return ""
    return str(data.get("error") or data.get("message") or "")[:200] if isinstance(data, dict) else ""


def token_validate(token: str) -> TokenOwner:
    """The ListenBrainz user the token belongs to; ListenBrainzTokenRejectedError if it belongs to nobody."""
    data = _call("GET", "/1/validate-token", token=token)
    if not data.get("valid"):
        raise ListenBrainzTokenRejectedError(str(data.get("message") or "invalid token")[:200])
    return TokenOwner(username=str(data.get("user_name") or "")[:255])


def listens_submit(*, token: str, listen_type: ListenType, listens: list[dict[str, Any]]) -> None:
    """POST /1/submit-listens. `listens` are payload items (`listened_at` only for "single")."""
    _call("POST", "/1/submit-listens", token=token, body={"listen_type": listen_type, "payload": listens})
