"""Fixtures shared by the library app's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mcma.celery import app


@pytest.fixture
def eager_tasks() -> Iterator[None]:
    """Tasks run in the test's thread when sent (retries too, without their countdown)."""
    app.conf.task_always_eager = True
    try:
        yield
    finally:
        app.conf.task_always_eager = False
