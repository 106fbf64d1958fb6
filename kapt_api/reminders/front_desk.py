"""The front desk told, by email through the outbox, when a patient cancels late by
their link or a text (scheduling/links/signals.py): the slot is free at short notice,
and the clinic's late-cancellation policy is theirs to apply.

The email names the date, time and appointment id and links to the API, never the
patient's name or the kind of session (it may be read on a phone's lock screen).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import select

from kapt_api.auth.models import Role, User, UserRole
from kapt_api.clinics.models import Clinic, StaffMember
from kapt_api.db import db
from kapt_api.reminders.models import OutboxChannel, Purpose, Reminder
from kapt_api.rows import insert_as_loaded
from kapt_api.scheduling.links import signals
from kapt_api.scheduling.links.rules import date_text, time_text

DESK_ROLES = (Role.FRONT_DESK.value, Role.ADMIN.value)


def desk_addresses(clinic_id: Any) -> list[str]:
    """The email of each active front-desk member of the clinic (administrators when
    it has none)."""
    found: dict[str, list[str]] = {role: [] for role in DESK_ROLES}
    rows = db.session.execute(
        select(UserRole.role, User.email)
        .join(User, User.id == UserRole.user_id)
        .join(StaffMember, StaffMember.user_id == User.id)
        .where(
            StaffMember.clinic_id == clinic_id,
            StaffMember.active.is_(True),
            UserRole.role.in_(DESK_ROLES),
        )
        .order_by(User.email)
    )
    for role, email in rows:
        found[role].append(email)
    return found[Role.FRONT_DESK.value] or found[Role.ADMIN.value]


def email_front_desk(appointment: Any, *, now: datetime, **_: Any) -> list[Reminder]:
    """Write the late-cancellation email to the clinic's front desk, due now."""
    clinic = db.session.get(Clinic, appointment.clinic_id)
    if clinic is None:
        return []
    local = appointment.starts_at.astimezone(ZoneInfo(clinic.time_zone))
    when = f"{date_text(local)} at {time_text(local)}"
    link = f"{current_app.config['KAPT_BASE_URL']}/api/v1/appointments/{appointment.id}"
    rows = [
        Reminder(
            clinic_id=clinic.id,
            patient_id=appointment.patient_id,
            appointment_id=appointment.id,
            purpose=Purpose.ALERT.value,
            channel=OutboxChannel.EMAIL.value,
            recipient=address,
            subject=f"{clinic.name}: late cancellation, {when}",
            body=(
                f"A patient cancelled their appointment of {when} at {clinic.name} "
                "themselves (reminder link or text), with less notice than their "
                f"protocol asks. The time is free again.\n\nAppointment {appointment.id}: "
                f"{link}\n"
            ),
            due_at=now,
            next_attempt_at=now,
        )
        for address in desk_addresses(clinic.id)
    ]
    insert_as_loaded(rows)
    return rows


signals.late_cancellation_by_patient.connect(email_front_desk)
