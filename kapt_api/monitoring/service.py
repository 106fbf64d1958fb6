"""Monitoring use cases: the checklist opened at check-in, readings and their
corrections, the alerts they raise, the pre-dose hold and its override, discharge.

They flush and never commit. Values are never logged.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from kapt_api.auth import audit
from kapt_api.db import db
from kapt_api.errors import Conflict, InvalidInput, NotFound, RuleRefused, Violation
from kapt_api.monitoring import alerts, policy, rules
from kapt_api.monitoring.models import AlertKind, MonitoringSession, Reading
from kapt_api.patients.policy import Caller
from kapt_api.protocols.definition import (
    ESCORT_PRESENT,
    ChecklistTemplate,
    Medication,
    SessionKind,
    Timepoint,
    TimepointKind,
    definition_of,
)
from kapt_api.protocols.models import ProtocolVersion
from kapt_api.scheduling import loaders
from kapt_api.scheduling.models import Appointment, Course

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
    return loaders.patient_care_team(session.patient_id)


def find_session(
    *, appointment_id: uuid.UUID, by: Caller, action: str = "read"
) -> MonitoringSession:
    """The appointment's checklist if `by` is a clinician on the care team (else 404 or
    403); 404 before check-in. The look is audited."""
    appointment = db.session.get(Appointment, appointment_id)
    audit.record(
        action,
        RESOURCE,
        appointment_id,
        patient_id=appointment.patient_id if appointment else None,
        actor_id=by.user_id,
    )
    if appointment is None:
        raise NotFound("No appointment with this id.")
    policy.ensure_clinician(
        by,
        clinic_id=appointment.clinic_id,
        care_team=loaders.patient_care_team(appointment.patient_id),
        what="appointment",
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
    return {s.appointment_id: _state_of(s) for s in _sessions_of(appointment_ids)}


def escort_states(appointment_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
    """For the day schedule: the escort confirmed when the patient was discharged."""
    return {
        s.appointment_id: "confirmed"
        for s in _sessions_of(appointment_ids)
        if ESCORT_PRESENT in (s.discharge_confirmed or [])
    }


def _sessions_of(appointment_ids: Sequence[uuid.UUID]) -> list[MonitoringSession]:
    return list(
        db.session.scalars(
            select(MonitoringSession).where(MonitoringSession.appointment_id.in_(appointment_ids))
        )
    )


def _state_of(session: MonitoringSession) -> str:
    if session.hold_open:
        return "hold"
    return "completed" if session.discharged_at is not None else "in_progress"


# --- readings ---------------------------------------------------------------------------------


def _timepoint(template: ChecklistTemplate, key: str | None) -> Timepoint | None:
    if key is None:
        return None
    found = next((t for t in template.timepoints if t.key == key), None)
    if found is None:
        known = ", ".join(t.key for t in template.timepoints)
        raise InvalidInput({"timepoint": [f"Not a timepoint of this checklist ({known})."]})
    return found


def record_reading(
    *,
    session: MonitoringSession,
    measured_at: datetime,
    values: Sequence[Mapping[str, Any]],
    by: Caller,
    now: datetime,
    timepoint: str | None = None,
    note: str | None = None,
    supersedes_id: uuid.UUID | None = None,
    correction_reason: str | None = None,
) -> Reading:
    """Store a reading (for a timepoint or ad hoc) and raise an alert for every threshold
    it crosses; a baseline beyond the hold threshold holds the dose. A correction names
    the reading it supersedes and why."""
    template = template_of(session)
    point = _timepoint(template, timepoint)
    given = [rules.Value(v["measurement"], float(v["value"]), v["unit"]) for v in values]
    problems = rules.value_problems(template, point, given)
    if measured_at > now:
        problems["measured_at"] = ["A reading cannot be measured in the future."]
    _check_correction(session, supersedes_id, correction_reason, problems)
    if problems:
        raise InvalidInput(problems)
    slot = None
    if point is not None:
        end = (
            rules.end_minutes(template, dose_started_at=session.dose_started_at, discharged_at=now)
            if session.dose_started_at is not None
            else template.min_monitoring_minutes
        )
        slot = rules.slot_for(
            point, dose_started_at=session.dose_started_at, measured_at=measured_at, end=end
        )
    reading = Reading(
        session_id=session.id,
        timepoint=timepoint,
        slot_minutes=slot,
        measured_at=measured_at,
        values={v.measurement: v.value for v in given},
        note=note,
        recorded_by=by.user_id,
        recorded_at=now,
        supersedes_id=supersedes_id,
        correction_reason=correction_reason,
    )
    db.session.add(reading)
    db.session.flush()
    audit.record(
        "create", "reading", reading.id, patient_id=session.patient_id, actor_id=by.user_id
    )
    # Before the dose, the pre-dose thresholds (the hold among them) apply.
    pre_dose = (
        point.kind is TimepointKind.PRE_DOSE
        if point is not None
        else session.dose_started_at is None
    )
    _alert_on(session, reading, rules.breaches(template, reading.values, pre_dose=pre_dose), now)
    return reading


def _check_correction(
    session: MonitoringSession,
    supersedes_id: uuid.UUID | None,
    reason: str | None,
    problems: dict[str, list[str]],
) -> None:
    if supersedes_id is None:
        if reason is not None:
            problems["correction_reason"] = ["Only a correction carries a reason."]
        return
    earlier = db.session.get(Reading, supersedes_id)
    if earlier is None or earlier.session_id != session.id:
        problems["supersedes_id"] = ["No reading with this id in this session."]
    elif db.session.scalar(select(Reading.id).where(Reading.supersedes_id == supersedes_id)):
        raise Conflict(
            "This reading was already corrected; correct the newest one.", code="superseded"
        )
    if not reason:
        problems["correction_reason"] = ["Say why the earlier reading is corrected."]


def _alert_on(
    session: MonitoringSession, reading: Reading, found: list[rules.Breach], now: datetime
) -> None:
    for breach in found:
        hold = breach.holds_dose
        if hold and not session.held:
            session.held = True
            session.hold_reason = breach.sentence()
        alerts.raise_alert(
            key=f"reading:{reading.id}:{breach.measurement.value}:{hold}",
            now=now,
            raised_by=reading.recorded_by,
            clinic_id=session.clinic_id,
            patient_id=session.patient_id,
            course_id=session.course_id,
            session_id=session.id,
            reading_id=reading.id,
            kind=(AlertKind.PRE_DOSE_HOLD if hold else AlertKind.THRESHOLD).value,
            severity=breach.threshold.severity.value,
            measurement=breach.measurement.value,
            message=breach.threshold.message or breach.sentence(),
        )
    db.session.flush()


# --- the pre-dose hold ------------------------------------------------------------------------


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


# --- discharge --------------------------------------------------------------------------------


def discharge(
    *,
    session: MonitoringSession,
    confirmed: Sequence[str],
    by: Caller,
    now: datetime,
    override_reason: str | None = None,
    adverse_events: Mapping[str, bool] | None = None,
) -> MonitoringSession:
    """Let the patient leave, or refuse naming everything still missing."""
    if session.discharged_at is not None:
        raise Conflict("This patient has already been discharged.", code="already_discharged")
    if override_reason is not None:
        policy.ensure_prescriber(by, care_team(session), "discharge with readings out of range")
    template = template_of(session)
    readings = facts_of(current_readings(session))
    facts = rules.DischargeFacts(
        dose_started_at=session.dose_started_at,
        occurrences=occurrences(session, now=now),
        latest=rules.latest_values(readings),
        confirmed=frozenset(confirmed),
        overridden=override_reason is not None,
    )
    violations = rules.discharge_violations(template, facts, now=now)
    if session.rems_required:
        violations += _rems_discharge_violations(session, adverse_events)
    if violations:
        raise RuleRefused(violations, "The patient cannot be discharged yet.")
    for name, value in (adverse_events or {}).items():
        setattr(session, name, value)
    session.discharged_at = now
    session.discharged_by = by.user_id
    session.discharge_confirmed = sorted(confirmed)
    session.discharge_override_reason = override_reason
    db.session.flush()
    audit.record(
        "discharge",
        RESOURCE,
        session.id,
        patient_id=session.patient_id,
        actor_id=by.user_id,
        reason=override_reason,
    )
    return session


def _rems_discharge_violations(
    session: MonitoringSession, adverse_events: Mapping[str, bool] | None
) -> list[Violation]:
    # The REMS form asks these of every esketamine session (DOMAIN.md §1.2).
    found = []
    if session.first_device_at is None or session.dose_mg is None or not session.lot_number:
        found.append(
            Violation(
                "administration_missing",
                "Record the first device's time, the devices, the dose and the lot number.",
            )
        )
    if adverse_events is None:
        found.append(
            Violation(
                "adverse_events_missing",
                "Say whether sedation, dissociation, respiratory depression or a blood "
                "pressure increase occurred.",
            )
        )
    return found
