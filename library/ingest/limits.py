"""Values fitted to the columns they go into, with the limits read from the models (never restated by hand)."""

from __future__ import annotations

import functools
from typing import Any

from django.db import connection, models


@functools.cache
def _char_limits(model: type[models.Model]) -> dict[str, int]:
    return {
        field.attname: field.max_length
        for field in model._meta.concrete_fields
        if isinstance(field, models.CharField) and field.max_length
    }


def _integer_ranges(model: type[models.Model]) -> dict[str, tuple[int | None, int | None]]:
    # Per connection: the ranges are the database backend's (`integer_field_range` is public Django API).
    return {
        field.attname: connection.ops.integer_field_range(field.get_internal_type())
        for field in model._meta.concrete_fields
        if isinstance(field, models.IntegerField)
    }


def clipped(model: type[models.Model], attname: str, text: str) -> str:
    """`text` cut to the column's `max_length`."""
    return text[: _char_limits(model)[attname]]


def fitted(model: type[models.Model], values: dict[str, Any]) -> dict[str, Any]:
    """`values` (attname -> value) with texts cut to their column's length and integers held in its range, so a
    hostile tag can neither fail the row nor its batch."""
    limits = _char_limits(model)
    ranges = _integer_ranges(model)
    fitted_values = dict(values)
    for attname, value in values.items():
        if isinstance(value, str) and (limit := limits.get(attname)) is not None:
            fitted_values[attname] = value[:limit]
        elif isinstance(value, int) and not isinstance(value, bool) and attname in ranges:
            low, high = ranges[attname]
            if low is not None and value < low:
                fitted_values[attname] = low
            elif high is not None and value > high:
                fitted_values[attname] = high
    return fitted_values
