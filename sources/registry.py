"""The configured sources, built lazily from `settings.MCMA_SOURCES` and cached.

Settings hold `{alias: {"BACKEND": "dotted.Class", "OPTIONS": {...}}}`; each backend is constructed as
`Backend(name=alias, **OPTIONS)` on first use. Nothing registers itself at import time, so what is configured is
exactly what exists. `reset_sources()` drops the cache (tests, and the `setting_changed` signal below).
"""

from __future__ import annotations

import threading
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from sources.base import Source
from sources.errors import SourceUnavailableError, UnknownSourceError

__all__ = ["UnknownSourceError", "all_sources", "get_source", "reset_sources", "source_names"]

_lock = threading.Lock()
_cache: dict[str, Source] = {}


def _config() -> dict[str, dict[str, Any]]:
    config = getattr(settings, "MCMA_SOURCES", {})
    if not isinstance(config, dict):
        raise ImproperlyConfigured("MCMA_SOURCES must be a dict of {alias: {BACKEND, OPTIONS}}")
    return config


def source_names() -> list[str]:
    return list(_config())


def _build(name: str, entry: dict[str, Any]) -> Source:
    try:
        backend_path = entry["BACKEND"]
    except (KeyError, TypeError) as exc:
        raise ImproperlyConfigured(f"MCMA_SOURCES[{name!r}] has no BACKEND") from exc
    try:
        backend = import_string(backend_path)
    except ImportError as exc:
        raise ImproperlyConfigured(f"MCMA_SOURCES[{name!r}]: cannot import {backend_path!r}: {exc}") from exc
    options = dict(entry.get("OPTIONS") or {})
    source: Source = backend(name=name, **options)
    return source


def get_source(name: str) -> Source:
    """The source configured as `name`; `UnknownSourceError` (with the known names) otherwise."""
    cached = _cache.get(name)
    if cached is not None:
        return cached
    config = _config()
    if name not in config:
        raise UnknownSourceError(f"Unknown source {name!r}.", details={"known": list(config)})
    with _lock:
        if name not in _cache:
            _cache[name] = _build(name, config[name])
        return _cache[name]


def source_health_check(source: Source) -> None:
    """Raise SourceUnavailableError, with the source's own reason, when it reports itself unusable right now."""
    health = source.health()
    if not health.available:
        raise SourceUnavailableError(health.message, details={"source": source.name, **health.details})


def all_sources() -> list[Source]:
    return [get_source(name) for name in _config()]


def reset_sources() -> None:
    with _lock:
        _cache.clear()


@receiver(setting_changed)
def _reset_on_setting_change(*, setting: str, **_kwargs: object) -> None:
    # Backends read their options once; a changed setting must rebuild them (pytest-django's `settings`).
    if setting in {"MCMA_SOURCES", "LOCAL_MEDIA_IMPORT_PATH", "LOCAL_IMPORT_HARDLINK", "MEDIA_ROOT"}:
        reset_sources()
