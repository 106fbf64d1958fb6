"""On SQLite, the embedded default, a request that writes holds the write lock from
before its first read: another connection's write between the two can no longer
fail it with "database is locked" (SQLite does not wait when a reader upgrades)."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import event, func, select

from kapt_api import clock
from kapt_api.auth import service as auth_service
from kapt_api.auth.models import Role
from kapt_api.clinics.models import Clinic
from kapt_api.db import db

pytestmark = pytest.mark.once  # its own SQLite file whatever the engine under test


def test_a_write_request_holds_the_lock_before_it_reads(sqlite_app):
    application, path = sqlite_app
    admin = auth_service.create_user(
        email="admin@clinic.example",
        full_name="Admin",
        password="correct horse battery staple",
        roles={Role.ADMIN},
    )
    token = auth_service.start_session(admin, now=clock.now()).access_token
    db.session.commit()
    other_writer: list[str] = []

    def another_connection_writes(_session, _context, _instances):
        # Between the request's reads (its login session, its account) and its first write.
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            other.execute(
                "INSERT INTO scheduler_heartbeats (name, beat_at) VALUES ('x', '2026-01-01')"
            )
            other_writer.append("wrote")
        except sqlite3.OperationalError as error:
            other_writer.append(str(error))
        finally:
            other.close()

    event.listen(db.session, "before_flush", another_connection_writes)
    try:
        answer = application.test_client().post(
            "/api/v1/clinics",
            json={"name": "Birch Clinic", "time_zone": "America/Chicago"},
            headers={"Authorization": f"Bearer {token}"},
        )
    finally:
        event.remove(db.session, "before_flush", another_connection_writes)

    assert answer.status_code == 201, answer.json
    assert other_writer[0] == "database is locked"  # it had to wait for the request
    assert db.session.scalar(select(func.count()).select_from(Clinic)) == 1
