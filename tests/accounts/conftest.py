from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _fresh_throttle_cache() -> Iterator[None]:
    """Login throttles live in the cache; each test starts with empty buckets."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    """Argon2 costs ~100 ms and ~100 MiB per hash by design; these tests hash hundreds of passwords."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *settings.PASSWORD_HASHERS]


@pytest.fixture
def production_hashing(settings: Any) -> None:
    """For tests about the real hasher: put the configured (argon2-first) list back."""
    settings.PASSWORD_HASHERS = settings.PASSWORD_HASHERS[1:]
