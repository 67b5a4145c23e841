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


@functools.cache
def _integer_ranges(model: type[models.Model], vendor: str) -> dict[str, tuple[int | None, int | None]]:
    """The ranges of the model's integer columns on this kind of database (`integer_field_range` is Django's)."""
    return {
        field.attname: connection.ops.integer_field_range(field.get_internal_type())
        for field in model._meta.concrete_fields
        if isinstance(field, models.IntegerField)
    }


def clipped(model: type[models.Model], attname: str, text: str) -> str:
    """`text` cut to the column's `max_length`."""
    return text[: _char_limits(model)[attname]]


def fitted(model: type[models.Model], values: dict[str, Any]) -> dict[str, Any]:
    """`values` (attname -> value), changed in place: texts cut to their column's length and integers held in
    its range, so a hostile tag can neither fail the row nor its batch."""
    limits = _char_limits(model)
    ranges = _integer_ranges(model, connection.vendor)
    for attname, value in values.items():
        if type(value) is str:
            limit = limits.get(attname)
            if limit is not None and len(value) > limit:
                values[attname] = value[:limit]
        elif type(value) is int and attname in ranges:
            low, high = ranges[attname]
            if low is not None and value < low:
                values[attname] = low
            elif high is not None and value > high:
                values[attname] = high
    return values
