"""Template filters for library figures: playing time and track durations as people read them."""

from __future__ import annotations

from django import template

register = template.Library()

MS_PER_MINUTE = 60_000
MS_PER_HOUR = 3_600_000


@register.filter
def hours(milliseconds: int | None) -> str:
    """A total playing time: '41 min', '3.5 hours', '1,204 hours'."""
    ms = int(milliseconds or 0)
    if ms < MS_PER_HOUR:
        return f"{round(ms / MS_PER_MINUTE)} min"
    value = ms / MS_PER_HOUR
    return f"{value:.1f} hours" if value < 100 else f"{round(value):,} hours"


@register.filter
def clock(milliseconds: int | None) -> str:
    """One track's duration: '3:07', '1:02:45'; empty when unknown."""
    if not milliseconds:
        return ""
    seconds = int(milliseconds) // 1000
    minutes, seconds = divmod(seconds, 60)
    hours_part, minutes = divmod(minutes, 60)
    return f"{hours_part}:{minutes:02d}:{seconds:02d}" if hours_part else f"{minutes}:{seconds:02d}"
