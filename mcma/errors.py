"""The base of every domain error. Services raise these; each outer layer maps them to its own protocol."""

from __future__ import annotations

from typing import Any

from django.db import InterfaceError, OperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError


class ApplicationError(Exception):
    """A failure the caller can explain to a user. `code` is stable and machine-readable."""

    code = "error"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class NotFoundError(ApplicationError):
    code = "not_found"


class PermissionDeniedError(ApplicationError):
    code = "permission_denied"


class ConflictError(ApplicationError):
    code = "conflict"


class InvalidInputError(ApplicationError):
    code = "invalid"


class RateLimitedError(ApplicationError):
    """The caller asked for more than a limit allows (a budget, a source's rate limit); may succeed later.
    `details["retry_after"]` says when, in seconds, where it is known."""

    code = "rate_limited"


class ServiceUnavailableError(ApplicationError):
    """A part the request needs (the database, a Redis cache) is down or hung: the request may succeed later."""

    code = "service_unavailable"


class UpstreamError(ApplicationError):
    """A service this server relies on (an external music source) failed or answered nonsense."""

    code = "upstream_failed"


def service_unavailable(exc: BaseException) -> ServiceUnavailableError | None:
    """The domain error for a driver error meaning "the database (or the Redis cache: login throttles, source
    pauses) cannot answer now" (unreachable, timed out, connection lost, locked), or None for anything else. The
    driver's text names hosts and ports: it goes to the log, never into the message."""
    if isinstance(exc, OperationalError | InterfaceError):
        return ServiceUnavailableError("The database is unavailable; try again in a moment.")
    if isinstance(exc, RedisConnectionError | RedisTimeoutError):
        return ServiceUnavailableError("The cache is unavailable; try again in a moment.")
    return None
