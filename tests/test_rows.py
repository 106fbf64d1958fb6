"""rows.insert_as_loaded writes the rows a flush would write and leaves the objects as if
read back: persistent, nothing pending, every attribute readable without a query."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta
from typing import NamedTuple

import pytest
from sqlalchemy import String, Uuid, bindparam, event, func, inspect, literal, select, text
from sqlalchemy.exc import OperationalError

from kapt_api import clock
from kapt_api.clinics.models import OpeningHours
from kapt_api.db import UTCDateTime, db
from kapt_api.reminders.models import Reminder
from kapt_api.rows import insert_as_loaded, read, write
from tests.conftest import engine_name

DUE = datetime(2027, 3, 1, 9, tzinfo=UTC)


def _statements_while(action):
    sent: list[str] = []

    def note(_conn, _cursor, statement, *_):
        sent.append(statement)

    engine = db.session.get_bind()
    event.listen(engine, "before_cursor_execute", note)
    try:
        action()
    finally:
        event.remove(engine, "before_cursor_execute", note)
    return sent


def _reminder(clinic_id, body: str) -> Reminder:
    return Reminder(clinic_id=clinic_id, channel="email", recipient="a@b.example", body=body,
                    due_at=DUE, next_attempt_at=DUE)  # fmt: skip


def test_rows_are_the_ones_a_flush_writes(make_clinic):
    clinic = make_clinic()
    clock.freeze(datetime(2027, 2, 1, 12, tzinfo=UTC))
    try:
        written = [_reminder(clinic.id, "one"), _reminder(clinic.id, "two")]
        insert_as_loaded(written)
        flushed = _reminder(clinic.id, "three")
        db.session.add(flushed)
        db.session.flush()
    finally:
        clock.unfreeze()
    rows = db.session.execute(
        text(
            "SELECT body, purpose, status, attempts, payload IS NULL, created_at, merged_into "
            "FROM reminders ORDER BY body"
        )
    ).all()
    by_body = {row[0]: row[1:] for row in rows}
    # Defaults filled in alike; the JSON column left NULL, not the JSON value null.
    assert by_body["one"] == by_body["two"] == by_body["three"]
    assert by_body["one"][:4] == ("appointment_reminder", "pending", 0, True)
    assert {r.id for r in written} | {flushed.id} == set(db.session.scalars(select(Reminder.id)))


def test_objects_are_persistent_and_read_without_a_query(make_clinic):
    clinic = make_clinic()
    reminder = _reminder(clinic.id, "hello")
    hours = OpeningHours(clinic_id=clinic.id, weekday=6, opens=time(9), closes=time(12))
    insert_as_loaded([reminder, hours])
    assert inspect(reminder).persistent and inspect(hours).persistent
    assert not (db.session.new or db.session.dirty)
    # The integer key the database numbered is read back.
    assert isinstance(hours.id, int)
    assert db.session.get(OpeningHours, hours.id) is hours

    def read_everything():
        for obj in (reminder, hours):
            for attribute in inspect(obj).mapper.column_attrs:
                getattr(obj, attribute.key)

    assert _statements_while(read_everything) == []
    assert reminder.payload is None and reminder.status == "pending"
    # A change afterwards is an ordinary update.
    reminder.body = "changed"
    db.session.flush()
    assert db.session.scalar(text("SELECT body FROM reminders")) == "changed"


# A statement built once, as read's statements are: an expanding IN, a literal, aware
# times and a label, every kind of value a day schedule reads.
_REMINDERS_OF = select(
    literal("reminder").label("what"), Reminder.id, Reminder.body, Reminder.due_at,
    Reminder.next_attempt_at,
).where(
    Reminder.clinic_id.in_(bindparam("clinic_ids", expanding=True))
).order_by(Reminder.body)  # fmt: skip
_SLEEPING = select(func.pg_sleep(1))


def test_a_read_answers_what_sqlalchemy_answers(make_clinic):
    clinic, other = make_clinic(), make_clinic()
    insert_as_loaded([_reminder(clinic.id, "one"), _reminder(other.id, "two")])
    for clinic_ids in ([clinic.id], [clinic.id, other.id], []):
        parameters = {"clinic_ids": clinic_ids}
        expected = db.session.execute(_REMINDERS_OF, parameters).all()
        found = read(_REMINDERS_OF, parameters)
        assert [tuple(row) for row in found] == [tuple(row) for row in expected]
        assert [(r.what, r.id, r.body, r.due_at) for r in found] == [
            (r.what, r.id, r.body, r.due_at) for r in expected
        ]
    (row,) = read(_REMINDERS_OF, {"clinic_ids": [other.id]})
    assert row.due_at == DUE and row.due_at.utcoffset() == timedelta(0)
    # Listeners on the engine see what is sent (query counts, the commit's mode).
    sent = _statements_while(lambda: read(_REMINDERS_OF, {"clinic_ids": [clinic.id]}))
    assert len(sent) == 1 and "FROM reminders" in sent[0]


class _Listed(NamedTuple):
    what: str
    id: uuid.UUID
    body: str
    due_at: datetime
    next_attempt_at: datetime


def test_a_read_makes_its_rows_as_asked(make_clinic):
    clinic = make_clinic()
    insert_as_loaded([_reminder(clinic.id, "one"), _reminder(clinic.id, "two")])
    parameters = {"clinic_ids": [clinic.id]}
    expected = [tuple(row) for row in read(_REMINDERS_OF, parameters)]
    plain = read(_REMINDERS_OF, parameters, make=tuple)
    assert plain == expected and all(type(row) is tuple for row in plain)
    made = read(_REMINDERS_OF, parameters, make=_Listed._make)
    assert made == expected and all(type(row) is _Listed for row in made)
    assert made[0].due_at == DUE and made[0].due_at.utcoffset() == timedelta(0)


@pytest.mark.skipif(engine_name() != "postgresql", reason="a PostgreSQL statement timeout")
def test_a_failed_read_raises_sqlalchemys_own_error(make_clinic):
    """retries.py and the error handlers (503, a retried conflict) catch SQLAlchemy's
    exception classes: a read sent by the driver raises the same ones."""
    db.session.execute(text("SET LOCAL statement_timeout = 10"))
    with pytest.raises(OperationalError) as raised:
        read(_SLEEPING, {})
    assert raised.value.orig.sqlstate == "57014"  # query_canceled
    db.session.rollback()
    assert read(_REMINDERS_OF, {"clinic_ids": []}) == []


_RENAME = text("UPDATE reminders SET body = :body WHERE clinic_id = :clinic_id").bindparams(
    bindparam("clinic_id", type_=Uuid)
)
_RENAME_RETURNING = (
    text("UPDATE reminders SET body = :body WHERE clinic_id = :clinic_id RETURNING body, due_at")
    .bindparams(bindparam("clinic_id", type_=Uuid))
    .columns(body=String, due_at=UTCDateTime)
)


def test_a_write_answers_what_sqlalchemy_answers(make_clinic):
    clinic = make_clinic()
    insert_as_loaded([_reminder(clinic.id, "one")])
    sent = _statements_while(lambda: write(_RENAME, {"clinic_id": clinic.id, "body": "two"}))
    # No rows returned, none read; the listeners saw the statement.
    assert len(sent) == 1 and sent[0].startswith("UPDATE reminders")
    assert db.session.scalar(select(Reminder.body).where(Reminder.clinic_id == clinic.id)) == "two"
    found = write(_RENAME_RETURNING, {"clinic_id": clinic.id, "body": "three"})
    assert [(r.body, r.due_at) for r in found] == [("three", DUE)]
    assert found[0].due_at.utcoffset() == timedelta(0)
    assert write(_RENAME_RETURNING, {"clinic_id": uuid.uuid4(), "body": "nobody's"}) == []
