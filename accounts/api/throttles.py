"""Login throttles that count failed attempts only, per client IP and per attempted username.

DRF's SimpleRateThrottle records every request; a login endpoint should let a user who types the right password
in, however many times they log in, and lock out only the guessing. So `allow_request` only reads the history and
the view calls `record_failure` after a wrong password.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from library.text import fold


class FailedLoginThrottle(SimpleRateThrottle):
    def get_rate(self) -> str | None:
        # Read on each request, not at import, so a settings change (tests, reload) takes effect.
        rate = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope or "")
        return None if rate is None else str(rate)

    def throttle_success(self) -> bool:
        return True

    def record_failure(self, request: Request, view: APIView) -> None:
        _, duration = self.parse_rate(self.rate)
        key = self.get_cache_key(request, view)
        if duration is None or key is None:
            return
        now = self.timer()
        history = [t for t in self.cache.get(key, []) if t > now - duration]
        history.insert(0, now)
        self.cache.set(key, history, duration)


class LoginIPThrottle(FailedLoginThrottle):
    scope = "login_ip"

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class LoginUserThrottle(FailedLoginThrottle):
    scope = "login_user"

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        data = request.data if isinstance(request.data, Mapping) else {}
        username = data.get("username")
        if not isinstance(username, str) or not username.strip():
            return None
        # Folded, so 'Alice' and 'alice ' share a bucket; hashed, so any cache backend accepts the key.
        ident = hashlib.sha256(fold(username).encode("utf-8", "surrogatepass")).hexdigest()
        return self.cache_format % {"scope": self.scope, "ident": ident}
