"""The failed-login throttle of every password login: `POST /api/v1/auth/token` and `/admin/login/`.

One rule, one set of counters. Two buckets are counted, both keyed on the client address as DRF derives it
(REMOTE_ADDR, or X-Forwarded-For when NUM_PROXIES says how many proxies append to it):
- per address (`login_ip` rate): one address guessing many usernames;
- per (username, address) (`login_user` rate): one address guessing one password. Not per username alone, or
  anyone could lock any user out from any address.

Only failures count: an attempt is charged before the password is checked, so parallel guesses cannot all slip in
under the limit, and refunded when it succeeds. While a bucket is full the password is not checked at all, so the
right password does not get in during the lock-out. Each bucket is a fixed window opened by its first charge.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import time
from dataclasses import dataclass

from django.core.cache import cache
from django.http import HttpRequest
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

from mcma.errors import ApplicationError

_SECONDS_PER_PERIOD = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class LoginThrottledError(ApplicationError):
    code = "throttled"

    def __init__(self, wait_seconds: int) -> None:
        super().__init__("Too many failed login attempts.")
        self.wait_seconds = wait_seconds


@dataclass(frozen=True)
class _Bucket:
    key: str
    limit: int
    window_seconds: int


def login_attempt_charge(*, request: HttpRequest, username: str) -> None:
    """Count this attempt as a failure until `login_attempt_refund`; raise while a bucket is over its limit."""
    now = time.time()
    for bucket in _buckets(request, username):
        cache.add(bucket.key, 0, bucket.window_seconds)
        cache.add(f"{bucket.key}:opened", now, bucket.window_seconds)
        try:
            attempts = cache.incr(bucket.key)
        except ValueError:  # the window closed between add and incr
            cache.set(bucket.key, 1, bucket.window_seconds)
            attempts = 1
        if attempts > bucket.limit:
            opened = cache.get(f"{bucket.key}:opened", now)
            raise LoginThrottledError(max(1, math.ceil(opened + bucket.window_seconds - now)))


def login_attempt_refund(*, request: HttpRequest, username: str) -> None:
    """The attempt charged for this request succeeded: a user who logs in often is never locked out."""
    for bucket in _buckets(request, username):
        with contextlib.suppress(ValueError):  # the window already closed: nothing left to refund
            cache.decr(bucket.key)


def _buckets(request: HttpRequest, username: str) -> list[_Bucket]:
    # DRF's rule for the client address (NUM_PROXIES), so the admin and the API agree on who is calling.
    address = BaseThrottle().get_ident(Request(request))
    # Keyed like accounts tell users apart (user_create: stripped, case-insensitive), so 'Alice' and 'alice '
    # share a bucket; hashed, so any cache backend accepts the key.
    user = hashlib.sha256(username.strip().casefold().encode("utf-8", "surrogatepass")).hexdigest()
    address_part = hashlib.sha256(address.encode("utf-8", "surrogatepass")).hexdigest()
    buckets = []
    for scope, key in (
        ("login_ip", f"login-fail:{address_part}"),
        ("login_user", f"login-fail:{address_part}:{user}"),
    ):
        rate = api_settings.DEFAULT_THROTTLE_RATES.get(scope)
        if rate is not None:
            limit, window = _parse_rate(str(rate))
            buckets.append(_Bucket(key=key, limit=limit, window_seconds=window))
    return buckets


def _parse_rate(rate: str) -> tuple[int, int]:
    """DRF's rate syntax, as in DEFAULT_THROTTLE_RATES: '<count>/<s|sec|m|min|h|hour|d|day>'."""
    count, _, period = rate.partition("/")
    return int(count), _SECONDS_PER_PERIOD[period[0]]
