"""Which `Host` headers the server answers, checked once, before any other middleware.

A home server is reached by whatever name or address the player was given: an IP on the LAN, the machine's name,
`name.local` over mDNS. With `ALLOWED_HOSTS` unset (or containing `lan`), every such host is accepted with
nothing configured: IP literals, single-label names, names under the local-network suffixes below, and this
machine's hostname. Other domain names are refused, which keeps DNS-rebinding pages (evil.example resolving to
192.168.1.20) away from the API. A deployment behind a domain pins `ALLOWED_HOSTS` to its names (Django's own
patterns: `music.example.com`, `.example.com`, `*`), optionally keeping `lan` beside them.

A refused or malformed host is a 400 with a plain message, or a Subsonic error document under /rest.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.http.request import split_domain_port, validate_host
from django.http.response import HttpResponseBase

from subsonic.dispatch import error_document
from subsonic.errors import ErrorCode, SubsonicError

LAN_KEYWORD = "lan"
LOCAL_NETWORK_SUFFIXES = (".local", ".lan", ".home", ".home.arpa", ".internal", ".localdomain", ".localhost")


@lru_cache(maxsize=1)
def _machine_names() -> frozenset[str]:
    name = socket.gethostname().lower().rstrip(".")
    return frozenset({name, name.split(".", 1)[0]})


def is_lan_host(domain: str) -> bool:
    """A name or address by which a machine on a home network is reached."""
    address = domain[1:-1] if domain.startswith("[") else domain
    try:
        ipaddress.ip_address(address)
    except ValueError:
        pass
    else:
        return True
    if "." not in domain or domain.endswith(LOCAL_NETWORK_SUFFIXES):
        return True
    return domain in _machine_names()


def host_problem(request: HttpRequest) -> str | None:
    """Why this request's Host cannot be answered, or None."""
    raw = request.META.get("HTTP_HOST") or request.META.get("SERVER_NAME", "")
    domain, _port = split_domain_port(str(raw))
    if not domain:
        return "The Host header is missing or malformed."
    patterns = [pattern for pattern in settings.MCMA_ALLOWED_HOSTS if pattern != LAN_KEYWORD]
    lan = LAN_KEYWORD in settings.MCMA_ALLOWED_HOSTS
    if (lan and is_lan_host(domain)) or validate_host(domain, patterns):
        return None
    return f"This server does not answer for the host {domain[:100]!r}; add it to ALLOWED_HOSTS."


class HostValidationMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        problem = host_problem(request)
        if problem is None:
            return self.get_response(request)
        if request.path.startswith("/rest/") or request.path == "/rest":
            return error_document(request, SubsonicError(ErrorCode.GENERIC, problem))
        return HttpResponse(problem, status=400, content_type="text/plain; charset=utf-8")
