"""Subsonic error codes and the one place where domain errors become them."""

from __future__ import annotations

from enum import IntEnum

from accounts.errors import SubsonicPasswordUnavailableError
from mcma.errors import ApplicationError, NotFoundError, PermissionDeniedError


class ErrorCode(IntEnum):
    GENERIC = 0
    MISSING_PARAMETER = 10
    CLIENT_TOO_OLD = 20
    SERVER_TOO_OLD = 30
    WRONG_CREDENTIALS = 40
    TOKEN_AUTH_NOT_SUPPORTED = 41
    AUTH_MECHANISM_NOT_SUPPORTED = 42
    CONFLICTING_AUTH = 43
    INVALID_API_KEY = 44
    NOT_AUTHORIZED = 50
    NOT_FOUND = 70


class SubsonicError(Exception):
    """Raised anywhere under a Subsonic view; dispatch renders it as an error document (HTTP 200)."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class ControlCharacterError(SubsonicError):
    """A parameter holds a control character no value can mean (NUL and most of C0). Error 10, as for a missing
    value: the request is malformed, and no database (PostgreSQL refuses NUL in text) ever sees the value."""

    def __init__(self, name: str) -> None:
        super().__init__(
            ErrorCode.MISSING_PARAMETER,
            f"Parameter {name!r} contains a control character (such as NUL); remove it and try again",
        )
        self.parameter = name


def missing_parameter(name: str) -> SubsonicError:
    return SubsonicError(ErrorCode.MISSING_PARAMETER, f"Required parameter is missing: {name}")


def invalid_parameter(name: str, reason: str) -> SubsonicError:
    return SubsonicError(ErrorCode.GENERIC, f"Invalid value for parameter {name!r}: {reason}")


def not_found(what: str) -> SubsonicError:
    return SubsonicError(ErrorCode.NOT_FOUND, f"{what} not found")


def not_authorized(message: str) -> SubsonicError:
    return SubsonicError(ErrorCode.NOT_AUTHORIZED, message)


def not_supported(method: str) -> SubsonicError:
    return SubsonicError(ErrorCode.GENERIC, f"{method} is not supported by this server")


def from_application_error(exc: ApplicationError) -> SubsonicError:
    """Map a domain error by its class: not found → 70, permission → 50, credentials → 40, anything else → 0."""
    if isinstance(exc, SubsonicPasswordUnavailableError):
        return SubsonicError(ErrorCode.WRONG_CREDENTIALS, exc.message)
    if isinstance(exc, NotFoundError):
        return SubsonicError(ErrorCode.NOT_FOUND, exc.message)
    if isinstance(exc, PermissionDeniedError):
        return SubsonicError(ErrorCode.NOT_AUTHORIZED, exc.message)
    return SubsonicError(ErrorCode.GENERIC, exc.message)
