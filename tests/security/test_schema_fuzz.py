"""A bounded schemathesis run against the native API's own OpenAPI description (/api/schema): every operation,
positive and negative examples, as an authenticated admin (so no route stops at 403 before its input is read),
through a live server on 127.0.0.1. Any 5xx fails. A fixed seed, a fixed number of examples per operation and a
wall-clock budget keep it reproducible and short."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings

from accounts.models import User
from accounts.services import token_pair_issue
from tests.factories.accounts import AdminFactory, UserFactory
from tests.fakes.listenbrainz_server import FakeListenBrainz

pytestmark = [pytest.mark.security, pytest.mark.timeout(300)]
EXAMPLES_PER_OPERATION_AND_MODE = 10  # positive + negative: 20 per operation
BUDGET_SECONDS = 200
REQUEST_TIMEOUT_SECONDS = 30


@pytest.fixture
def fuzz_admin(transactional_db: None) -> User:
    """The only admin, so the service refuses to delete, demote or disable it whatever the fuzzer sends."""
    UserFactory.create(username="bystander")
    return AdminFactory.create(username="fuzzer")


def _operations(schema: Any) -> list[Any]:
    return [result.ok() for result in schema.get_all_operations()]  # an Err (a broken schema) raises here


def _bounded(test: Any) -> Any:
    return hypothesis_settings(
        max_examples=EXAMPLES_PER_OPERATION_AND_MODE,
        derandomize=True,  # the fixed seed: the same examples on every run
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )(test)


def test_no_operation_answers_5xx(
    live_server: Any, fuzz_admin: User, settings: Any, fake_listenbrainz: FakeListenBrainz
) -> None:
    """ListenBrainz tokens are checked against the fake one (a real outage is a 503, by design)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/schema")
    operations = _operations(schema)
    assert len(operations) > 30
    deadline = time.monotonic() + BUDGET_SECONDS
    failures: list[str] = []
    statuses: Counter[int] = Counter()

    def call(case: Any) -> None:
        # The fuzzer may disable or re-password the admin it runs as; every call gets a fresh, valid token.
        User.objects.filter(pk=fuzz_admin.pk).update(is_active=True)
        access = token_pair_issue(user=User.objects.get(pk=fuzz_admin.pk))["access"]
        headers = {**(case.headers or {}), "Authorization": f"Bearer {access}"}
        response = case.call(base_url=live_server.url, headers=headers, timeout=REQUEST_TIMEOUT_SECONDS)
        statuses[response.status_code] += 1
        if response.status_code >= 500:
            failures.append(f"{case.method} {case.formatted_path} {case.query!r}: {response.status_code}")

    for operation in operations:
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):
            assert time.monotonic() < deadline, f"over the {BUDGET_SECONDS} s budget after {statuses.total()} calls"
            _bounded(given(operation.as_strategy(generation_mode=mode))(call))()
    print(f"schemathesis: {len(operations)} operations, {statuses.total()} calls, statuses {sorted(statuses.items())}")
    assert failures == []
    # Not a run of refusals: most calls got past authentication, and many were accepted.
    assert statuses[401] < statuses.total() * 0.1
    assert sum(n for code, n in statuses.items() if code < 300) > statuses.total() * 0.2
