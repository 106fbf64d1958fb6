"""A request whose transaction met another one runs again inside the request: the
errors that say so (real ones, made with two connections), the bounded and jittered
loop, and what a client sees when a collision is retried and when every attempt
collides."""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.exc import OperationalError

from kapt_api import retries
from kapt_api.auth.models import AuditEvent
from kapt_api.clinics import service as clinics
from kapt_api.clinics.models import Clinic
from kapt_api.db import db, is_busy, is_transient
from kapt_api.errors import DatabaseBusy
from tests.conftest import engine_name

CLINIC = {"name": "Larch Clinic", "time_zone": "America/Denver"}
NO_WAIT = retries.Backoff(first_wait=0, longest_wait=0)


def logged(caplog: pytest.LogCaptureFixture, event: str) -> list[dict[str, Any]]:
    lines = [json.loads(record.getMessage()) for record in caplog.records]
    return [line for line in lines if line.get("event") == event]


def collision(kind: str) -> OperationalError:
    """The error SQLAlchemy raises when the database reports a collision of this kind."""
    originals: dict[str, Exception] = {
        "deadlock": psycopg.errors.DeadlockDetected("deadlock detected"),
        "serialization": psycopg.errors.SerializationFailure("could not serialize access"),
        "busy": sqlite3.OperationalError("database is locked"),
    }
    return OperationalError("INSERT INTO appointments ...", {}, originals[kind])


# --- the errors that count -------------------------------------------------------------------


def test_a_busy_sqlite_database_is_transient(tmp_path):
    path = tmp_path / "busy.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN IMMEDIATE")
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        with pytest.raises(sqlite3.OperationalError) as refused:
            other.execute("INSERT INTO t VALUES (1)")
    finally:
        other.close()
        holder.close()
    assert is_busy(refused.value) and is_transient(refused.value)
    assert is_transient(OperationalError("INSERT", {}, refused.value))


@pytest.mark.skipif(engine_name() != "postgresql", reason="a deadlock needs PostgreSQL")
def test_a_real_deadlock_is_transient(app):
    """Two connections lock two rows in opposite orders: PostgreSQL fails one with 40P01."""
    table = f"deadlock_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    with engine.begin() as setup:
        setup.exec_driver_sql(f"CREATE TABLE {table} (id int PRIMARY KEY)")
        setup.exec_driver_sql(f"INSERT INTO {table} VALUES (1), (2)")  # noqa: S608 - the name is ours
    both_hold_one = threading.Barrier(2)
    failures: list[BaseException] = []

    def lock(first: int, second: int) -> None:
        with engine.connect() as connection, connection.begin():
            lock_row = f"SELECT id FROM {table} WHERE id = %s FOR UPDATE"  # noqa: S608 - the name is ours
            connection.exec_driver_sql(lock_row, (first,))
            both_hold_one.wait(timeout=10)
            try:
                connection.exec_driver_sql(lock_row, (second,))
            except OperationalError as error:
                failures.append(error)

    try:
        racers = [threading.Thread(target=lock, args=pair) for pair in ((1, 2), (2, 1))]
        for racer in racers:
            racer.start()
        for racer in racers:
            racer.join(timeout=30)
    finally:
        with engine.begin() as cleanup:
            cleanup.exec_driver_sql(f"DROP TABLE {table}")
        engine.dispose()
    [deadlock] = failures
    assert getattr(deadlock.orig, "sqlstate", None) == "40P01"
    assert is_transient(deadlock)


def test_other_database_errors_are_not_transient():
    down = OperationalError("SELECT 1", {}, psycopg.OperationalError("connection refused"))
    assert not is_transient(down)
    assert not is_transient(
        OperationalError("SELECT 1", {}, sqlite3.OperationalError("no such table"))
    )


# --- the loop ------------------------------------------------------------------------------


class Failing:
    """An attempt that meets `times` collisions of `kind`, then succeeds."""

    def __init__(self, times: int, kind: str = "deadlock") -> None:
        self.times, self.kind, self.calls = times, kind, 0

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.times:
            raise collision(self.kind)
        return f"done after {self.calls}"


@pytest.mark.parametrize("kind", ["deadlock", "serialization", "busy"])
def test_a_collision_is_tried_again_after_starting_over(kind):
    started_over: list[int] = []
    pauses: list[float] = []
    done = retries.run(
        Failing(2, kind), start_over=lambda: started_over.append(1), sleep=pauses.append
    )
    assert done == "done after 3"
    assert len(started_over) == len(pauses) == 2


