"""Cancelling an appointment and its status steps: check in, start, complete, no-show.

The status machine is strict (status_rules.TRANSITIONS); a step it does not allow answers
409 naming the current and the wanted status, one before its time 422 (arrival.py). Every
step is kept in the appointment's history with who, when and why (the reason, and its
category for staff off the care team). A cancelled or no-show appointment releases its
resource holds. They flush and never commit.

Cancelling (or missing) a session a booked dose depends on is accepted: the patient is
not coming whatever the answer. The dose is flagged instead (courses/readiness_flags.py),
and its check-in is refused naming the flag unless an administrator or prescriber
overrides it then, or the dose's booking overrode that rule already.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from kapt_api.auth import audit
from kapt_api.db import db
from kapt_api.errors import Conflict, InvalidInput, RuleRefused, Violation
from kapt_api.patients.policy import Caller
from kapt_api.protocols.definition import SessionKind
from kapt_api.scheduling.booking import arrival, holds, rules, signals, status_rules
from kapt_api.scheduling.booking import policy as booking_policy
from kapt_api.scheduling.booking.models import Appointment, StatusChange
from kapt_api.scheduling.booking.overrides import (
    audit_change,
    audit_override,
    keep_check_in_override,
    refuse_override_unless_allowed,
)
from kapt_api.scheduling.booking.service import session_type_of
from kapt_api.scheduling.courses import policy as course_policy
from kapt_api.scheduling.courses import queries, readiness_flags
from kapt_api.scheduling.courses.models import Course
from kapt_api.scheduling.courses.progress import course_finished
from kapt_api.scheduling.courses.values import AppointmentStatus, CourseStatus, ReasonCategory


def _step(
    appointment: Appointment,
    to: AppointmentStatus,
    *,
    by: Caller,
    now: datetime,
    reason: str | None = None,
    reason_category: ReasonCategory | None = None,
) -> None:
    """Move along the status machine (or 409 naming the current and wanted status)."""
    current = AppointmentStatus(appointment.status)
    refused = status_rules.transition_violation(current, to)
    if refused is not None:
        raise Conflict(refused.message, code="illegal_status_change", violations=[refused])
    arrival.refuse_before_time(appointment, to, now=now)
    appointment.status = to.value
    change = StatusChange(from_status=current.value, to_status=to.value, at=now, by=by.user_row)
    change.reason, change.reason_category = reason, reason_category
    appointment.history.append(change)
    if to in (AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW):
        holds.release(appointment.id)


def release(
    appointment: Appointment,
    *,
    reason: str,
    reason_category: ReasonCategory,
    by: Caller,
    now: datetime,
) -> Appointment:
    """Cancel without asking the course's rules (the course itself is ending)."""
    course = db.session.get(Course, appointment.course_id)
    assert course is not None
    session_type = session_type_of(course, SessionKind(appointment.kind))
    _step(
        appointment,
        AppointmentStatus.CANCELLED,
        by=by,
        now=now,
        reason=reason,
        reason_category=reason_category,
    )
    appointment.late_cancellation = status_rules.is_late_cancellation(
        session_type, appointment.starts_at, now=now
    )
    db.session.flush()
    audit_change(appointment, by, "cancel", reason)
    signals.appointment_cancelled.send(appointment, now=now, late=appointment.late_cancellation)
    return appointment


def cancel(
    *,
    appointment: Appointment,
    reason: str,
    by: Caller,
    now: datetime,
    reason_category: ReasonCategory = ReasonCategory.OTHER,
    override: Mapping[str, Any] | None = None,
) -> Appointment:
    """Cancel a booked appointment, with a reason; inside the session type's cancellation
    notice it is marked a late cancellation. A dose left without its preparation or
    integration is flagged, not a refusal (rules.cancellation_violations); an
    integration session left with no dose before it still refuses, naming the rule."""
    course_policy.ensure(
        booking_policy.can_run_desk(by), "Only front desk and administrators cancel."
    )
    refuse_override_unless_allowed(by, override)
    return cancel_within_rules(
        appointment=appointment,
        reason=reason,
        by=by,
        now=now,
        reason_category=reason_category,
        override=override,
    )


def cancel_within_rules(
    *,
    appointment: Appointment,
    reason: str,
    by: Caller,
    now: datetime,
    reason_category: ReasonCategory = ReasonCategory.OTHER,
    override: Mapping[str, Any] | None = None,
) -> Appointment:
    """cancel, for a caller already allowed to (the desk, or the patient by their link)."""
    course = queries.locked_course(appointment.course_id)
    assert course is not None
    refused = status_rules.transition_violation(
        AppointmentStatus(appointment.status), AppointmentStatus.CANCELLED
    )
    if refused is not None:
        raise Conflict(refused.message, code="illegal_status_change", violations=[refused])
    state = queries.course_state(course, now=now)
    zone = queries.clinic_zone(course.clinic_id)
    decision = rules.decide(
        rules.cancellation_violations(appointment.id, state, zone=zone),
        override["rules"] if override else (),
    )
    if decision.blocking:
        raise RuleRefused(decision.blocking)
    release(appointment, reason=reason, reason_category=reason_category, by=by, now=now)
    if override and decision.overridden:
        audit_override(appointment, decision, override["reason"], by)
    return appointment


