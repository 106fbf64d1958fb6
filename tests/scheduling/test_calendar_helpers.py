"""Helpers the day schedule, calendar feed, slot and plan tests share (no tests here)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kapt_api.db import db
from kapt_api.patients.policy import Caller
from kapt_api.protocols.definition import SessionKind
from kapt_api.scheduling.booking import service
from kapt_api.scheduling.booking.models import Appointment
from kapt_api.scheduling.courses.models import Course
from tests.scheduling.conftest import Place, at


def book(
    place: Place,
    course: Course,
    kind: SessionKind,
    starts_at: datetime,
    *,
    by: Caller,
    now: datetime,
    **kwargs: Any,
) -> Appointment:
    """Book through the service in the room the kind needs, and commit."""
    room = place.dosing_room if kind is SessionKind.DOSING else place.therapy_room
    kwargs.setdefault("room_id", room.id)
    appointment = service.book(
        course_id=course.id, kind=kind, starts_at=starts_at, by=by, now=now, **kwargs
    )
    db.session.commit()
    return appointment


def book_preparations(
    place: Place, course: Course, *, by: Caller, now: datetime
) -> list[Appointment]:
    """The IM KAP course's two preparation sessions, on Monday at 09:00 and 13:00."""
    return [
        book(place, course, SessionKind.PREPARATION, at(0, hour), by=by, now=now)
        for hour in (9, 13)
    ]
