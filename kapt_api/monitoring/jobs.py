"""The scheduler's monitoring jobs: each tick looks at what is open and raises an alert
once per overdue timepoint, once per late REMS form and once per dose whose
integration session is not booked as its window closes (the alert's key makes a
repeated tick, or a second scheduler, raise nothing new)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from kapt_api.clinics.rules import local_text
from kapt_api.db import db
from kapt_api.monitoring import alerts, rems, rules, service
from kapt_api.monitoring.models import AlertKind, MonitoringSession
from kapt_api.protocols.definition import Severity
from kapt_api.scheduling.courses.integration_gaps import unbooked_integrations

# A session still undischarged this long after check-in is left to the clinicians.
LOOK_BACK = timedelta(hours=24)


def raise_overdue_alerts(now: datetime) -> int:
    """An alert for every timepoint left unrecorded past its tolerance; the count raised."""
    raised = 0
    open_sessions = db.session.scalars(
        select(MonitoringSession)
        .where(
            MonitoringSession.discharged_at.is_(None),
            MonitoringSession.dose_started_at.is_not(None),
            MonitoringSession.checked_in_at >= now - LOOK_BACK,
        )
        .order_by(MonitoringSession.checked_in_at, MonitoringSession.id)
    )
    for session in open_sessions:
        for occurrence in service.occurrences(session, now=now):
            if occurrence.state is not rules.TimepointState.OVERDUE:
                continue
            point = occurrence.timepoint
            slot = "" if occurrence.slot_minutes is None else f" ({occurrence.slot_minutes} min)"
            alert = alerts.raise_alert(
                key=f"overdue:{session.id}:{point.key}:{occurrence.slot_minutes}",
                now=now,
                clinic_id=session.clinic_id,
                patient_id=session.patient_id,
                course_id=session.course_id,
                session_id=session.id,
                kind=AlertKind.OVERDUE.value,
                severity=Severity.WARNING.value,
                message=f"Readings for '{point.label}'{slot} are overdue.",
            )
            raised += alert is not None
    return raised


def flag_late_rems_forms(now: datetime) -> int:
    """An alert for every esketamine session whose REMS form is not submitted within
    7 days of the treatment; the count raised."""
    raised = 0
    late = db.session.scalars(
        select(MonitoringSession)
        .where(
            MonitoringSession.rems_required.is_(True),
            MonitoringSession.rems_submitted_at.is_(None),
            MonitoringSession.checked_in_at < now - rems.SUBMIT_WITHIN,
        )
        .order_by(MonitoringSession.checked_in_at, MonitoringSession.id)
    )
    for session in late:
        alert = alerts.raise_alert(
            key=f"rems:{session.id}",
            now=now,
            clinic_id=session.clinic_id,
            patient_id=session.patient_id,
            course_id=session.course_id,
            session_id=session.id,
            kind=AlertKind.REMS_FORM_OVERDUE.value,
            severity=Severity.WARNING.value,
            message="The REMS Patient Monitoring Form was not submitted within 7 days.",
        )
        raised += alert is not None
    return raised


def flag_unbooked_integrations(now: datetime) -> int:
    """An alert for every dose given whose integration session is not booked while
    its window closes; the count raised."""
    raised = 0
    for found in unbooked_integrations(now=now):
        gap = found.gap
        latest = local_text(gap.latest_start, found.zone)
        message = f"No integration session is booked after dose {gap.dose_number}; " + (
            f"its window closed at {latest}."
            if gap.latest_start < now
            else f"it must start by {latest}."
        )
        alert = alerts.raise_alert(
            key=f"integration:{gap.dose_id}",
            now=now,
            clinic_id=found.clinic_id,
            patient_id=found.patient_id,
            course_id=found.course_id,
            kind=AlertKind.INTEGRATION_NOT_BOOKED.value,
            severity=Severity.WARNING.value,
            message=message,
        )
        raised += alert is not None
    return raised