def _readiness_decision(
    appointment: Appointment, override: Mapping[str, Any] | None
) -> rules.Decision:
    """The dose's readiness flags, split by the check-in's override; refused (422, each
    flag named) if any is covered neither by it nor by the dose's booking override."""
    if appointment.kind != SessionKind.DOSING.value:
        return rules.decide([])
    course = db.session.get(Course, appointment.course_id)
    assert course is not None
    zone = queries.clinic_zone(course.clinic_id)
    sessions = queries.course_sessions(course.id)
    found = readiness_flags.flag_findings(course.definition, sessions, zone)
    booked = set(appointment.override_rules or ())
    refusals = [
        readiness_flags.check_in_refusal(f, course.definition, sessions, zone)
        for f in found.get(appointment.id, [])
        if f.rule not in booked
    ]
    decision = rules.decide(refusals, override["rules"] if override else ())
    if decision.blocking:
        raise RuleRefused(decision.blocking)
    return decision


# Kept whole: lock, readiness decision, override check, step and signal are one check-in
# in one transaction, in the order a refusal must be found.
def check_in(
    *,
    appointment: Appointment,
    by: Caller,
    now: datetime,
    override: Mapping[str, Any] | None = None,
) -> Appointment:
    """The patient has arrived. A flagged dose asks for an override of its flags."""
    course_policy.ensure(
        booking_policy.can_check_in(by, overriding=override is not None),
        "Only front desk and administrators check in (prescribers too, when they override "
        "a dose's readiness flags).",
    )
    refuse_override_unless_allowed(by, override)
    others = (
        sorted(set(override["rules"]) - set(readiness_flags.READINESS_RULES)) if override else []
    )
    if others:
        raise InvalidInput(
            {
                "override.rules": [
                    f"A check-in overrides only a dose's readiness flags "
                    f"({', '.join(sorted(readiness_flags.READINESS_RULES))}), "
                    f"not {', '.join(others)}."
                ]
            }
        )
    refused = status_rules.transition_violation(
        AppointmentStatus(appointment.status), AppointmentStatus.CHECKED_IN
    )
    if refused is not None:
        raise Conflict(refused.message, code="illegal_status_change", violations=[refused])
    decision = _readiness_decision(appointment, override)
    _step(appointment, AppointmentStatus.CHECKED_IN, by=by, now=now)
    if override and decision.overridden:
        keep_check_in_override(appointment, decision, override["reason"], by)
    db.session.flush()
    audit_change(appointment, by, "check_in")
    if override and decision.overridden:
        audit_override(appointment, decision, override["reason"], by)
    signals.appointment_checked_in.send(appointment, now=now)
    return appointment


def mark_no_show(
    *,
    appointment: Appointment,
    by: Caller,
    now: datetime,
    reason: str | None = None,
    reason_category: ReasonCategory = ReasonCategory.OTHER,
) -> Appointment:
    """The patient did not come; the time, room and people are free again."""
    course_policy.ensure(
        booking_policy.can_run_desk(by), "Only front desk and administrators mark a no-show."
    )
    if now < appointment.starts_at and appointment.status == AppointmentStatus.BOOKED.value:
        raise RuleRefused(
            [
                Violation(
                    "not_started_yet",
                    "A no-show can be recorded once the appointment's start time has passed.",
                )
            ]
        )
    _step(
        appointment,
        AppointmentStatus.NO_SHOW,
        by=by,
        now=now,
        reason=reason,
        reason_category=reason_category,
    )
    db.session.flush()
    audit_change(appointment, by, "no_show", reason)
    signals.appointment_no_show.send(appointment, now=now)
    return appointment


def _ensure_treats(appointment: Appointment, by: Caller) -> None:
    course_policy.ensure(
        course_policy.treats(by, queries.patient_care_team(appointment.patient_id)),
        "Only prescribers, nurses and therapists on the patient's care team start and "
        "complete a session.",
    )


def start(*, appointment: Appointment, by: Caller, now: datetime) -> Appointment:
    """The session begins."""
    _ensure_treats(appointment, by)
    answers = signals.appointment_starting.send(appointment, now=now)
    held = next((str(answer) for _receiver, answer in answers if answer), None)
    if held is not None:
        raise RuleRefused([Violation("pre_dose_gate", held)])
    _step(appointment, AppointmentStatus.IN_PROGRESS, by=by, now=now)
    db.session.flush()
    audit_change(appointment, by, "start")
    return appointment


def complete(
    *, appointment: Appointment, by: Caller, now: datetime, clinical_notes: str | None = None
) -> Appointment:
    """The session is over; when it was the course's last, the course is completed."""
    _ensure_treats(appointment, by)
    _step(appointment, AppointmentStatus.COMPLETED, by=by, now=now)
    if clinical_notes is not None:
        appointment.clinical_notes = clinical_notes
    db.session.flush()
    audit_change(appointment, by, "complete")
    course = db.session.get(Course, appointment.course_id)
    assert course is not None
    sessions = queries.course_sessions(course.id)
    if course.status == CourseStatus.ACTIVE.value and course_finished(course.definition, sessions):
        course.status = CourseStatus.COMPLETED.value
        course.completed_at = now
        db.session.flush()
        audit.record(
            "complete", "course", course.id, patient_id=course.patient_id, actor_id=by.user_id
        )
    signals.appointment_completed.send(appointment, now=now)
    return appointment
