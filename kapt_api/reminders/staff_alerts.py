"""Alerts by email to the prescriber of the patient's care team, through the outbox.

Monitoring sends the named signal `alert.raised` with the alert and `now=`; the email
names the alert's kind and severity and links to the API, never a reading's value or
the patient's name (it may be read on a phone's lock screen).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import blinker
from flask import current_app
from sqlalchemy import select

from kapt_api.clinics.models import Clinic, StaffMember
from kapt_api.db import db
from kapt_api.reminders.models import OutboxChannel, Purpose, Reminder
from kapt_api.scheduling.courses.models import Course
from kapt_api.scheduling.courses.values import CourseStatus


def prescriber_of(patient_id: Any) -> StaffMember | None:
    """The prescriber of the patient's active course (the most recent one)."""
    course = db.session.scalars(
        select(Course)
        .where(Course.patient_id == patient_id, Course.status == CourseStatus.ACTIVE.value)
        .order_by(Course.enrolled_at.desc())
        .limit(1)
    ).first()
    return db.session.get(StaffMember, course.prescriber_id) if course else None


def email_prescriber(alert: Any, *, now: datetime, **_: Any) -> Reminder | None:
    """Write the alert email to the prescriber, due now."""
    patient_id = getattr(alert, "patient_id", None)
    prescriber = prescriber_of(patient_id) if patient_id else None
    clinic = db.session.get(Clinic, alert.clinic_id)
    if prescriber is None or clinic is None:
        return None
    severity = str(getattr(alert, "severity", "")).replace("_", " ")
    kind = str(getattr(alert, "kind", "")).replace("_", " ")
    link = f"{current_app.config['KAPT_BASE_URL']}/api/v1/alerts"
    row = Reminder(
        clinic_id=clinic.id,
        patient_id=patient_id,
        appointment_id=getattr(alert, "appointment_id", None),
        purpose=Purpose.ALERT.value,
        channel=OutboxChannel.EMAIL.value,
        recipient=prescriber.email,
        subject=f"{clinic.name}: {severity} alert needs your review",
        body=(
            f"A {severity} alert ({kind}) was raised for one of your patients at "
            f"{clinic.name}.\n\nAlert {alert.id}: review it at {link}\n"
        ),
        due_at=now,
        next_attempt_at=now,
    )
    db.session.add(row)
    db.session.flush()
    return row


blinker.signal("alert.raised").connect(email_prescriber)
