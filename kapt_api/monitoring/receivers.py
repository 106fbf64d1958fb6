"""Monitoring listens to scheduling (which never imports it): a dosing session's
checklist opens at check-in, a held session may not start, a held course books no
further dose, and the day schedule shows each dose's checklist and escort state."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kapt_api.monitoring import hold, service
from kapt_api.scheduling import readiness, signals
from kapt_api.scheduling.models import Appointment, Course


def _checked_in(appointment: Appointment, *, now: datetime, **_: Any) -> None:
    service.open_session(appointment, now=now)


def _starting(appointment: Appointment, *, now: datetime, **_: Any) -> str | None:
    return hold.hold_answer(appointment, now=now)


def _course_held(course: Course, *, now: datetime, **_: Any) -> str | None:
    return hold.course_hold(course, now=now)


def connect() -> None:
    """Subscribe (weakly referenced module functions stay alive with the module)."""
    signals.appointment_checked_in.connect(_checked_in)
    signals.appointment_starting.connect(_starting)
    signals.pre_dose_hold_check.connect(_course_held)
    readiness.supply("checklist_state", service.checklist_states)
    readiness.supply("escort_confirmed", service.escort_states)
