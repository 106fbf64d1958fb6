"""Recording a reading, for a timepoint or ad hoc, or its correction, and the alerts it
raises (a baseline beyond the hold threshold holds the dose).

They flush and never commit. Values are never logged.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import select

from kapt_api.auth import audit
from kapt_api.db import db
from kapt_api.errors import Conflict, InvalidInput
from kapt_api.monitoring import alerts, rules
from kapt_api.monitoring.models import AlertKind, MonitoringSession, Reading
from kapt_api.monitoring.sessions import template_of
from kapt_api.patients.policy import Caller
from kapt_api.protocols.definition import ChecklistTemplate, Timepoint, TimepointKind


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
    """Store a reading (for a timepoint inside its tolerance, else unscheduled) and raise
    an alert for every threshold it crosses; a baseline beyond the hold threshold holds
    the dose. A correction names the reading it supersedes and why."""
    template = template_of(session)
    point = _timepoint(template, timepoint)
    given = [rules.Value(v["measurement"], float(v["value"]), v["unit"]) for v in values]
    problems = rules.value_problems(template, point, given)
    if problem := _time_problem(session, measured_at, now=now):
        problems["measured_at"] = [problem]
    _check_correction(session, supersedes_id, correction_reason, problems)
    if problems:
        raise InvalidInput(problems)
    reading = Reading(
        session_id=session.id,
        **asdict(_filing(session, template, point, measured_at=measured_at, now=now)),
        measured_at=measured_at,
        values={v.measurement: v.value for v in given},
        note=note,
        recorded_by=by.user_id,
        recorded_at=now,
        supersedes_id=supersedes_id,
        correction_reason=correction_reason,
    )
    _store(reading, session=session, by=by)
    found = rules.breaches(template, reading.values, pre_dose=_pre_dose(session, point, reading))
    _alert_on(session, reading, found, now)
    return reading


def _filing(
    session: MonitoringSession,
    template: ChecklistTemplate,
    point: Timepoint | None,
    *,
    measured_at: datetime,
    now: datetime,
) -> rules.Filing:
    """The timepoint and occurrence the reading fills, or unscheduled outside its
    tolerance (checklist_rules.filing)."""
    end = (
        rules.end_minutes(template, dose_started_at=session.dose_started_at, discharged_at=now)
        if session.dose_started_at is not None
        else template.min_monitoring_minutes
    )
    return rules.filing(
        template, point, dose_started_at=session.dose_started_at, measured_at=measured_at, end=end
    )


def _store(reading: Reading, *, session: MonitoringSession, by: Caller) -> None:
    db.session.add(reading)
    db.session.flush()
    audit.record(
        "create", "reading", reading.id, patient_id=session.patient_id, actor_id=by.user_id
    )


def _pre_dose(session: MonitoringSession, point: Timepoint | None, reading: Reading) -> bool:
    # Before the dose, the pre-dose thresholds (the hold among them) apply. An unscheduled
    # reading still raises its alerts, by when it was taken rather than what it was sent for.
    if point is not None and reading.timepoint is not None:
        return point.kind is TimepointKind.PRE_DOSE
    return session.dose_started_at is None


def _time_problem(session: MonitoringSession, measured_at: datetime, *, now: datetime) -> str:
    if measured_at > now:
        return "A reading cannot be measured in the future."
    if measured_at < session.checked_in_at:
        return "A reading cannot be measured before the patient checked in."
    if session.discharged_at is not None and measured_at > session.discharged_at:
        return "A reading cannot be measured after the patient was discharged."
    return ""


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
