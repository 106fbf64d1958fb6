"""The migrations build exactly the models' schema, on SQLite and PostgreSQL, from an
empty database, and take it all down again: what `flask db upgrade` (the compose
`migrate` service) does in production is what the code expects to find."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask

from kapt_api import clock
from kapt_api.auth.models import AuditEvent
from kapt_api.db import db
from tests import conftest
from tests.ops.databases import fresh_postgres_database
from tests.separate_app import separate_app

# Engine-independent (it builds both databases itself, or none): run in one pass only.
pytestmark = pytest.mark.once


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Flask]:
    """An app on a brand-new, empty database of each engine."""
    if request.param == "sqlite":
        yield from _app_on(f"sqlite:///{tmp_path / 'fresh.db'}")
    else:
        with fresh_postgres_database("kapt_migrations") as url:
            yield from _app_on(url)


def _app_on(url: str) -> Iterator[Flask]:
    with separate_app(conftest.test_overrides(url)) as app:
        assert table_names(app) == set()
        try:
            yield app
        finally:
            db.engine.dispose()


def flask_db(app: Flask, *args: str) -> None:
    """Run `flask db <args>` through the real CLI command, on this app's database
    (its context pushed over the test session's, which the command would use otherwise)."""
    with app.app_context():
        result = app.test_cli_runner().invoke(args=["db", *args])
    assert result.exit_code == 0, f"flask db {' '.join(args)} failed:\n{result.output}" + (
        f"\n{result.exception!r}" if result.exception else ""
    )


def schema_differences(app: Flask) -> list[Any]:
    """What autogenerate would write to make the database match the models:
    tables, columns, types, nullability, indexes, unique constraints, foreign keys,
    plus the named CHECK constraints (which autogenerate does not compare)."""
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences: list[Any] = list(compare_metadata(context, db.metadata))
        inspector = sa.inspect(connection)
        for table in db.metadata.sorted_tables:
            declared = {
                str(c.name)
                for c in table.constraints
                if isinstance(c, sa.CheckConstraint) and c.name is not None
            }
            found = {c["name"] for c in inspector.get_check_constraints(table.name)}
            if declared != found:
                differences.append(("check_constraints", table.name, declared, found))
    return differences


def table_names(app: Flask) -> set[str]:
    with app.app_context(), db.engine.connect() as connection:
        return set(sa.inspect(connection).get_table_names())


def leftovers(app: Flask) -> dict[str, list[str]]:
    """Schema objects that are not tables but would survive a careless downgrade."""
    with app.app_context(), db.engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            rows = connection.exec_driver_sql(
                "SELECT type, name FROM sqlite_master "
                "WHERE type IN ('trigger', 'view', 'index') AND name NOT LIKE 'sqlite_%'"
            )
            found: dict[str, list[str]] = {}
            for kind, name in rows:
                found.setdefault(kind, []).append(name)
            return found
        queries = {
            "function": "SELECT p.proname FROM pg_proc p JOIN pg_namespace n "
            "ON n.oid = p.pronamespace WHERE n.nspname = 'public' "
            "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')",
            "type": "SELECT t.typname FROM pg_type t JOIN pg_namespace n "
            "ON n.oid = t.typnamespace WHERE n.nspname = 'public' AND t.typtype IN ('e', 'd') "
            "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = t.oid AND d.deptype = 'e')",
            "trigger": "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal",
            "view": "SELECT viewname FROM pg_views WHERE schemaname = 'public'",
        }
        return {
            kind: names
            for kind, sql in queries.items()
            if (names := list(connection.exec_driver_sql(sql).scalars()))
        }


def test_upgrade_of_an_empty_database_builds_exactly_the_models_schema(empty_app):
    flask_db(empty_app, "upgrade")

    assert table_names(empty_app) == {t.name for t in db.metadata.sorted_tables} | {
        "alembic_version"
    }
    assert schema_differences(empty_app) == []


def test_downgrade_to_base_removes_everything_and_upgrade_works_again(empty_app):
    flask_db(empty_app, "upgrade")
    flask_db(empty_app, "downgrade", "base")

    assert table_names(empty_app) == {"alembic_version"}
    assert leftovers(empty_app) == {}

    flask_db(empty_app, "upgrade")
    assert schema_differences(empty_app) == []


def test_upgrade_makes_the_audit_log_append_only(empty_app):
    flask_db(empty_app, "upgrade")
    audit = AuditEvent.__table__
    event_id = uuid.uuid4()

    with empty_app.app_context():
        with db.engine.begin() as connection:
            connection.execute(
                audit.insert().values(
                    id=event_id,
                    occurred_at=clock.now(),
                    action="read",
                    resource_type="patient",
                    outcome="allowed",
                )
            )
        attempts = {
            "update": audit.update().where(audit.c.id == event_id).values(action="forged"),
            "delete": audit.delete().where(audit.c.id == event_id),
        }
        for statement in attempts.values():
            with pytest.raises(sa.exc.DBAPIError, match="append-only"), db.engine.begin() as conn:
                conn.execute(statement)
        with db.engine.connect() as connection:
            row = connection.execute(sa.select(audit.c.action).where(audit.c.id == event_id))
            assert row.scalar_one() == "read"
