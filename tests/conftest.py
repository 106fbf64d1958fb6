"""The fixture chain: a migrated database per run, an app, a client, and a
transaction per test that is rolled back (see test_isolation.py for the proof).

Factories commit to the test's savepoint: an error answer rolls the session back to
the last commit, and what a test set up must survive that (the test's own outer
transaction still undoes everything).

KAPT_TEST_DB chooses the engine: `sqlite` (default) or `postgresql`, the latter
on a fresh database created on KAPT_TEST_POSTGRES_URL's server and dropped after.
"""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from flask_jwt_extended import decode_token
from flask_migrate import upgrade
from sqlalchemy.orm import Session, scoped_session, sessionmaker

from kapt_api import clock, create_app
from kapt_api.auth import service as auth_service
from kapt_api.auth.models import LoginSession, Role, User
from kapt_api.clinics.models import Clinic, OpeningHours, Room, StaffMember, WorkingHours
from kapt_api.db import db
from kapt_api.extensions import limiter
from kapt_api.patients.models import CareTeamMember, Patient
from tests.separate_app import separate_app

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PASSWORD = "correct horse battery staple"
# Tests of the other domains move kapt_api.clock across days and weeks with one login;
# tests/auth checks that a login session ends on time.
SESSION_OUTLASTING_ANY_TEST = datetime(2100, 1, 1, tzinfo=UTC)


def engine_name() -> str:
    return os.environ.get("KAPT_TEST_DB", "sqlite")


