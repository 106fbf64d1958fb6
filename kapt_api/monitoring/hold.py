"""The pre-dose hold: a baseline beyond the hold threshold keeps the dose waiting for a
prescriber's decision, never an automatic cancellation (DOMAIN.md §1.3, §2.3). Asked by
scheduling before a session starts and before a dose is booked (pre_dose_gate)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from kapt_api.auth import audit
from kapt_api.db import db
from kapt_api.errors import Conflict
from kapt_api.monitoring import policy
from kapt_api.monitoring.models import MonitoringSession
from kapt_api.monitoring.service import RESOURCE, care_team, session_of_appointment
from kapt_api.patients.policy import Caller
from kapt_api.scheduling.booking.models import Appointment
from kapt_api.scheduling.courses.models import Course


def hold_answer(appointment: Appointment, *, now: datetime) -> str | None:
    """Before a session starts: why it is held, or None. When it may start, the dose
    start is noted (the first device's time replaces it when recorded)."""
    session = session_of_appointment(appointment.id)
    if session is None:
        return None
    if session.hold_open:
        return (
            f"The baseline reading holds this dose for a prescriber's decision: "
            f"{session.hold_reason}."
        )
    if session.dose_started_at is None:
        session.dose_started_at = now
        db.session.flush()
    return None


def course_hold(course: Course, *, now: datetime) -> str | None:
    """Whether the course's latest checklist holds the next dose (the pre_dose_gate
    booking rule)."""
    latest = db.session.scalar(
        select(MonitoringSession)
        .where(MonitoringSession.course_id == course.id)
        .order_by(MonitoringSession.checked_in_at.desc(), MonitoringSession.id)
        .limit(1)
    )
    if latest is None or not latest.hold_open:
        return None
    return str(latest.hold_reason)


def override_hold(
    *, session: MonitoringSession, reason: str, by: Caller, now: datetime
) -> MonitoringSession:
    """A prescriber on the care team decides the held dose may go ahead, saying why."""
    policy.ensure_prescriber(by, care_team(session), "override a pre-dose hold")
    if not session.hold_open:
        raise Conflict("This session is not held.", code="not_held")
    session.hold_override_reason = reason
    session.hold_override_by = by.user_id
    session.hold_override_at = now
    db.session.flush()
    audit.record(
        "override",
        RESOURCE,
        session.id,
        patient_id=session.patient_id,
        actor_id=by.user_id,
        reason=reason,
    )
    return session
