"""Recording a course's questionnaire scores and reading their trend.

A PHQ-9 item 9 answered above 0 raises a critical monitoring alert for the prescriber
(outcomes uses monitoring's alerts; monitoring never imports outcomes).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Select, select

from kapt_api.auth import audit
from kapt_api.db import db
from kapt_api.errors import InvalidInput
from kapt_api.monitoring import alerts
from kapt_api.monitoring.models import AlertKind
from kapt_api.monitoring.service import reach_clinical
from kapt_api.outcomes import rules
from kapt_api.outcomes.models import OutcomeMeasure
from kapt_api.patients.policy import Caller
from kapt_api.protocols.definition import SessionKind, Severity
from kapt_api.scheduling.booking.models import Appointment
from kapt_api.scheduling.courses.models import Course

RESOURCE = "outcome_measure"


def find_course(*, course_id: uuid.UUID, by: Caller, action: str) -> Course:
    """The course if `by` is a clinician on the patient's care team (else 404 or 403)."""
    return reach_clinical(
        db.session.get(Course, course_id),
        resource=RESOURCE,
        resource_id=course_id,
        by=by,
        action=action,
    )


def record_measure(
    *,
    course: Course,
    instrument: str,
    items: list[int],
    measured_at: datetime,
    by: Caller,
    now: datetime,
    appointment_id: uuid.UUID | None = None,
) -> OutcomeMeasure:
    """Store one questionnaire; a self-harm answer raises a critical alert."""
    kind = rules.Instrument(instrument)
    problems = _measure_problems(course, kind, items, measured_at, now, appointment_id)
    if problems:
        raise InvalidInput(problems)
    measure = OutcomeMeasure(
        course_id=course.id,
        patient_id=course.patient_id,
        clinic_id=course.clinic_id,
        appointment_id=appointment_id,
        instrument=kind.value,
        items=list(items),
        total=rules.total(items),
        measured_at=measured_at,
        recorded_by=by.user_id,
        recorded_at=now,
    )
    db.session.add(measure)
    db.session.flush()
    audit.record("create", RESOURCE, measure.id, patient_id=course.patient_id, actor_id=by.user_id)
    if rules.self_harm_answered(kind, items):
        _alert_self_harm(measure, course=course, by=by, now=now)
    return measure


def _measure_problems(
    course: Course,
    kind: rules.Instrument,
    items: list[int],
    measured_at: datetime,
    now: datetime,
    appointment_id: uuid.UUID | None,
) -> dict[str, list[str]]:
    problems: dict[str, list[str]] = {}
    if found := rules.item_problems(kind, items):
        problems["items"] = found
    if measured_at > now:
        problems["measured_at"] = ["A questionnaire cannot be answered in the future."]
    if appointment_id is not None:
        appointment = db.session.get(Appointment, appointment_id)
        if (
            appointment is None
            or appointment.course_id != course.id
            or appointment.kind != SessionKind.DOSING.value
        ):
            problems["appointment_id"] = ["Not a dosing session of this course."]
    return problems


def _alert_self_harm(measure: OutcomeMeasure, *, course: Course, by: Caller, now: datetime) -> None:
    alerts.raise_alert(
        key=f"self-harm:{measure.id}",
        now=now,
        raised_by=by.user_id,
        clinic_id=course.clinic_id,
        patient_id=course.patient_id,
        course_id=course.id,
        kind=AlertKind.SELF_HARM_ANSWER.value,
        severity=Severity.CRITICAL.value,
        message="PHQ-9 item 9 (thoughts of self-harm) was answered above 0: the "
        "prescriber must assess before dosing.",
    )


def measures_query(
    *, course: Course, instrument: str | None = None
) -> Select[tuple[OutcomeMeasure]]:
    stmt = select(OutcomeMeasure).where(OutcomeMeasure.course_id == course.id)
    if instrument is not None:
        stmt = stmt.where(OutcomeMeasure.instrument == instrument)
    return stmt.order_by(OutcomeMeasure.measured_at, OutcomeMeasure.id)


def trends(*, course: Course) -> list[rules.Trend]:
    """Each instrument's first and latest total and the change over the course."""
    measures = list(db.session.scalars(measures_query(course=course)))
    return [
        rules.trend(
            kind,
            [rules.Score(m.measured_at, m.total) for m in measures if m.instrument == kind.value],
        )
        for kind in rules.Instrument
    ]
