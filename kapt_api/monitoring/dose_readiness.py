"""An alert to the care team when a booked dose loses what it depended on: a
preparation before the course's first dose, or the integration session after the dose
before it, cancelled or marked a no-show. Scheduling accepts the change (the patient is
not coming whatever it answers) and flags the dose (scheduling.readiness_flags); the
prescriber hears of it here, through the alert.raised email like every other alert.

The alert names the dose's time, the flag and what happened, never a reason someone
wrote or the patient's name. One alert per dose, flag and session gone: the same
session cancelled twice cannot be, and a rebooked one cancelled again alerts anew.
"""

from __future__ import annotations

from datetime import datetime

from kapt_api.clinics.rules import local_text
from kapt_api.db import db
from kapt_api.monitoring import alerts
from kapt_api.monitoring.models import Alert, AlertKind
from kapt_api.protocols.definition import Severity
from kapt_api.scheduling.booking.models import Appointment
from kapt_api.scheduling.courses import queries, readiness_flags
from kapt_api.scheduling.courses.models import Course
from kapt_api.scheduling.courses.values import AppointmentStatus, CourseStatus

WHAT_HAPPENED = {
    AppointmentStatus.CANCELLED.value: "was cancelled",
    AppointmentStatus.NO_SHOW.value: "was marked a no-show",
}
WHAT_IS_MISSING = {
    "preparation_incomplete": "its preparation is incomplete",
    "integration_missing": "the previous dose has no integration session before it",
}


def alert_doses_left_unready(appointment: Appointment, *, now: datetime) -> list[Alert]:
    """An alert for each flag that the appointment's cancellation or no-show brought to
    a dose of its course still to come; the alerts raised."""
    course = db.session.get(Course, appointment.course_id)
    # A course that is ending cancels its own sessions: no dose is left waiting.
    if course is None or course.status != CourseStatus.ACTIVE.value:
        return []
    zone = queries.clinic_zone(course.clinic_id)
    sessions = queries.course_sessions(course.id)
    by_id = {s.id: s for s in sessions}
    appeared = readiness_flags.flags_left_by(
        course.definition, sessions, gone=appointment.id, zone=zone
    )
    happened = WHAT_HAPPENED.get(appointment.status, "was cancelled")
    raised = []
    for dose_id, findings in appeared.items():
        when = local_text(by_id[dose_id].starts_at, zone)
        for finding in findings:
            alert = alerts.raise_alert(
                key=f"dose_not_ready:{dose_id}:{finding.rule}:{appointment.id}",
                now=now,
                clinic_id=course.clinic_id,
                patient_id=course.patient_id,
                course_id=course.id,
                kind=AlertKind.DOSE_NOT_READY.value,
                severity=Severity.WARNING.value,
                message=(
                    f"The dose on {when} is flagged {finding.rule}: "
                    f"{WHAT_IS_MISSING[finding.rule]}, since a {appointment.kind} session "
                    f"{happened}. Its check-in needs a prescriber's or administrator's "
                    "override, or a session booked in its place."
                ),
            )
            if alert is not None:
                raised.append(alert)
    return raised
