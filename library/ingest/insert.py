"""Plain INSERTs of many new rows, for the import's tracks, credits and genres.

`QuerySet.bulk_create` builds a model instance per row and compiles every value of every field into its
statement: for tracks (45 columns) that cost several times the INSERT itself. Here rows are dicts keyed by
field attname and go to the driver as multi-row INSERTs, as many rows a statement as it binds values: SQLite
makes each statement a savepoint, where the FTS5 search index (filled by the tracks' triggers) writes out what it
holds, so one statement per row cost more than the rows themselves. That is only correct for fields
whose value needs nothing from Django but its `get_db_prep_save` (and a timestamp for `auto_now`/`auto_now_add`),
so the models it serves are listed in `PLAIN_INSERT_MODELS` and the `library.E001` system check refuses any of
their fields that could need more: a field class outside `_PLAIN_FIELD_CLASSES` (a subclass may override
`pre_save` or its conversion), a database default, a generated column.
"""

from __future__ import annotations

import operator
import sqlite3
from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.core import checks
from django.db import connection, models
from django.utils import timezone

from library.models import Track, TrackArtist

# Exact classes (not their subclasses) whose `pre_save` only reads the attribute (or stamps the time, for
# DateTimeField's auto_now/auto_now_add) and whose `get_db_prep_save` is all the conversion a value needs.
_PLAIN_FIELD_CLASSES: frozenset[type[models.Field[Any, Any]]] = frozenset(
    {
        models.AutoField,
        models.BigAutoField,
        models.CharField,
        models.TextField,
        models.IntegerField,
        models.BigIntegerField,
        models.PositiveIntegerField,
        models.PositiveBigIntegerField,
        models.PositiveSmallIntegerField,
        models.SmallIntegerField,
        models.BooleanField,
        models.FloatField,
        models.DateTimeField,
        models.JSONField,
        models.ForeignKey,
    }
)
# Their values go to the driver unconverted: str, int, float, bool, None (foreign keys by their id).
_UNCONVERTED = (
    models.CharField,
    models.TextField,
    models.IntegerField,
    models.BooleanField,
    models.FloatField,
    models.ForeignKey,
)


PLAIN_INSERT_MODELS: tuple[type[models.Model], ...] = (Track, TrackArtist, Track.genres.through)


def check_plain_insert_models(app_configs: Sequence[AppConfig] | None, **_kwargs: Any) -> list[checks.CheckMessage]:
    """library.E001: a field `insert_rows` would write wrongly."""
    errors: list[checks.CheckMessage] = []
    for model in PLAIN_INSERT_MODELS:
        for field in model._meta.concrete_fields:
            reason = ""
            if type(field) not in _PLAIN_FIELD_CLASSES:
                reason = f"its class {type(field).__name__} is not one insert_rows knows"
            elif field.has_db_default():
                reason = "it has a database default"
            if reason:
                errors.append(
                    checks.Error(
                        f"{model.__name__}.{field.name} cannot be written by library.ingest.insert: {reason}.",
                        hint="Insert this model with QuerySet.bulk_create, or teach insert_rows the field.",
                        obj=field,
                        id="library.E001",
                    )
                )
    return errors


def insert_rows(model: type[models.Model], rows: Sequence[dict[str, Any]]) -> None:
    """INSERT `rows` (dicts of field attname -> value; missing fields take their defaults, `auto_now` and
    `auto_now_add` dates one timestamp for the whole call) in as few statements as the database binds values
    for; no ids are read back.
    Constraint violations raise `IntegrityError` as from the ORM. Runs inside the caller's transaction."""
    if not rows:
        return
    assert model in PLAIN_INSERT_MODELS, f"{model.__name__} is not checked for plain inserts"
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    now = timezone.now()
    converted = [field for field in fields if not isinstance(field, _UNCONVERTED)]
    defaults: dict[str, Any] = {}
    for field in fields:  # converted once per call: most rows leave the timestamps and JSON defaults alone
        auto_now = isinstance(field, models.DateTimeField) and (field.auto_now or field.auto_now_add)
        default = now if auto_now else field.get_default()
        defaults[field.attname] = field.get_db_prep_save(default, connection) if field in converted else default
    attnames = [field.attname for field in fields]
    pick = operator.itemgetter(*attnames)
    params = []
    for row in rows:
        values = {**defaults, **row}
        for field in converted:
            if field.attname in row:
                values[field.attname] = field.get_db_prep_save(row[field.attname], connection)
        params.append(pick(values) if len(attnames) > 1 else (pick(values),))
    table = connection.ops.quote_name(model._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(str(field.column)) for field in fields)
    one_row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    per_statement = max(1, _bound_values_limit() // len(fields))
    with connection.cursor() as cursor:
        for start in range(0, len(params), per_statement):
            chunk = params[start : start + per_statement]
            placeholders = ", ".join([one_row] * len(chunk))
            bound = [value for row_values in chunk for value in row_values]
            # Only quoted names from the model's own metadata and placeholders are formatted in; values are bound.
            cursor.execute(f"INSERT INTO {table} ({columns}) VALUES {placeholders}", bound)  # noqa: S608


# PostgreSQL's wire protocol counts a statement's parameters in 16 bits.
_POSTGRESQL_BOUND_VALUES = 65535


def _bound_values_limit() -> int:
    """How many values one statement may bind. SQLite's is read from the connection: Django assumes the
    default of SQLite releases before 3.32 (999), a tenth of what current ones take."""
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        return int(connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))
    return connection.features.max_query_params or _POSTGRESQL_BOUND_VALUES
