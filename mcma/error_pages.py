"""Django's error views (mcma.urls handler400/403/404/500) and the /api catch-all: the /api tree answers in the
API's JSON error shape, /rest in Subsonic documents, and the rest of the site gets Django's defaults. They sit
at the top of the project because they know both APIs; the shape itself is mcma.api_errors'.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, JsonResponse
from django.http.response import HttpResponseBase
from django.views import defaults

from mcma.api_errors import error_body
from subsonic.dispatch import error_document
from subsonic.errors import ErrorCode, SubsonicError


def _is_api(request: HttpRequest) -> bool:
    return request.path == "/api" or request.path.startswith("/api/")


def _is_subsonic(request: HttpRequest) -> bool:
    """Players read only Subsonic documents: an HTML error page under /rest reads as "not a Subsonic server"."""
    return request.path == "/rest" or request.path.startswith("/rest/")


def _subsonic_error(request: HttpRequest, message: str) -> HttpResponseBase:
    return error_document(request, SubsonicError(ErrorCode.GENERIC, message))


def api_not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    return JsonResponse(error_body("not_found", "No such API endpoint."), status=404)


def handler400(request: HttpRequest, exception: Exception) -> HttpResponseBase:
    if _is_api(request):
        return JsonResponse(error_body("bad_request", "Bad request."), status=400)
    if _is_subsonic(request):
        return _subsonic_error(request, "The request was rejected as malformed or too large.")
    return defaults.bad_request(request, exception)


def handler403(request: HttpRequest, exception: Exception) -> HttpResponseBase:
    if _is_api(request):
        return JsonResponse(error_body("permission_denied", "Permission denied."), status=403)
    if _is_subsonic(request):
        return _subsonic_error(request, "Permission denied.")
    return defaults.permission_denied(request, exception)


def handler404(request: HttpRequest, exception: Exception) -> HttpResponseBase:
    if _is_api(request):
        return api_not_found(request)
    return defaults.page_not_found(request, exception)


def handler500(request: HttpRequest) -> HttpResponseBase:
    if _is_api(request):
        return JsonResponse(error_body("server_error", "Internal server error."), status=500)
    if _is_subsonic(request):
        return _subsonic_error(request, "Internal server error")
    return defaults.server_error(request)
