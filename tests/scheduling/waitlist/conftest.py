"""Waitlist fixtures: a dosing session booked for one patient (whose cancellation frees
the time), other patients on the same clinic's IM KAP protocol, each ready for a first
dose or not, put on the waitlist through the service, and the backfill job run once
with the test's `now` (one scheduler tick; the clock is driven, never slept on)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from kapt_api.db import db
from kapt_api.protocols.definition import SessionKind
from kapt_api.scheduling.booking import attendance
from kapt_api.scheduling.booking import service as booking
from kapt_api.scheduling.booking.models import Appointment
from kapt_api.scheduling.courses.models import Course
from kapt_api.scheduling.waitlist import backfill, service
from kapt_api.scheduling.waitlist.models import WaitlistEntry
from tests.scheduling.conftest import at

DOSING, PREPARATION = SessionKind.DOSING, SessionKind.PREPARATION
INTEGRATION = SessionKind.INTEGRATION


@pytest.fixture
def book(place, caller_of, now) -> Callable[..., Appointment]:
    def make(course: Course, kind: SessionKind, starts_at: datetime, **kwargs: Any) -> Appointment:
        room = place.dosing_room if kind is DOSING else place.therapy_room
        kwargs.setdefault("room_id", room.id)
        made = booking.book(course_id=course.id, kind=kind, starts_at=starts_at,
                            by=caller_of(place.front_desk), now=now, **kwargs)  # fmt: skip
        db.session.commit()
        return made

    return make


@pytest.fixture
def enrolled(make_course, make_patient, place) -> Callable[..., Course]:
    """A course for a new patient of the clinic."""

    def make(name: str = "Rowan") -> Course:
        return make_course(on=make_patient(place.clinic, given_name=name))

    return make


# Preparation sessions hold the one therapist 70 minutes: the pairs never overlap each
# other or the fixture patient's (Monday 09:00 and 10:15), and all end before Wednesday.
PREPARATIONS = {
    1: ((0, 11, 30), (0, 14, 15)),
    2: ((0, 15, 30), (1, 9, 0)),
    3: ((1, 10, 15), (1, 11, 30)),
    4: ((1, 14, 15), (1, 15, 30)),
}


@pytest.fixture
def ready(enrolled, book) -> Callable[..., Course]:
    """A course for a new patient with both preparations booked (pair `n` of
    PREPARATIONS): ready for a first dose from Wednesday."""

    def make(n: int, name: str = "Rowan") -> Course:
        course = enrolled(name)
        for day, hour, minute in PREPARATIONS[n]:
            book(course, PREPARATION, at(day, hour, minute))
        return course

    return make


@pytest.fixture
def dose_to_cancel(course, book) -> Appointment:
    """The fixture patient's first dose, Wednesday 10:00 (preparations Monday 09:00, 10:15)."""
    book(course, PREPARATION, at(0, 9))
    book(course, PREPARATION, at(0, 10, 15))
    return book(course, DOSING, at(2, 10))


@pytest.fixture
def cancel(place, caller_of, now) -> Callable[[Appointment], None]:
    def run(appointment: Appointment) -> None:
        attendance.cancel(appointment=appointment, reason="Unwell", by=caller_of(place.front_desk),
                          now=now)  # fmt: skip
        db.session.commit()

    return run


@pytest.fixture
def wait(place, caller_of, now) -> Callable[..., WaitlistEntry]:
    """Put a course on the waitlist for a dose, accepting Monday to Friday of the week."""

    def make(course: Course, *, at_time: datetime | None = None, **prefs: Any) -> WaitlistEntry:
        prefs.setdefault("kind", "dosing")
        prefs.setdefault("earliest_date", date(2026, 12, 7))
        prefs.setdefault("latest_date", date(2026, 12, 18))
        entry = service.put_on_waitlist(course_id=course.id, by=caller_of(place.front_desk),
                                        now=at_time or now, **prefs)  # fmt: skip
        if at_time is not None:
            entry.created_at = at_time
        db.session.commit()
        return entry

    return make


@pytest.fixture
def tick(now) -> Callable[..., None]:
    """One run of the backfill job at `when` (default: the test's now)."""

    def run(when: datetime | None = None) -> None:
        backfill.run_backfill(now=when or now)
        db.session.commit()

    return run


H = timedelta(hours=1)
