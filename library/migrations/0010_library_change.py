"""One row saying when artists, albums or tracks last changed, and a random token naming that state: getIndexes'
`lastModified` and the key of the Subsonic artist index cache. Bumped by triggers, so every write path (bulk
upserts, raw `.update()`, deletes, TRUNCATE) invalidates it; a random token never repeats, even after a
rollback or a flush brings an older state back."""
# ruff: noqa: S608 - every name is a constant of this file; the migration runs no user input

from django.db import migrations

TABLES = ("library_artist", "library_album", "library_track")
NOW_MS = {
    "sqlite": "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)",
    "postgresql": "(extract(epoch FROM clock_timestamp()) * 1000)::bigint",
}
TOKEN = {"sqlite": "lower(hex(randomblob(8)))", "postgresql": "md5(random()::text || clock_timestamp()::text)"}


def _bump(vendor: str) -> str:
    return (
        f"INSERT INTO library_change (id, token, changed_ms) VALUES (1, {TOKEN[vendor]}, {NOW_MS[vendor]}) "
        "ON CONFLICT (id) DO UPDATE SET token = excluded.token, changed_ms = excluded.changed_ms"
    )


def forward(vendor: str) -> list[str]:
    sql = [
        "CREATE TABLE library_change (id integer PRIMARY KEY, token varchar(32) NOT NULL, changed_ms bigint NOT NULL)"
    ]
    if vendor == "sqlite":
        # SQLite has row triggers only; its writers are serialised anyway.
        sql += [
            f"CREATE TRIGGER {table}_change_{event.lower()} AFTER {event} ON {table} FOR EACH ROW BEGIN {_bump(vendor)}; END"
            for table in TABLES
            for event in ("INSERT", "UPDATE", "DELETE")
        ]
    else:
        # A bump takes the one row's lock until commit. Taken in the middle of a transaction it would invert lock
        # order with the artist/album rows two concurrent writers share (a deadlock); so each statement only
        # notes a pending row (inserts never wait for each other), and a deferred trigger turns the notes into
        # the bump at commit, the transaction's last step. Until then the writer's own notes are visible to it
        # alone, and `library.selectors.library_change` reads them too.
        sql += [
            "CREATE TABLE library_change_pending (id bigserial PRIMARY KEY, changed_ms bigint NOT NULL)",
            "CREATE FUNCTION library_change_note() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"INSERT INTO library_change_pending (changed_ms) VALUES ({NOW_MS[vendor]}); RETURN NULL; END $$",
            "CREATE FUNCTION library_change_bump() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"DELETE FROM library_change_pending WHERE id = NEW.id; {_bump(vendor)}; RETURN NULL; END $$",
            "CREATE CONSTRAINT TRIGGER library_change_pending_bump AFTER INSERT ON library_change_pending "
            "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION library_change_bump()",
        ]
        sql += [
            f"CREATE TRIGGER {table}_change AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION library_change_note()"
            for table in TABLES
        ]
    return [*sql, _bump(vendor)]


def backward(vendor: str) -> list[str]:
    if vendor == "sqlite":
        drops = [f"DROP TRIGGER IF EXISTS {t}_change_{e}" for t in TABLES for e in ("insert", "update", "delete")]
    else:
        drops = [f"DROP TRIGGER IF EXISTS {table}_change ON {table}" for table in TABLES]
        drops += [
            "DROP TABLE IF EXISTS library_change_pending",
            "DROP FUNCTION IF EXISTS library_change_bump()",
            "DROP FUNCTION IF EXISTS library_change_note()",
        ]
    return [*drops, "DROP TABLE IF EXISTS library_change"]


def _run(statements_for):  # type: ignore[no-untyped-def]
    def run(apps, schema_editor):  # type: ignore[no-untyped-def]
        with schema_editor.connection.cursor() as cursor:
            for statement in statements_for(schema_editor.connection.vendor):
                cursor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("library", "0009_search_index")]

    operations = [migrations.RunPython(_run(forward), _run(backward))]
