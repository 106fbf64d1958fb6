"""`flask kapt demo-data --reset` reloads the demo for a new day on a database of its
own, SQLite and PostgreSQL: the schema comes back exactly as the migrations build it,
with the demo loaded afresh (the append-only audit log and frozen protocol versions
included, which no row delete could clear)."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from kapt_api.auth.models import AuditEvent, User
from kapt_api.clinics.models import Clinic
from kapt_api.db import db
from kapt_api.demo import LOGINS
from tests.test_migrations import empty_app, flask_db, schema_differences, table_names

# Builds its own database of each engine: run in one pass only.
pytestmark = pytest.mark.once
__all__ = ["empty_app"]  # the fixture, from the migrations test


@pytest.fixture
def own_session(empty_app: Flask, monkeypatch: pytest.MonkeyPatch) -> Flask:
    """The app on the fresh database with a session of its own (the suite's session
    is bound to the suite's database)."""
    monkeypatch.setattr(db, "session", db._make_scoped_session({}))
    return empty_app


def kapt(app: Flask, *args: str) -> Any:
    with app.app_context():
        return app.test_cli_runner().invoke(args=["kapt", *args])


def count(app: Flask, model: Any) -> int:
    with app.app_context():
        return int(db.session.scalar(select(func.count()).select_from(model)) or 0)


def admin_id(app: Flask) -> Any:
    with app.app_context():
        return db.session.scalar(select(User.id).where(User.email == LOGINS[0].email))


def test_reset_replaces_the_demo_with_a_fresh_one(own_session):
    app = own_session
    flask_db(app, "upgrade")
    loaded = kapt(app, "demo-data", "--if-empty")
    assert loaded.exit_code == 0, loaded.output
    first_admin, audited = admin_id(app), count(app, AuditEvent)

    result = kapt(app, "demo-data", "--reset")

    assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"
    assert "Demo clinic reloaded in" in result.output
    assert all(login.email in result.output for login in LOGINS)
    assert schema_differences(app) == []
    assert count(app, User) == len(LOGINS) and count(app, Clinic) == 1
    assert admin_id(app) != first_admin
    assert 0 < count(app, AuditEvent) <= audited * 1.1


def test_reset_builds_the_demo_on_a_database_never_migrated(own_session):
    app = own_session

    result = kapt(app, "demo-data", "--reset")

    assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"
    assert "alembic_version" in table_names(app)
    assert schema_differences(app) == []
    assert count(app, User) == len(LOGINS)
