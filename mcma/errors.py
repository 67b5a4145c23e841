"""The base of every domain error. Services raise these; each outer layer maps them to its own protocol."""

from __future__ import annotations

from typing import Any


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
