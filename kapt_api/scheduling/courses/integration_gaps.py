"""Doses given whose integration session is still not booked as its window closes.

An integration session after each dose is part of the protocol where it says so, and
it must start inside the window after the dose (rules.integration_window; progress.py
gives the latest start, earlier when the next dose needs it done). A dose given with
no integration booked while less than a day is left to book one with the session's
notice, or after the window closed, is a gap the prescriber must hear about.
Scheduling only finds the gaps; the package that raises alerts (monitoring) asks.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from kapt_api.db import db
from kapt_api.protocols.definition import ProtocolDefinition, SessionKind
from kapt_api.protocols.rules import MAX_WINDOW_HOURS
from kapt_api.scheduling.booking.models import Appointment
from kapt_api.scheduling.courses import queries
from kapt_api.scheduling.courses.models import Course
from kapt_api.scheduling.courses.progress import course_progress
from kapt_api.scheduling.courses.rules import scheduled
from kapt_api.scheduling.courses.values import AppointmentStatus, CourseSession, CourseStatus

# Raised while a day is left to book the session with the notice it needs.
ALERT_LEAD = timedelta(hours=24)
# A window closed longer ago than this is history nobody can act on any more (say,
# on the first run after an upgrade): no alert.
STALE_AFTER = timedelta(days=7)


@dataclass(frozen=True)
class Gap:
    """A dose given with no integration session booked in its window."""

    dose_id: uuid.UUID
    dose_number: int
    latest_start: datetime


def integration_gaps(
    definition: ProtocolDefinition, sessions: Sequence[CourseSession], *, now: datetime, zone: str
) -> list[Gap]:
    """The course's given doses whose integration is not booked as its window closes."""
    session_type = definition.session_type(SessionKind.INTEGRATION)
    notice = timedelta(hours=session_type.min_notice_hours if session_type else 0)
    doses = scheduled(sessions, SessionKind.DOSING)
    gaps = []
    for due in course_progress(definition, sessions, now=now, zone=zone).due:
        if due.kind is not SessionKind.INTEGRATION or due.latest is None:
            continue
        dose = doses[due.number - 1]
        closing = due.latest - notice - ALERT_LEAD <= now <= due.latest + STALE_AFTER
        if dose.status is AppointmentStatus.COMPLETED and closing:
            gaps.append(Gap(dose.id, due.number, due.latest))
    return gaps


@dataclass(frozen=True)
class CourseGap:
    course_id: uuid.UUID
    patient_id: uuid.UUID
    clinic_id: uuid.UUID
    zone: str
    gap: Gap


def unbooked_integrations(*, now: datetime) -> list[CourseGap]:
    """Every active course's gaps: courses with a dose given recently enough that its
    window may still matter."""
    since = now - timedelta(hours=MAX_WINDOW_HOURS) - STALE_AFTER
    courses = db.session.scalars(
        select(Course)
        .where(
            Course.status == CourseStatus.ACTIVE.value,
            Course.id.in_(
                select(Appointment.course_id).where(
                    Appointment.kind == SessionKind.DOSING.value,
                    Appointment.status == AppointmentStatus.COMPLETED.value,
                    Appointment.ends_at >= since,
                )
            ),
        )
        .order_by(Course.enrolled_at, Course.id)
    )
    found = []
    for course in courses:
        sessions = queries.course_sessions(course.id)
        zone = queries.clinic_zone(course.clinic_id)
        found += [
            CourseGap(course.id, course.patient_id, course.clinic_id, zone, gap)
            for gap in integration_gaps(course.definition, sessions, now=now, zone=zone)
        ]
    return found
