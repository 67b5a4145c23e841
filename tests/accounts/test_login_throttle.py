"""The failed-login rule itself (accounts.login_throttle): charged before the password check, refunded on success."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import RequestFactory

from accounts.login_throttle import LoginThrottledError, login_attempt_charge, login_attempt_refund

pytestmark = [pytest.mark.security]


@pytest.fixture
def rates(settings: Any) -> None:
    rates = {"login_ip": "5/min", "login_user": "3/min"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}


def _request(address: str = "10.0.0.1") -> Any:
    return RequestFactory().post("/admin/login/", REMOTE_ADDR=address)


def test_attempts_in_flight_count_before_any_password_is_checked(rates: None) -> None:
    """Parallel guesses: each is charged on arrival, so the fourth is refused before the first has finished."""
    for _ in range(3):
        login_attempt_charge(request=_request(), username="alice")
    with pytest.raises(LoginThrottledError) as refused:
        login_attempt_charge(request=_request(), username="alice")
    assert 0 < refused.value.wait_seconds <= 60


def test_a_refund_gives_the_attempt_back(rates: None) -> None:
    for _ in range(10):
        login_attempt_charge(request=_request(), username="alice")
        login_attempt_refund(request=_request(), username="alice")


def test_buckets_are_per_address_and_per_username_and_address(rates: None) -> None:
    for _ in range(3):
        login_attempt_charge(request=_request(), username="Alice ")
    with pytest.raises(LoginThrottledError):
        login_attempt_charge(request=_request(), username="alice")  # folded: the same bucket
    login_attempt_charge(request=_request("10.0.0.2"), username="alice")  # another address: its own bucket
    login_attempt_charge(request=_request(), username="bob")  # the fifth of this address (refused ones count)
    with pytest.raises(LoginThrottledError):
        login_attempt_charge(request=_request(), username="carol")  # the address is out of attempts
