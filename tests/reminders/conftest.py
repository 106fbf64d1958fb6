"""Reminder fixtures: scheduling's clinic, patient, protocols and courses, booking
through scheduling's service, and real SMTP and gateway servers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import select

from kapt_api.db import db
from kapt_api.protocols.definition import SessionKind
from kapt_api.reminders.models import Reminder
from kapt_api.scheduling.booking import service as scheduling
from kapt_api.scheduling.booking.models import Appointment
from kapt_api.scheduling.courses.models import Course
from tests.reminders.servers import Gateway, SmtpServer
from tests.scheduling import conftest as scheduling_fixtures

# Scheduling's fixtures, shared: the New York clinic, its patient, the built-in
# protocols published, an IM KAP course, and "now" frozen on Saturday 5 Dec 2026 10:00.
caller_of = scheduling_fixtures.caller_of
course = scheduling_fixtures.course
make_course = scheduling_fixtures.make_course
make_place = scheduling_fixtures.make_place
now = scheduling_fixtures.now
patient = scheduling_fixtures.patient
place = scheduling_fixtures.place
versions = scheduling_fixtures.versions


def outbox_of(appointment: Appointment) -> list[Reminder]:
    """The appointment's reminders as the database holds them now, by due time."""
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(Reminder)
            .where(Reminder.appointment_id == appointment.id)
            .order_by(Reminder.due_at, Reminder.created_at)
        )
    )


@pytest.fixture
def book(place, caller_of, now) -> Callable[..., Appointment]:
    """Book through scheduling's service as the front desk, in the room the kind needs."""

    def make(course: Course, kind: SessionKind, starts_at: Any, **kwargs: Any) -> Appointment:
        room = place.dosing_room if kind is SessionKind.DOSING else place.therapy_room
        return scheduling.book(
            course_id=course.id,
            kind=kind,
            starts_at=starts_at,
            room_id=kwargs.pop("room_id", room.id),
            by=caller_of(kwargs.pop("by", place.front_desk)),
            now=kwargs.pop("at", now),
            **kwargs,
        )

    return make


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    server = Gateway().start()
    yield server
    server.stop()