def postgres_server_url() -> str:
    return os.environ.get("KAPT_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


def create_postgres_database(prefix: str = "kapt_test") -> str:
    """A new empty database on the test server; returns its URL."""
    server = sa.make_url(postgres_server_url())
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    return server.set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(url: str) -> None:
    target = sa.make_url(url)
    admin = sa.create_engine(sa.make_url(postgres_server_url()), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)')
    admin.dispose()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`make test` runs the suite twice (KAPT_TEST_PASSES=both): tests that do not depend
    on the engine under test run once, in the SQLite pass, and the contract fuzz runs
    once, in the PostgreSQL pass (the production engine)."""
    if os.environ.get("KAPT_TEST_PASSES") != "both":
        return
    on_postgres = engine_name() == "postgresql"

    def wanted(item: pytest.Item) -> bool:
        once = item.get_closest_marker("once") or item.get_closest_marker("slow")
        if item.get_closest_marker("fuzz"):
            return on_postgres
        return not (once and on_postgres)

    kept = [item for item in items if wanted(item)]
    dropped = [item for item in items if not wanted(item)]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def test_overrides(url: str, **extra: Any) -> dict[str, Any]:
    return {"KAPT_ENV": "test", "SQLALCHEMY_DATABASE_URI": url, "KAPT_LOG_LEVEL": "INFO", **extra}


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if engine_name() == "postgresql":
        url = create_postgres_database()
        yield url
        drop_postgres_database(url)
    else:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'kapt.db'}"


@pytest.fixture(scope="session")
def app(database_url: str) -> Iterator[Flask]:
    application = create_app(test_overrides(database_url))
    with application.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        db.session.remove()
    yield application


@pytest.fixture(autouse=True)
def db_session(app: Flask) -> Iterator[Session]:
    """Each test runs inside one outer transaction that is rolled back at the end;
    the code under test commits to savepoints inside it."""
    with app.app_context():
        connection = db.engine.connect()
        outer = connection.begin()
        original = db.session
        # A plain SQLAlchemy session: Flask-SQLAlchemy's own picks the engine, not our connection.
        session = scoped_session(
            sessionmaker(bind=connection, join_transaction_mode="create_savepoint")
        )
        db.session = session
        limiter.reset()
        try:
            yield session()
        finally:
            clock.unfreeze()
            session.remove()
            db.session = original
            outer.rollback()
            connection.close()


@pytest.fixture
def sqlite_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Flask, Path]]:
    """An app on its own SQLite file, as the embedded server runs, for what happens only
    between connections (locks), which the one rolled-back test connection cannot show."""
    path = tmp_path / "kapt.db"
    with separate_app(test_overrides(f"sqlite:///{path}")) as application:
        upgrade(directory=str(ROOT / "migrations"))
        # The suite swaps db.session for its rolled-back test session; the scheduler's
        # threads need the application's own sessions on this file.
        monkeypatch.setattr(db, "session", db._make_scoped_session({}))
        yield application, path
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> Any:
    return app.test_cli_runner()


def row_counts() -> dict[str, int]:
    """How many rows every table holds: a refused request must leave each as it was."""
    return {
        table.name: db.session.scalar(sa.select(sa.func.count()).select_from(table)) or 0
        for table in db.metadata.sorted_tables
    }


# --- factories ---------------------------------------------------------------------------


@pytest.fixture
def make_user() -> Callable[..., User]:
    def make(
        *roles: Role,
        email: str | None = None,
        password: str = PASSWORD,
        full_name: str = "Test User",
    ) -> User:
        user = auth_service.create_user(
            email=email or f"user-{uuid.uuid4().hex[:10]}@clinic.test",
            full_name=full_name,
            password=password,
            roles=set(roles),
        )
        db.session.commit()
        return user

    return make


@pytest.fixture
def make_clinic() -> Callable[..., Clinic]:
    def make(**overrides: Any) -> Clinic:
        values: dict[str, Any] = {
            "name": "Cedar Clinic",
            "time_zone": "America/New_York",
            "phone": "+15555550100",
            "address": "1 Main St",
        }
        values.update(overrides)
        clinic = Clinic(**values)
        clinic.opening_hours = [
            OpeningHours(weekday=d, opens=time(8), closes=time(18)) for d in range(5)
        ]
        db.session.add(clinic)
        db.session.commit()
        return clinic

    return make


@pytest.fixture
def make_room() -> Callable[..., Room]:
    def make(clinic: Clinic, **overrides: Any) -> Room:
        values: dict[str, Any] = {"name": f"Room {uuid.uuid4().hex[:6]}", "kind": "dosing"}
        values.update(overrides)
        room = Room(clinic_id=clinic.id, **values)
        db.session.add(room)
        db.session.commit()
        return room

    return make


@pytest.fixture
def make_staff(make_user: Callable[..., User]) -> Callable[..., StaffMember]:
    def make(clinic: Clinic, *roles: Role, **overrides: Any) -> StaffMember:
        user = make_user(*roles, full_name=overrides.pop("full_name", "Staff Member"))
        staff = StaffMember(user_id=user.id, clinic_id=clinic.id, **overrides)
        staff.working_hours = [
            WorkingHours(weekday=d, starts=time(9), ends=time(17)) for d in range(5)
        ]
        db.session.add(staff)
        db.session.commit()
        return staff

    return make


@pytest.fixture
def make_patient() -> Callable[..., Patient]:
    def make(
        clinic: Clinic,
        care_team: list[StaffMember] | tuple[StaffMember, ...] = (),
        **overrides: Any,
    ) -> Patient:
        values: dict[str, Any] = {
            "given_name": "Avery",
            "family_name": "Quill",
            "date_of_birth": date(1980, 5, 17),
            "email": f"patient-{uuid.uuid4().hex[:8]}@mail.test",
            "phone": "+15555550199",
            "time_zone": clinic.time_zone,
            "preferred_reminder_channel": "email",
            "allergies": "penicillin",
            "clinical_notes": "baseline anxiety",
        }
        values.update(overrides)
        patient = Patient(clinic_id=clinic.id, **values)
        patient.care_team = [CareTeamMember(staff_id=s.id) for s in care_team]
        db.session.add(patient)
        db.session.commit()
        return patient

    return make


@pytest.fixture
def auth_headers() -> Callable[[User], dict[str, str]]:
    """Bearer headers for a user, as a real login would issue them."""

    def headers(user: User) -> dict[str, str]:
        tokens = auth_service.start_session(user, now=clock.now())
        session = db.session.get(LoginSession, decode_token(tokens.access_token)["sid"])
        assert session is not None
        session.expires_at = SESSION_OUTLASTING_ANY_TEST
        db.session.commit()  # as a login does: an error answer's rollback keeps the session
        return {"Authorization": f"Bearer {tokens.access_token}"}

    return headers


@pytest.fixture
def admin(make_user: Callable[..., User]) -> User:
    return make_user(Role.ADMIN, full_name="Ada Admin")


@pytest.fixture
def admin_headers(admin: User, auth_headers: Callable[[User], dict[str, str]]) -> dict[str, str]:
    return auth_headers(admin)
