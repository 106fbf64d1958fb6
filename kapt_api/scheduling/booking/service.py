"""Booking and moving an appointment. They flush and never commit; the boundary
(route, job) calls db.begin_write first and commits once.

Booking and moving load the course (its row locked), the calendar around the
requested time and the protocol's rules, ask rules.booking_violations for every
broken rule, refuse with all of them unless an override covers them, then write
the appointment and its resource holds and send a signal. The holds are the last
word: a race lost to a booking committed a moment earlier is caught by the
database (exclusion constraint, SQLSTATE 23P01) and refused the same way.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

import structlog

from kapt_api.db import db, new_id, on_postgresql
from kapt_api.errors import Conflict, InvalidInput, RuleRefused, Violation
from kapt_api.patients.policy import Caller
from kapt_api.protocols.definition import SessionKind, SessionType
from kapt_api.scheduling.booking import holds, queries, resource_rules, rules, signals
from kapt_api.scheduling.booking import policy as booking_policy
from kapt_api.scheduling.booking.models import Appointment, AppointmentStaff, StatusChange
from kapt_api.scheduling.booking.overrides import (
    audit_change,
    audit_override,
    refuse_override_unless_allowed,
    set_override,
)
from kapt_api.scheduling.booking.values import BookingRequest, held_until, session_end
from kapt_api.scheduling.courses import policy as course_policy
from kapt_api.scheduling.courses import queries as course_queries
from kapt_api.scheduling.courses.models import Course
from kapt_api.scheduling.courses.values import AppointmentStatus

log = structlog.get_logger("kapt.scheduling")


class BookingRefused(RuleRefused):
    """A booking or move refused with every rule it breaks: 409 when a person, room or
    patient is already taken, else 422."""

    def __init__(self, violations: Sequence[Violation]) -> None:
        super().__init__(violations)
        if any(v.rule in rules.RESOURCE_RULES for v in self.violations):
            self.status = 409
            self.code = "booking_conflict"
            self.title = "The booking clashes with another"


def session_type_of(course: Course, kind: SessionKind) -> SessionType:
    found = course.definition.session_type(kind)
    if found is None:
        raise InvalidInput({"kind": [f"This course's protocol has no {kind.value} sessions."]})
    return found


def _course_for_booking(course_id: uuid.UUID, by: Caller) -> Course:
    course = course_queries.locked_course(course_id, with_protocol=False)
    if course is None or not course_policy.can_see(by, course.clinic_id):
        raise InvalidInput({"course_id": ["No course with this id."]})
    return course


def _decision(
    request: BookingRequest,
    course: Course,
    session_type: SessionType,
    *,
    override: Sequence[str],
    now: datetime,
) -> rules.Decision:
    """Every rule the request breaks, split by the override; refused if any remain."""
    around = (request.starts_at, held_until(session_type, request.starts_at))
    place = queries.place(request.room_id, clinic_id=course.clinic_id, zone=course.clinic.time_zone)
    staff = queries.staff_facts(request.staff_ids, clinic_id=course.clinic_id, around=around)
    calendar = queries.calendar(
        place=place, staff=staff, keys=request.resource_keys(), around=around
    )
    state = course_queries.course_state(course, now=now, hold=request.kind is SessionKind.DOSING)
    decision = rules.decide(rules.booking_violations(request, state, calendar, now=now), override)
    if decision.blocking:
        raise BookingRefused(decision.blocking)
    return decision


def _default_staff(course: Course, session_type: SessionType) -> tuple[uuid.UUID, ...]:
    return resource_rules.default_staff(
        session_type, course_queries.team_roles(course.care_team_ids)
    )


def _save(
    appointment: Appointment,
    request: BookingRequest,
    course: Course,
    session_type: SessionType,
    *,
    override: Sequence[str],
    now: datetime,
) -> None:
    """Write the appointment and its holds. A hold the database refuses (a booking
    committed a moment ago) undoes this write, and the request is checked again against
    what is now there, so the refusal names every rule. A new appointment on PostgreSQL
    needs no savepoint (holds.write_new; one cost a tenth of a booking)."""
    if appointment not in db.session and on_postgresql():  # SQLite's triggers raise
        rule = holds.write_new(appointment, request.resource_keys())
    else:
        rule = holds.write_in_savepoint(appointment, request.resource_keys())
    if rule is not None:
        log.info("booking_race_lost", rule=rule, course_id=str(course.id))
        _decision(request, course, session_type, override=override, now=now)
        raise BookingRefused(
            [Violation(rule, "Someone else booked this time a moment ago; choose another.")]
        )


def _set_staff(appointment: Appointment, staff_ids: Sequence[uuid.UUID]) -> None:
    # Members who stay keep their rows: re-adding the same key would collide in one flush.
    kept = {member.staff_id: member for member in appointment.staff if member.staff_id in staff_ids}
    rows = []
    for position, staff_id in enumerate(staff_ids):
        row = kept.get(staff_id) or AppointmentStaff(staff_id=staff_id)
        row.position = position
        rows.append(row)
    appointment.staff = rows


def start_of(
    starts_at: datetime | None,
    local_start: Mapping[str, Any] | None,
    *,
    clinic_id: uuid.UUID,
    required: bool,
) -> datetime | None:
    """The requested start: `starts_at`, or `local_start` ({date, time} on the clinic's
    clocks) refused when the clocks skip that time or show it twice."""
    if starts_at is not None and local_start is not None:
        raise InvalidInput({"local_start": ["Give starts_at or local_start, not both."]})
    if local_start is None:
        if starts_at is None and required:
            raise InvalidInput({"starts_at": ["Give starts_at or local_start."]})
        return starts_at
    zone = course_queries.clinic_zone(clinic_id)
    found = rules.local_instant(local_start["date"], local_start["time"], zone)
    if isinstance(found, Violation):
        raise RuleRefused([replace(found, details={"field": "local_start"})])
    return found


# Kept whole: lock, check, write, hold and signal are one booking in one transaction;
# read top to bottom they are the order that keeps a double booking out.
def book(
    *,
    course_id: uuid.UUID,
    kind: SessionKind,
    room_id: uuid.UUID,
    by: Caller,
    now: datetime,
    starts_at: datetime | None = None,
    local_start: Mapping[str, Any] | None = None,
    staff_ids: Sequence[uuid.UUID] | None = None,
    override: Mapping[str, Any] | None = None,
    offer_id: uuid.UUID | None = None,
) -> Appointment:
    """Book a session of a course; every rule it breaks is named in the refusal.
    `offer_id`: the waitlist offer this booking accepts (its patient link may book it)."""
    course = _course_for_booking(course_id, by)
    care_team = course_queries.patient_care_team(course.patient_id)
    course_policy.ensure(
        booking_policy.can_book(by, care_team, offer_id=offer_id),
        "Only front desk, administrators and clinicians on the patient's care team book.",
    )
    refuse_override_unless_allowed(by, override)
    starts_at = start_of(starts_at, local_start, clinic_id=course.clinic_id, required=True)
    assert starts_at is not None
    kind = SessionKind(kind)
    session_type = session_type_of(course, kind)
    chosen = tuple(staff_ids) if staff_ids else _default_staff(course, session_type)
    request = BookingRequest(kind, starts_at, room_id, chosen, course.patient_id)
    codes = override["rules"] if override else ()
    decision = _decision(request, course, session_type, override=codes, now=now)
    appointment = Appointment(
        id=new_id(),
        course_id=course.id,
        patient_id=course.patient_id,
        clinic_id=course.clinic_id,
        kind=kind.value,
        status=AppointmentStatus.BOOKED.value,
        starts_at=starts_at,
        ends_at=session_end(session_type, starts_at),
        held_until=held_until(session_type, starts_at),
        room_id=room_id,
        created_by=by.user_row,
    )
    _set_staff(appointment, chosen)
    appointment.history = [
        StatusChange(to_status=AppointmentStatus.BOOKED.value, at=now, by=by.user_row)
    ]
    if override and decision.overridden:
        set_override(appointment, decision, override, by)
    _save(appointment, request, course, session_type, override=codes, now=now)
    audit_change(appointment, by, "create")
    if override and decision.overridden:
        audit_override(appointment, decision, override["reason"], by)
    signals.appointment_booked.send(appointment, now=now)
    return appointment


# Kept whole: as book: lock, check, write, hold and signal in one transaction, in order.
def move(
    *,
    appointment: Appointment,
    by: Caller,
    now: datetime,
    starts_at: datetime | None = None,
    local_start: Mapping[str, Any] | None = None,
    room_id: uuid.UUID | None = None,
    staff_ids: Sequence[uuid.UUID] | None = None,
    override: Mapping[str, Any] | None = None,
) -> Appointment:
    """Reschedule a booked appointment (time, room, staff); every rule is checked again.

    An override sent with the move replaces the appointment's; without one, the
    appointment keeps its override while its time stays the same.
    """
    course = course_queries.locked_course(appointment.course_id, with_protocol=False)
    assert course is not None
    course_policy.ensure(
        booking_policy.can_book(by, course_queries.patient_care_team(course.patient_id)),
        "Only front desk, administrators and clinicians on the patient's care team move "
        "appointments.",
    )
    _ensure_status(appointment, AppointmentStatus.BOOKED, "moved")
    refuse_override_unless_allowed(by, override)
    starts_at = start_of(starts_at, local_start, clinic_id=course.clinic_id, required=False)
    kind = SessionKind(appointment.kind)
    session_type = session_type_of(course, kind)
    new_start = starts_at or appointment.starts_at
    chosen = tuple(staff_ids) if staff_ids else tuple(appointment.staff_ids)
    request = BookingRequest(
        kind, new_start, room_id or appointment.room_id, chosen, course.patient_id, appointment.id
    )
    carried = override is None and new_start == appointment.starts_at
    if override:
        codes: Sequence[str] = override["rules"]
    else:
        codes = (appointment.override_rules or []) if carried else ()
    decision = _decision(request, course, session_type, override=codes, now=now)
    previous = appointment.starts_at
    if new_start != previous:
        # The patient said they would come (and be driven home) at the old time, not
        # the new one: the front desk must not see the new time as confirmed.
        appointment.confirmed_at = appointment.escort_confirmed_at = None
    appointment.starts_at = new_start
    appointment.ends_at = session_end(session_type, new_start)
    appointment.held_until = held_until(session_type, new_start)
    appointment.room_id = request.room_id
    _set_staff(appointment, chosen)
    if override and decision.overridden:
        set_override(appointment, decision, override, by)
    elif not (carried and decision.overridden):
        appointment.override_rules = appointment.override_reason = appointment.override_by = None
    _save(appointment, request, course, session_type, override=codes, now=now)
    audit_change(appointment, by, "update")
    if override and decision.overridden:
        audit_override(appointment, decision, override["reason"], by)
    signals.appointment_moved.send(appointment, now=now, previous_starts_at=previous)
    return appointment


def _ensure_status(appointment: Appointment, status: AppointmentStatus, verb: str) -> None:
    if appointment.status != status.value:
        current = AppointmentStatus(appointment.status)
        raise Conflict(
            f"Only a {status.value.replace('_', ' ')} appointment can be {verb}; this one is "
            f"{current.value.replace('_', ' ')}.",
            code="illegal_status_change",
            violations=[
                Violation(
                    "illegal_status_change",
                    f"This appointment is {current.value.replace('_', ' ')}.",
                    {"current_status": current.value},
                )
            ],
        )
