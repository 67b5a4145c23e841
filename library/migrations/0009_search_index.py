"""A full-text index for search: one row per artist, album and present track, holding the folded words a search
matches (`library.text.fold` keys, so accents and case are already gone and both backends agree).

Kept in sync by database triggers, the one place every write path reaches: the scanner's bulk upserts, downloads,
admin and API edits, and raw `.update()` calls alike. SQLite: FTS5 tables with the trigram tokenizer (fragments
inside words of 3+ characters come from the index). PostgreSQL: plain tables with a pg_trgm GIN index serving
`LIKE '%word%'`.
"""
# ruff: noqa: S608 - every name is a constant of this file; the migration runs no user input

from django.db import migrations

# kind -> (the indexed table, the SELECT of (id, body) rows from the library, filtered by a WHERE appended later)
SOURCES = {
    "artist": ("library_artist", "SELECT a.id, a.name_key FROM library_artist a WHERE {where}"),
    "album": (
        "library_album",
        "SELECT al.id, al.name_key || ' ' || ar.name_key FROM library_album al "
        "JOIN library_artist ar ON ar.id = al.album_artist_id WHERE {where}",
    ),
    "track": (
        "library_track",
        "SELECT t.id, t.title_key || ' ' || ar.name_key || ' ' || al.name_key FROM library_track t "
        "JOIN library_artist ar ON ar.id = t.artist_id JOIN library_album al ON al.id = t.album_id "
        "WHERE NOT t.is_missing AND {where}",
    ),
}
ALIASES = {"artist": "a", "album": "al", "track": "t"}

# table -> (the columns whose change alters an index row, the rows to rebuild on insert/update as (kind, column
# of that kind's row that must equal NEW.id))
TRIGGERS = {
    "library_artist": ("name_key", [("artist", "id"), ("album", "album_artist_id"), ("track", "artist_id")]),
    "library_album": ("name_key, album_artist_id", [("album", "id"), ("track", "album_id")]),
    "library_track": ("title_key, artist_id, album_id, is_missing", [("track", "id")]),
}
KIND_OF = {"library_artist": "artist", "library_album": "album", "library_track": "track"}


def index_table(kind: str) -> str:
    return f"library_{kind}_search"


def _id_column(vendor: str) -> str:
    return "rowid" if vendor == "sqlite" else "item_id"


def _rebuild(vendor: str, kind: str, column: str, record: str) -> list[str]:
    base, select = SOURCES[kind]
    where = f"{ALIASES[kind]}.{column} = {record}.id"
    id_column = _id_column(vendor)
    return [
        f"DELETE FROM {index_table(kind)} WHERE {id_column} IN (SELECT id FROM {base} WHERE {column} = {record}.id)",
        f"INSERT INTO {index_table(kind)} ({id_column}, body) {select.format(where=where)}",
    ]


def _on_update(vendor: str, table: str) -> list[str]:
    return [statement for kind, column in TRIGGERS[table][1] for statement in _rebuild(vendor, kind, column, "NEW")]


def _on_insert(vendor: str, table: str) -> list[str]:
    return _rebuild(vendor, KIND_OF[table], "id", "NEW")


def _on_delete(vendor: str, table: str) -> list[str]:
    return [f"DELETE FROM {index_table(KIND_OF[table])} WHERE {_id_column(vendor)} = OLD.id"]


def _sqlite_forward() -> list[str]:
    sql = [f"CREATE VIRTUAL TABLE {index_table(kind)} USING fts5(body, tokenize='trigram')" for kind in SOURCES]
    for table, (columns, _) in TRIGGERS.items():
        for event, statements in (
            ("INSERT", _on_insert("sqlite", table)),
            (f"UPDATE OF {columns}", _on_update("sqlite", table)),
            ("DELETE", _on_delete("sqlite", table)),
        ):
            name = f"{table}_search_{event.split()[0].lower()}"
            body = "".join(f"{statement}; " for statement in statements)
            sql.append(f"CREATE TRIGGER {name} AFTER {event} ON {table} FOR EACH ROW BEGIN {body}END")
    return sql


def _postgresql_forward() -> list[str]:
    sql = ["CREATE EXTENSION IF NOT EXISTS pg_trgm"]
    for kind in SOURCES:
        sql += [
            f"CREATE TABLE {index_table(kind)} (item_id integer PRIMARY KEY, body text NOT NULL)",
            f"CREATE INDEX {index_table(kind)}_trgm ON {index_table(kind)} USING gin (body gin_trgm_ops)",
        ]
    for table, (columns, _) in TRIGGERS.items():
        branches = {
            "INSERT": _on_insert("postgresql", table),
            "UPDATE": _on_update("postgresql", table),
            "DELETE": _on_delete("postgresql", table),
        }
        body = " ".join(
            f"{'IF' if i == 0 else 'ELSIF'} TG_OP = '{op}' THEN {' '.join(s + ';' for s in statements)}"
            for i, (op, statements) in enumerate(branches.items())
        )
        sql += [
            f"CREATE FUNCTION {table}_search_sync() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN {body} END IF; RETURN NULL; END $$",
            f"CREATE TRIGGER {table}_search_sync AFTER INSERT OR DELETE OR UPDATE OF {columns} ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {table}_search_sync()",
            # TRUNCATE fires no row triggers (Django's flush uses it): empty the index with the table.
            f"CREATE FUNCTION {table}_search_truncate() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN TRUNCATE {index_table(KIND_OF[table])}; RETURN NULL; END $$",
            f"CREATE TRIGGER {table}_search_truncate AFTER TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {table}_search_truncate()",
        ]
    return sql


def _fill(vendor: str) -> list[str]:
    return [
        f"INSERT INTO {index_table(kind)} ({_id_column(vendor)}, body) {select.format(where='1 = 1')}"
        for kind, (_, select) in SOURCES.items()
    ]


def _backward(vendor: str) -> list[str]:
    sql = []
    for table in TRIGGERS:
        if vendor == "sqlite":
            sql += [f"DROP TRIGGER IF EXISTS {table}_search_{event}" for event in ("insert", "update", "delete")]
        else:
            sql += [
                f"DROP TRIGGER IF EXISTS {table}_search_sync ON {table}",
                f"DROP TRIGGER IF EXISTS {table}_search_truncate ON {table}",
                f"DROP FUNCTION IF EXISTS {table}_search_sync()",
                f"DROP FUNCTION IF EXISTS {table}_search_truncate()",
            ]
    return sql + [f"DROP TABLE IF EXISTS {index_table(kind)}" for kind in SOURCES]


def _run(statements_for):  # type: ignore[no-untyped-def]
    def run(apps, schema_editor):  # type: ignore[no-untyped-def]
        vendor = schema_editor.connection.vendor
        if vendor not in ("sqlite", "postgresql"):
            raise RuntimeError(f"The search index supports SQLite and PostgreSQL, not {vendor}.")
        with schema_editor.connection.cursor() as cursor:
            for statement in statements_for(vendor):
                cursor.execute(statement)

    return run


def forward(vendor: str) -> list[str]:
    return (_sqlite_forward() if vendor == "sqlite" else _postgresql_forward()) + _fill(vendor)


class Migration(migrations.Migration):
    dependencies = [("library", "0008_pending_listen")]

    operations = [migrations.RunPython(_run(forward), _run(_backward))]
