"""rows.insert_as_loaded writes the rows a flush would write and leaves the objects as if
read back: persistent, nothing pending, every attribute readable without a query."""

from __future__ import annotations

from datetime import UTC, datetime, time

from sqlalchemy import event, inspect, select, text

from kapt_api import clock
from kapt_api.clinics.models import OpeningHours
from kapt_api.db import db
from kapt_api.reminders.models import Reminder
from kapt_api.rows import insert_as_loaded

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
