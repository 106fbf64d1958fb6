"""A booking whose transaction meets another one: it is tried again and answered by the
rules as they stand then, and a change takes its clinics' schedules first, in clinic id
order, whatever the order of its items (docs/concurrency.md)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa

from kapt_api import retries
from kapt_api.db import db
from kapt_api.scheduling.booking import service
from kapt_api.scheduling.booking.models import Appointment
from tests.conftest import engine_name
from tests.scheduling.conftest import API, PROBLEM, at
from tests.test_retries import NO_WAIT, collision

pytestmark = pytest.mark.usefixtures("now")


@pytest.fixture
def first_attempt_collides(monkeypatch):
    """service.book's first call meets a deadlock once it has written, after
    `meanwhile(book)` (what another request commits while this one waits) has run."""

    def install(meanwhile: Callable[[Callable[..., Appointment]], None] = lambda _book: None):
        calls: list[int] = []
        real = service.book

        def book_then_collide(**kwargs: Any) -> Appointment:
            calls.append(1)
            appointment = real(**kwargs)
            if len(calls) == 1:
                db.session.rollback()
                meanwhile(real)
                raise collision("deadlock")
            return appointment

        monkeypatch.setattr(service, "book", book_then_collide)
        monkeypatch.setattr(retries, "BACKOFF", NO_WAIT)
        return calls

    return install


def booking(course, place, starts_at: datetime) -> dict[str, Any]:
    return {
        "course_id": course.id,
        "kind": "preparation",
        "starts_at": starts_at,
        "room_id": place.therapy_room.id,
    }


def as_json(body: dict[str, Any]) -> dict[str, str]:
    return {k: v.isoformat() if isinstance(v, datetime) else str(v) for k, v in body.items()}


def appointments_of(course) -> list[Appointment]:
    return list(
        db.session.scalars(sa.select(Appointment).where(Appointment.course_id == course.id))
    )


def test_a_retried_booking_is_booked_once(
    client, auth_headers, place, course, first_attempt_collides
):
    calls = first_attempt_collides()

    answer = client.post(
        f"{API}/appointments",
        json=as_json(booking(course, place, at(0, 9))),
        headers=auth_headers(place.front_desk.user),
    )

    assert answer.status_code == 201, answer.get_json()
    assert len(calls) == 2
    assert [a.id for a in appointments_of(course)] == [uuid.UUID(answer.get_json()["id"])]


def test_a_retried_booking_whose_time_was_taken_meanwhile_is_409_naming_the_rule(
    client,
    auth_headers,
    place,
    course,
    make_course,
    make_patient,
    caller_of,
    now,
    first_attempt_collides,
):
    other = make_course(on=make_patient(place.clinic, given_name="Blake"))

    def another_desk_books(real_book: Callable[..., Appointment]) -> None:
        real_book(**booking(other, place, at(0, 9)), by=caller_of(place.front_desk), now=now)
        db.session.commit()

    first_attempt_collides(meanwhile=another_desk_books)

    answer = client.post(
        f"{API}/appointments",
        json=as_json(booking(course, place, at(0, 9, 30))),
        headers=auth_headers(place.front_desk.user),
    )

    assert answer.status_code == 409 and answer.mimetype == PROBLEM
    body = answer.get_json()
    assert body["code"] == "booking_conflict"
    assert {"staff_conflict", "room_conflict"} <= {v["rule"] for v in body["violations"]}
    assert appointments_of(course) == []


@pytest.mark.skipif(engine_name() != "postgresql", reason="SQLite locks the whole database")
def test_a_batch_locks_its_clinics_schedules_in_id_order_before_any_course(
    client, auth_headers, place, make_place, course, make_course, make_patient, admin
):
    other_place = make_place(name="Birch Clinic", time_zone="America/New_York")
    there = make_course(on=make_patient(other_place.clinic, given_name="Blake"), at=other_place)
    items = [
        as_json(booking(course, place, at(0, 9))),
        as_json(booking(there, other_place, at(0, 9))),
    ]
    low, high = sorted([place.clinic.id, other_place.clinic.id])
    if place.clinic.id == low:  # the items name the higher clinic first
        items.reverse()
    locks: list[str] = []
    clinic_of = {course.id: place.clinic.id, there.id: other_place.clinic.id}

    def note(_conn, _cursor, statement: str, parameters: Any, _context, _many) -> None:
        if statement.startswith("INSERT INTO schedule_versions") and "ON CONFLICT" in statement:
            # Taken by clinic id, or (one booking) through its course, in one statement.
            clinic_id = parameters.get("clinic_id") or clinic_of[parameters["course_id"]]
            locks.append(f"schedule:{clinic_id}")
        elif "FOR UPDATE OF courses" in statement:
            locks.append("course")

    sa.event.listen(db.engine, "before_cursor_execute", note)
    try:
        answer = client.post(
            f"{API}/appointments/batch", json={"items": items}, headers=auth_headers(admin)
        )
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", note)

    assert answer.status_code == 201, answer.get_json()
    taken = [f"schedule:{low}", f"schedule:{high}"]
    assert locks[:2] == taken
    # Each booking then takes its course, its clinic asked for again and already held.
    assert "course" in locks and set(locks[2:]) <= {*taken, "course"}
