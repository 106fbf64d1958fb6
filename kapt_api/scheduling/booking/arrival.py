"""When a session's status steps may happen: check-in opens the clinic's window before the
booked start, and start and complete follow it (status_rules.step_time_violations)."""

from __future__ import annotations

from datetime import datetime

from kapt_api.clinics.models import Clinic
from kapt_api.db import db
from kapt_api.errors import RuleRefused
from kapt_api.scheduling.booking import status_rules
from kapt_api.scheduling.booking.models import Appointment
from kapt_api.scheduling.courses.values import AppointmentStatus


def refuse_before_time(
    appointment: Appointment, wanted: AppointmentStatus, *, now: datetime
) -> None:
    """Refuse (422, each rule named) a check-in, start or complete that comes before the
    check-in window opens or before the step it follows."""
    follows = status_rules.step_follows(wanted)
    previous_at = max(
        (c.at for c in appointment.history if follows and c.to_status == follows.value),
        default=None,
    )
    clinic = db.session.get(Clinic, appointment.clinic_id)
    assert clinic is not None
    found = status_rules.step_time_violations(
        wanted,
        starts_at=appointment.starts_at,
        opens_minutes=clinic.check_in_opens_minutes,
        previous_at=previous_at,
        zone=clinic.time_zone,
        now=now,
    )
    if found:
        raise RuleRefused(found)
