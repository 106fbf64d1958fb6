"""Reloading the demo for a new day: the schema taken down to nothing and built again
through the migrations, then the demo loaded afresh.

Rows cannot simply be deleted: the audit log is append-only and published protocol
versions are frozen, both by database triggers (migrations 0001 and 0002) that refuse
it, as they should. Dropping a table fires no row trigger, so the schema is dropped
and rebuilt instead:

- PostgreSQL: Alembic's `downgrade base` (tests/test_migrations.py proves it leaves no
  table, function, type or trigger behind), then `upgrade`.
- SQLite: `downgrade base` fails once the tables hold data: SQLite's batch mode drops a
  column by copying its table, and dropping `patients` (0007) while other tables'
  rows refer to it breaks their foreign keys. So every table is dropped instead,
  referring tables first (triggers and indexes go with their tables in SQLite), the
  `alembic_version` table too, and the database is upgraded from nothing.

Whether the database may be reset at all (empty, or the demo alone; never in
production) is the CLI's to decide first.
"""

from __future__ import annotations

from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from kapt_api.db import db


def rebuild_schema() -> None:
    """Every table, trigger and function dropped, then the schema built again at head."""
    # The migrations use connections of their own: nothing of this session may hold
    # a lock on the tables they drop.
    db.session.remove()
    db.engine.dispose()
    if db.engine.dialect.name == "sqlite":
        _drop_sqlite_tables()
    else:
        downgrade(revision="base")
    upgrade()
    db.session.remove()


def _drop_sqlite_tables() -> None:
    with db.engine.begin() as connection:
        db.metadata.drop_all(connection)
        if inspect(connection).has_table("alembic_version"):
            connection.exec_driver_sql("DROP TABLE alembic_version")
