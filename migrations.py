"""Schema upgrades for existing databases: new tables, new columns, then numbered steps, once each.

New tables come from `create_tables(safe=True)`. A column added to an existing model is added to
the live table by `add_missing_columns`, so most new fields need nothing here. Anything else
(renames, backfills, type changes) is a numbered step: append a function to STEPS, never reorder.
"""
from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Callable, Iterator

from peewee import IntegerField, Model, PostgresqlDatabase, SqliteDatabase
from playhouse.migrate import SchemaMigrator, migrate

import models

log = logging.getLogger("handoff.migrations")


class SchemaVersion(models.BaseModel):
    """One row: how many of STEPS this database has run."""
    version = IntegerField(default=0)

    class Meta:
        table_name = "schema_version"


Step = Callable[[SchemaMigrator], None]
STEPS: list[Step] = []  # STEPS[0] is version 1; append only


def add_missing_columns(migrator: SchemaMigrator, tables: list[type[Model]]) -> list[str]:
    """Add every model column the live table lacks; the names added, as table.column."""
    database, added = migrator.database, []
    for model in tables:
        table = model._meta.table_name
        present = {c.name.lower() for c in database.get_columns(table)}
        for field in model._meta.sorted_fields:
            if field.column_name.lower() in present:
                continue
            if not field.null and field.default is None:
                raise RuntimeError(f"{table}.{field.column_name} is NOT NULL without a default: "
                                   "give it a default or add a numbered step in migrations.STEPS")
            if field.unique and not field.null:
                raise RuntimeError(f"{table}.{field.column_name} is unique and NOT NULL: existing rows "
                                   "cannot share one default; add a numbered step in migrations.STEPS")
            if isinstance(database, SqliteDatabase) and not field.null:
                # SQLite can only add NOT NULL by rebuilding the table, and a rebuild under
                # foreign keys would cascade-delete child rows: keep it nullable, fill the default.
                field = field.clone()
                field.null = True
                migrate(migrator.add_column(table, field.column_name, field),
                        migrator.apply_default(table, field.column_name, field))
            else:
                migrate(migrator.add_column(table, field.column_name, field))
            added.append(f"{table}.{field.column_name}")
    return added


@contextmanager
def exclusive(database) -> Iterator[None]:
    """One process at a time: workers starting together must not create or seed twice."""
    if isinstance(database, PostgresqlDatabase):
        with database.atomic():
            database.execute_sql("SELECT pg_advisory_xact_lock(%s)", (0x48414E44,))
            yield
    elif isinstance(database, SqliteDatabase):
        with database.atomic("IMMEDIATE"):
            yield
    else:
        with database.atomic():
            yield


def upgrade(tables: list[type[Model]] | None = None) -> list[str]:
    """Bring the connected database up to the models; what changed, for the log."""
    tables = list(models.TABLES if tables is None else tables)
    database = models.db.obj
    migrator = SchemaMigrator.from_database(database)
    existing = set(database.get_tables())
    # New tables first (new columns may point at them), without indexes on old tables yet:
    # an index on a column that is still missing would fail.
    fresh = [m for m in tables if m._meta.table_name not in existing]
    database.create_tables(fresh + [SchemaVersion], safe=True)
    changes = [f"created {m._meta.table_name}" for m in fresh]
    changes += [f"added {name}" for name in
                add_missing_columns(migrator, [m for m in tables if m._meta.table_name in existing])]
    # A database made before versioning runs every step; a brand-new one is already current.
    legacy = any(m._meta.table_name in existing for m in tables)
    row = SchemaVersion.select().first() or SchemaVersion.create(version=0 if legacy else len(STEPS))
    for number, step in enumerate(STEPS[row.version:], start=row.version + 1):
        step(migrator)
        changes.append(f"step {number}: {step.__doc__ or step.__name__}")
    if row.version != len(STEPS):
        SchemaVersion.update(version=len(STEPS)).execute()
    database.create_tables(tables, safe=True)  # indexes declared since, now that their columns exist
    for change in changes:
        log.info("schema: %s", change)
    return changes
