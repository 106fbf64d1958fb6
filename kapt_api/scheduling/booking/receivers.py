"""What booking does when a course tells it something (courses/signals.py): a
discontinued course's booked sessions still to come are cancelled. Imported by
booking/routes.py, which every process that serves or runs jobs loads, so the
receivers are connected before any course can be discontinued."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from kapt_api.db import db
from kapt_api.patients.policy import Caller
from kapt_api.scheduling.booking.attendance import release
from kapt_api.scheduling.booking.models import Appointment
from kapt_api.scheduling.courses import signals as course_signals
from kapt_api.scheduling.courses.models import Course
from kapt_api.scheduling.courses.values import AppointmentStatus, ReasonCategory


def _release_upcoming(
    course: Course,
    *,
    reason: str,
    reason_category: ReasonCategory,
    by: Caller,
    now: datetime,
    **_: Any,
) -> None:
    """A discontinued course's booked sessions still to come are cancelled, earliest
    first, with the discontinuation's reason category."""
    upcoming = db.session.scalars(
        select(Appointment)
        .where(
            Appointment.course_id == course.id,
            Appointment.status == AppointmentStatus.BOOKED.value,
            Appointment.starts_at >= now,
        )
        .order_by(Appointment.starts_at)
    )
    for appointment in list(upcoming):
        release(appointment, reason=reason, reason_category=reason_category, by=by, now=now)


course_signals.course_discontinued.connect(_release_upcoming)
