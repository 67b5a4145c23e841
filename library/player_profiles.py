"""Admin-set player limits by client name, read from the cache: every Subsonic request names its player (`c`),
so looking its profile up in the database would cost each of them a query.

The whole table (a handful of rows) is one cache entry, dropped whenever a profile is saved or deleted (and again
once that transaction commits, so a reader inside it cannot put back what a rollback undoes); the entry also
expires after PLAYER_PROFILES_CACHE_SECONDS, which bounds how long a bulk `update()`, which sends no signal,
stays unseen.
"""

from __future__ import annotations

from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save

from library.models import PlayerProfile

_CACHE_KEY = "mcma:player-profiles"
PLAYER_PROFILES_CACHE_SECONDS = 300


def player_profile_limits(client: str) -> tuple[int, str] | None:
    """The player's (bitrate cap in kbps, default format), matched ignoring case, or None without a profile."""
    table: dict[str, tuple[int, str]] | None = cache.get(_CACHE_KEY)
    if table is None:
        table = {
            name.lower(): (max_bitrate, default_format)
            for name, max_bitrate, default_format in PlayerProfile.objects.values_list(
                "client_name", "max_bitrate", "default_format"
            )
        }
        cache.set(_CACHE_KEY, table, PLAYER_PROFILES_CACHE_SECONDS)
    return table.get(client.lower())


def _forget(**_kwargs: Any) -> None:
    cache.delete(_CACHE_KEY)
    transaction.on_commit(lambda: cache.delete(_CACHE_KEY))


def connect_invalidation() -> None:
    """Called once by the app config: any saved or deleted profile drops the cached table."""
    post_save.connect(_forget, sender=PlayerProfile, dispatch_uid="library.player_profiles.saved")
    post_delete.connect(_forget, sender=PlayerProfile, dispatch_uid="library.player_profiles.deleted")
