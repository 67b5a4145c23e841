"""Start-up checks: a download source that is enabled but unusable (e.g. a world-readable cookies file) is
reported by `manage.py check` and every management command, with the exact fix, before any job fails on it."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Warning

from sources.base import Capability
from sources.registry import all_sources


def download_sources_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    problems: list[CheckMessage] = []
    for source in all_sources():
        if Capability.DOWNLOAD not in source.capabilities:
            continue
        health = source.health()
        if health.available or health.details.get("enabled") is False:
            continue  # healthy, or switched off on purpose
        problems.append(
            Warning(
                f"download source {source.name!r} is unavailable: {health.message}",
                hint="Downloads from it fail until this is fixed.",
                id="downloads.W001",
            )
        )
    return problems
