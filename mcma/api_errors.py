"""One error shape for the whole /api tree: `{"error": {"code": ..., "message": ..., "details": ...}}`.

`exception_handler` is DRF's EXCEPTION_HANDLER: it maps domain errors (`ApplicationError` subclasses) to HTTP
statuses, reshapes DRF's own errors, and turns anything unexpected into a logged, traceback-free 500.
Non-DRF paths under /api (unknown URLs, middleware failures) get the same shape from mcma.error_pages.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import SuspiciousOperation
from django.http import Http404
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from mcma.errors import (
    ApplicationError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    ServiceUnavailableError,
    UpstreamError,
    service_unavailable,
)

logger = logging.getLogger(__name__)

# Checked in order, so a subclass of two bases gets the first match; plain ApplicationError means bad input.
APPLICATION_ERROR_STATUS: tuple[tuple[type[ApplicationError], int], ...] = (
    (NotFoundError, status.HTTP_404_NOT_FOUND),
    (PermissionDeniedError, status.HTTP_403_FORBIDDEN),
    (ConflictError, status.HTTP_409_CONFLICT),
    (InvalidInputError, status.HTTP_400_BAD_REQUEST),
    (RateLimitedError, status.HTTP_429_TOO_MANY_REQUESTS),
    (ServiceUnavailableError, status.HTTP_503_SERVICE_UNAVAILABLE),
    (UpstreamError, status.HTTP_502_BAD_GATEWAY),
)


class ErrorDetailSerializer(serializers.Serializer[Any]):
    code = serializers.CharField(help_text="Stable machine-readable code, e.g. not_found, invalid, throttled.")
    message = serializers.CharField(help_text="Human-readable explanation.")
    details = serializers.JSONField(help_text="Structured context, e.g. field errors; {} when none.")


class ErrorSerializer(serializers.Serializer[Any]):
    """The one error shape of the API (for the OpenAPI schema)."""

    error = ErrorDetailSerializer()


_ERROR_DESCRIPTIONS = {
    400: "Invalid input",
    401: "Not authenticated",
    403: "Not allowed",
    404: "Not found",
    409: "Conflict",
    429: "Too many requests",
    502: "The external source failed to answer; try again later",
    503: "A part the request needs (the database) is unavailable; try again later",
}


def error_responses(*codes: int) -> dict[int | tuple[int, str], Any]:
    """`extend_schema(responses=...)` entries documenting the error shape for these statuses."""
    return {code: OpenApiResponse(ErrorSerializer, description=_ERROR_DESCRIPTIONS[code]) for code in codes}


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details if details is not None else {}}}


def application_error_status(exc: ApplicationError) -> int:
    for cls, http_status in APPLICATION_ERROR_STATUS:
        if isinstance(exc, cls):
            return http_status
    return status.HTTP_400_BAD_REQUEST


def _reshape(exc: exceptions.APIException, data: Any) -> dict[str, Any]:
    if isinstance(exc, exceptions.ValidationError):
        return error_body("invalid", "Invalid input.", data)
    if isinstance(data, dict) and "detail" in data:
        detail = data["detail"]
        code = getattr(detail, "code", None) or data.get("code") or exc.default_code
        extra = {k: v for k, v in data.items() if k not in ("detail", "code")}
        wait = getattr(exc, "wait", None)
        if isinstance(exc, exceptions.Throttled) and wait is not None:
            extra["retry_after"] = math.ceil(wait)
        return error_body(str(code), str(detail), extra)
    return error_body(str(exc.default_code), str(exc.default_detail), data)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    unavailable = service_unavailable(exc)
    if unavailable is not None:
        # Expected while the database or the cache is down: one line with the driver's reason, no traceback.
        logger.warning("unavailable in API view %s: %s", type(context.get("view")).__name__, exc)
        exc = unavailable
    if isinstance(exc, ApplicationError):
        refused = Response(error_body(exc.code, exc.message, exc.details), status=application_error_status(exc))
        if isinstance(exc, RateLimitedError) and isinstance(exc.details.get("retry_after"), int):
            refused["Retry-After"] = str(exc.details["retry_after"])
        return refused
    if isinstance(exc, SuspiciousOperation):
        # Too many form fields, a body over the size limit, a bad Host...: the client's fault, as Django's own 400.
        logger.warning("suspicious request rejected: %s", type(exc).__name__)
        return Response(error_body("bad_request", "The request was rejected as malformed or too large."), status=400)
    response = drf_exception_handler(exc, context)
    if response is None:
        # Unexpected: log the traceback server-side, tell the client only that it failed.
        logger.exception("unhandled error in API view %s", type(context.get("view")).__name__, exc_info=exc)
        return Response(
            error_body("server_error", "Internal server error."), status=status.HTTP_500_INTERNAL_SERVER_ERROR
        )
    api_exc = exc if isinstance(exc, exceptions.APIException) else _as_api_exception(exc)
    response.data = _reshape(api_exc, response.data)
    return response


def _as_api_exception(exc: Exception) -> exceptions.APIException:
    """DRF's handler answers Django's Http404/PermissionDenied too; name them the way DRF does."""
    if isinstance(exc, Http404):
        return exceptions.NotFound()
    if isinstance(exc, DjangoPermissionDenied):
        return exceptions.PermissionDenied()
    return exceptions.APIException()