def test_every_attempt_colliding_is_database_busy():
    policy = retries.Backoff(attempts=4, first_wait=0, longest_wait=0)
    attempt = Failing(99)
    with pytest.raises(DatabaseBusy):
        retries.run(attempt, backoff=policy, sleep=lambda _s: None)
    assert attempt.calls == 4


def test_no_new_attempt_once_the_time_allowed_is_spent():
    policy = retries.Backoff(attempts=99, first_wait=0, longest_wait=0, budget=0)
    attempt = Failing(99)
    with pytest.raises(DatabaseBusy):
        retries.run(attempt, backoff=policy, sleep=lambda _s: None)
    assert attempt.calls == 1


def test_an_error_that_is_not_a_collision_is_not_retried():
    def attempt() -> None:
        raise OperationalError("SELECT 1", {}, psycopg.OperationalError("connection refused"))

    with pytest.raises(OperationalError):
        retries.run(attempt, sleep=lambda _s: pytest.fail("slept"))


@given(retry=st.integers(min_value=1, max_value=60), seed=st.integers())
def test_pauses_are_jittered_below_a_growing_bound(retry, seed):
    import random

    policy = retries.BACKOFF
    bound = min(policy.longest_wait, policy.first_wait * 2 ** (retry - 1))
    assert 0 <= policy.wait(retry, random.Random(seed)) <= bound <= policy.longest_wait


# --- what a client sees --------------------------------------------------------------------


@pytest.fixture
def collide(monkeypatch):
    """Make creating a clinic meet `times` collisions of `kind` before it goes through."""

    def install(times: int, kind: str = "deadlock") -> list[int]:
        calls: list[int] = []
        real = clinics.create_clinic

        def create_clinic(**kwargs: Any) -> Clinic:
            calls.append(1)
            clinic = real(**kwargs)
            db.session.flush()  # the work is under way when the database gives up
            if len(calls) <= times:
                raise collision(kind)
            return clinic

        monkeypatch.setattr(clinics, "create_clinic", create_clinic)
        monkeypatch.setattr(retries, "BACKOFF", NO_WAIT)
        return calls

    return install


def clinics_named(name: str) -> int:
    return len(db.session.scalars(sa.select(Clinic).where(Clinic.name == name)).all())


@pytest.mark.parametrize("kind", ["deadlock", "busy"])
def test_a_retried_request_is_answered_by_its_last_attempt(
    client, admin_headers, collide, caplog, kind
):
    calls = collide(2, kind)

    answer = client.post("/api/v1/clinics", json=CLINIC, headers=admin_headers)

    assert answer.status_code == 201, answer.get_json()
    assert len(calls) == 3
    assert clinics_named("Larch Clinic") == 1  # the attempts rolled back left nothing
    created = db.session.scalars(
        sa.select(AuditEvent).where(
            AuditEvent.resource_id == answer.get_json()["id"], AuditEvent.action == "create"
        )
    ).all()
    assert [event.outcome for event in created] == ["success"]
    retried = logged(caplog, "transaction_retried")
    assert [line["attempt"] for line in retried] == [1, 2]
    assert {line["request_id"] for line in retried} == {answer.headers["X-Request-ID"]}
    assert "Larch" not in str(retried)


def test_a_request_whose_every_attempt_collides_is_503_database_busy(
    client, admin_headers, collide, caplog
):
    calls = collide(99, "serialization")

    answer = client.post("/api/v1/clinics", json=CLINIC, headers=admin_headers)

    assert answer.status_code == 503
    assert answer.mimetype == "application/problem+json"
    assert answer.get_json()["code"] == "database_busy"
    assert answer.headers["Retry-After"] == "1"
    assert len(calls) == NO_WAIT.attempts
    assert clinics_named("Larch Clinic") == 0
    [busy] = logged(caplog, "database_busy")
    assert busy["attempts"] == NO_WAIT.attempts and busy["sqlstate"] == "40001"


def test_an_idempotency_key_survives_a_retried_attempt(client, admin_headers, collide):
    """The failed attempt releases its claim; the next claims it again and stores the answer."""
    calls = collide(1)
    headers = {**admin_headers, "Idempotency-Key": "open-larch"}

    first = client.post("/api/v1/clinics", json=CLINIC, headers=headers)
    again = client.post("/api/v1/clinics", json=CLINIC, headers=headers)

    assert first.status_code == again.status_code == 201, first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json()["id"] == first.get_json()["id"]
    assert len(calls) == 2
    assert clinics_named("Larch Clinic") == 1
