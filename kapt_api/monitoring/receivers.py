"""Monitoring listens to scheduling (which never imports it): a dosing session's
checklist opens at check-in, a held session may not start, a held course books no
further dose, the day schedule shows each dose's checklist and escort state, and a
session cancelled or missed that a booked dose depended on alerts the care team."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kapt_api.monitoring import dose_readiness, hold, service
from kapt_api.scheduling.booking import signals as booking_signals
from kapt_api.scheduling.booking.models import Appointment
from kapt_api.scheduling.courses import signals as course_signals
from kapt_api.scheduling.courses.models import Course
from kapt_api.scheduling.days import readiness


def _checked_in(appointment: Appointment, *, now: datetime, **_: Any) -> None:
    service.open_session(appointment, now=now)


def _starting(appointment: Appointment, *, now: datetime, **_: Any) -> str | None:
    return hold.hold_answer(appointment, now=now)


def _course_held(course: Course, *, now: datetime, **_: Any) -> str | None:
    return hold.course_hold(course, now=now)


def _session_gone(appointment: Appointment, *, now: datetime, **_: Any) -> None:
    dose_readiness.alert_doses_left_unready(appointment, now=now)


def connect() -> None:
    """Subscribe (weakly referenced module functions stay alive with the module)."""
    booking_signals.appointment_checked_in.connect(_checked_in)
    booking_signals.appointment_starting.connect(_starting)
    course_signals.pre_dose_hold_check.connect(_course_held)
    booking_signals.appointment_cancelled.connect(_session_gone)
    booking_signals.appointment_no_show.connect(_session_gone)
    # Both flags from one read of the doses' sessions (checklist_states, escort_states).
    readiness.supply_together(("checklist_state", "escort_confirmed"), service.day_states)
