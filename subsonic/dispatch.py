"""The single entry point under /rest: format, CORS, auth, route lookup and error mapping in one place.

Every path answers a Subsonic document with HTTP 200 (unknown methods included), because players treat an HTML
page or a bare 404 as a broken server. Views raise errors; only this module turns them into documents.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.views.decorators.csrf import csrf_exempt

from mcma.errors import ApplicationError, service_unavailable
from subsonic.auth import authenticate
from subsonic.call import Call, NodeList
from subsonic.errors import ErrorCode, SubsonicError, from_application_error, missing_parameter
from subsonic.params import Params
from subsonic.responses import Format, Node, Profile, Rendering, callback_is_valid, envelope, render
from subsonic.routes import ROUTES

logger = logging.getLogger(__name__)

CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, HEAD, OPTIONS",
    "Access-Control-Max-Age": "86400",
    "Access-Control-Expose-Headers": "Content-Length, Content-Range, Accept-Ranges, ETag, X-Total-Count",
}


def client_profile(client: str) -> Profile:
    """Legacy/minimal client lists are substrings of `c` (case-insensitive), as in Navidrome's settings."""
    lowered = client.lower()
    if any(name.lower() in lowered for name in settings.SUBSONIC_LEGACY_CLIENTS if name):
        return Profile.LEGACY
    if any(name.lower() in lowered for name in settings.SUBSONIC_MINIMAL_CLIENTS if name):
        return Profile.MINIMAL
    return Profile.FULL


@csrf_exempt
def endpoint(request: HttpRequest, method: str = "") -> HttpResponseBase:
    if request.method == "OPTIONS":
        response: HttpResponseBase = HttpResponse(status=204)
    else:
        response = _handle(request, method)
    return _with_cors(request, response)


def _with_cors(request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
    for header, value in CORS_HEADERS.items():
        response[header] = value
    response["Access-Control-Allow-Headers"] = request.headers.get("Access-Control-Request-Headers") or "*"
    return response


def _handle(request: HttpRequest, method: str) -> HttpResponseBase:
    try:  # until `f` is read, errors (unreadable parameters, a NUL in `c` or `f`) can only be XML
        params = Params.from_request(request)
        client = params.text("c") or ""
        profile = client_profile(client)
        rendering, format_error = _rendering(params, profile)
    except SubsonicError as exc:
        return _error_response(exc, Rendering(Format.XML, Profile.FULL))
    if format_error is not None:
        return _error_response(format_error, rendering)
    try:
        route = ROUTES.get(method)
        if route is None:
            raise SubsonicError(ErrorCode.GENERIC, f"Unknown API method: {method[:100]!r}")
        call = Call(request=request, params=params, profile=profile, client=client[:100])
        if route.auth:
            _check_version(params)
            call.caller = authenticate(request, params)
        result = route.view(call)
    except SubsonicError as exc:
        return _error_response(exc, rendering)
    except ApplicationError as exc:
        return _error_response(from_application_error(exc), rendering)
    except Exception as exc:  # a bug must still answer a Subsonic document, not an HTML 500 page
        unavailable = service_unavailable(exc)
        if unavailable is not None:
            logger.warning("Subsonic method %s: %s (%s)", method, unavailable.message, exc)
            return _error_response(from_application_error(unavailable), rendering)
        logger.exception("Subsonic method %s failed", method)
        return _error_response(SubsonicError(ErrorCode.GENERIC, "Internal server error"), rendering)
    if isinstance(result, HttpResponseBase):
        return result
    root = envelope(ok=True, profile=profile)
    if isinstance(result, Node):
        root.add(result)
    elif isinstance(result, NodeList):
        root.add_list(result.name, result.nodes)
    return render(root, rendering)


def _rendering(params: Params, profile: Profile) -> tuple[Rendering, SubsonicError | None]:
    fmt = (params.text("f") or "xml").lower()
    if fmt == Format.JSON:
        return Rendering(Format.JSON, profile), None
    if fmt == Format.JSONP:
        callback = params.text("callback") or ""
        if not callback:
            return Rendering(Format.JSON, profile), missing_parameter("callback")
        if not callback_is_valid(callback):
            return Rendering(Format.JSON, profile), SubsonicError(ErrorCode.GENERIC, "Invalid JSONP callback name")
        return Rendering(Format.JSONP, profile, callback), None
    return Rendering(Format.XML, profile), None


def _check_version(params: Params) -> None:
    """`v` is optional and old versions are welcome (DSub sends 1.2.0); only a major version we don't speak is
    refused, with the codes the spec reserves for it."""
    version = params.text("v")
    if not version:
        return
    major = version.split(".", 1)[0]
    if not major.isdigit():
        raise SubsonicError(ErrorCode.GENERIC, f"Invalid protocol version: {version[:20]!r}")
    if int(major) > 1:
        raise SubsonicError(ErrorCode.SERVER_TOO_OLD, "Incompatible protocol version: the server must upgrade")
    if int(major) < 1:
        raise SubsonicError(ErrorCode.CLIENT_TOO_OLD, "Incompatible protocol version: the client must upgrade")


def _error_response(error: SubsonicError, rendering: Rendering) -> HttpResponse:
    root = envelope(ok=False, profile=rendering.profile)
    root.add(Node("error", {"code": int(error.code), "message": error.message}))
    return render(root, rendering)


def error_document(request: HttpRequest, error: SubsonicError) -> HttpResponseBase:
    """An error answered for a /rest request that never reached a view (a refused Host, a request Django
    rejected before routing, a failure in a middleware): the same document and CORS headers as any method."""
    try:
        params = Params.from_request(request)
        rendering, _format_error = _rendering(params, client_profile(params.text("c") or ""))
    except SubsonicError:  # the parameters themselves are unreadable: the spec's default format
        rendering = Rendering(Format.XML, Profile.FULL)
    return _with_cors(request, _error_response(error, rendering))
