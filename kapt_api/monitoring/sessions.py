"""A dosing session's monitoring record: the checklist opened at check-in, found for a
clinician on the care team, its readings and its timepoints' states, and what the day
schedule shows of it.

They flush and never commit. Values are never logged.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

from sqlalchemy import select

from kapt_api.auth import audit
from kapt_api.db import db, on_postgresql
from kapt_api.errors import NotFound
from kapt_api.monitoring import policy, rules
from kapt_api.monitoring.models import MonitoringSession, Reading, hold_stands
from kapt_api.patients.policy import Caller
from kapt_api.protocols.definition import (
    ESCORT_PRESENT,
    ChecklistTemplate,
    Medication,
    SessionKind,
    definition_of,
)
from kapt_api.protocols.models import ProtocolVersion
from kapt_api.rows import among, ids_for, read
from kapt_api.scheduling.booking.models import Appointment
from kapt_api.scheduling.courses import queries
from kapt_api.scheduling.courses.models import Course

RESOURCE = "monitoring"


# --- opening and finding a session ------------------------------------------------------------


def open_session(appointment: Appointment, *, now: datetime) -> MonitoringSession | None:
    """A dosing appointment's checklist, taken from its course's protocol version when the
    patient checks in (once; a second check-in keeps the first)."""
    if appointment.kind != SessionKind.DOSING.value:
        return None
    existing = session_of_appointment(appointment.id)
    if existing is not None:
        return existing
    course = db.session.get(Course, appointment.course_id)
    assert course is not None
    session = MonitoringSession(
        appointment_id=appointment.id,
        course_id=course.id,
        patient_id=appointment.patient_id,
        clinic_id=appointment.clinic_id,
        protocol_version_id=course.protocol_version_id,
        rems_required=course.protocol_version.protocol.medication == Medication.ESKETAMINE.value,
        checked_in_at=now,
    )
    db.session.add(session)
    db.session.flush()
    audit.record("create", RESOURCE, session.id, patient_id=session.patient_id)
    return session


def session_of_appointment(appointment_id: uuid.UUID) -> MonitoringSession | None:
    return db.session.scalar(
        select(MonitoringSession).where(MonitoringSession.appointment_id == appointment_id)
    )


def care_team(session: MonitoringSession) -> list[uuid.UUID]:
    return queries.patient_care_team(session.patient_id)


class PatientRecord(Protocol):
    patient_id: uuid.UUID
    clinic_id: uuid.UUID


T = TypeVar("T", bound=PatientRecord)


def reach_clinical(
    found: T | None, *, resource: str, resource_id: uuid.UUID, by: Caller, action: str
) -> T:
    """`found` (an appointment, a course) if `by` is a clinician on its patient's care
    team: 404 when missing or of another clinic, else 403. The look is audited."""
    audit.record(
        action,
        resource,
        resource_id,
        patient_id=found.patient_id if found else None,
        actor_id=by.user_id,
    )
    what = resource.replace("_", " ")
    if found is None:
        raise NotFound(f"No {what} with this id.")
    policy.ensure_clinician(
        by,
        clinic_id=found.clinic_id,
        care_team=queries.patient_care_team(found.patient_id),
        what=what,
    )
    return found


def find_session(
    *, appointment_id: uuid.UUID, by: Caller, action: str = "read"
) -> MonitoringSession:
    """The appointment's checklist if `by` is a clinician on the care team (else 404 or
    403); 404 before check-in. The look is audited. To change it, its clinic's schedule
    is locked first (a dosing session's state is on the day schedule), in the order
    every change of a schedule takes its locks (courses/queries.lock_schedules)."""
    appointment = db.session.get(Appointment, appointment_id)
    if appointment is not None and action != "read":
        queries.lock_schedules([appointment.clinic_id])
    reach_clinical(
        appointment,
        resource=RESOURCE,
        resource_id=appointment_id,
        by=by,
        action=action,
    )
    session = session_of_appointment(appointment_id)
    if session is None:
        raise NotFound("No monitoring checklist: a dosing session's checklist opens at check-in.")
    return session


def template_of(session: MonitoringSession) -> ChecklistTemplate:
    version = db.session.get(ProtocolVersion, session.protocol_version_id)
    assert version is not None
    return definition_of(version).checklist


def current_readings(session: MonitoringSession) -> list[Reading]:
    """The readings not superseded by a correction, by time measured."""
    corrected = select(Reading.supersedes_id).where(Reading.supersedes_id.is_not(None))
    return list(
        db.session.scalars(
            select(Reading)
            .where(Reading.session_id == session.id, Reading.id.not_in(corrected))
            .order_by(Reading.measured_at, Reading.recorded_at, Reading.id)
        )
    )


def all_readings(session: MonitoringSession) -> list[Reading]:
    return list(
        db.session.scalars(
            select(Reading)
            .where(Reading.session_id == session.id)
            .order_by(Reading.measured_at, Reading.recorded_at, Reading.id)
        )
    )


def facts_of(readings: Sequence[Reading]) -> list[rules.ReadingFact]:
    return [
        rules.ReadingFact(r.id, r.timepoint, r.slot_minutes, r.measured_at, r.values)
        for r in readings
    ]


def occurrences(session: MonitoringSession, *, now: datetime) -> list[rules.Occurrence]:
    return rules.checklist_status(
        template_of(session),
        checked_in_at=session.checked_in_at,
        dose_started_at=session.dose_started_at,
        discharged_at=session.discharged_at,
        readings=facts_of(current_readings(session)),
        now=now,
    )


@dataclass(frozen=True)
class Checklist:
    session: MonitoringSession
    occurrences: list[rules.Occurrence]
    readings: list[Reading]
    min_monitoring_minutes: int


def checklist(*, session: MonitoringSession, now: datetime) -> Checklist:
    """The checklist with each timepoint due, done or overdue at `now`, and every reading
    ever recorded (corrections with what they supersede)."""
    return Checklist(
        session,
        occurrences(session, now=now),
        all_readings(session),
        template_of(session).min_monitoring_minutes,
    )


def checklist_states(appointment_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
    """For the day schedule: each checked-in dose's checklist held, in progress or
    completed (a dose not checked in is left to scheduling's default)."""
    return _checklist_states(_day_states_of(appointment_ids))


def escort_states(appointment_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
    """For the day schedule: the escort confirmed when the patient was discharged."""
    return _escort_states(_day_states_of(appointment_ids))


def day_states(appointment_ids: Sequence[uuid.UUID]) -> dict[str, dict[uuid.UUID, str]]:
    """checklist_states and escort_states (the readiness flags by name) from one read:
    a day computed asks for both."""
    found = _day_states_of(appointment_ids)
    return {"checklist_state": _checklist_states(found), "escort_confirmed": _escort_states(found)}


def _checklist_states(found: list[Any]) -> dict[uuid.UUID, str]:
    return {s.appointment_id: _state_of(s) for s in found}


def _escort_states(found: list[Any]) -> dict[uuid.UUID, str]:
    return {
        s.appointment_id: "confirmed"
        for s in found
        if ESCORT_PRESENT in (s.discharge_confirmed or [])
    }


# What a day schedule reads of its doses' sessions (checklist and escort, in one read):
# the few columns, not whole sessions, in a statement built once (for either database).
_DAY_STATES = {
    postgresql: select(
        MonitoringSession.appointment_id,
        MonitoringSession.held,
        MonitoringSession.hold_override_at,
        MonitoringSession.discharged_at,
        MonitoringSession.discharge_confirmed,
    ).where(among(MonitoringSession.appointment_id, "appointment_ids", postgresql=postgresql))
    for postgresql in (True, False)
}


def _day_states_of(appointment_ids: Sequence[uuid.UUID]) -> list[Any]:
    pg = on_postgresql()
    return list(read(_DAY_STATES[pg], {"appointment_ids": ids_for(appointment_ids, postgresql=pg)}))


def _state_of(session: Any) -> str:
    if hold_stands(session.held, session.hold_override_at):
        return "hold"
    return "completed" if session.discharged_at is not None else "in_progress"
