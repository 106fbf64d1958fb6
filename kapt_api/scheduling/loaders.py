"""What the booking rules need, read from the database into facts.py values.

A reference sent in a body (a room, a staff member) that is not of the course's
clinic, or not in use, is refused as invalid input naming the field.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select

from kapt_api.auth.models import Role
from kapt_api.clinics import service as clinics
from kapt_api.clinics.models import Clinic, Room, RoomKind, StaffMember, TimeOff
from kapt_api.clinics.rules import UtcRange
from kapt_api.db import db
from kapt_api.errors import InvalidInput
from kapt_api.patients.models import Patient
from kapt_api.protocols.definition import SessionKind
from kapt_api.protocols.rules import MAX_BUFFER_MINUTES, MAX_SESSION_MINUTES
from kapt_api.scheduling import signals
from kapt_api.scheduling.facts import (
    AppointmentStatus,
    Calendar,
    CourseSession,
    CourseState,
    CourseStatus,
    Hold,
    RoomFacts,
    StaffFacts,
)
from kapt_api.scheduling.models import Appointment, Course, ResourceHold

# A hold lasts a session and its buffer: never longer than a protocol may define.
LONGEST_HOLD = timedelta(minutes=MAX_SESSION_MINUTES + MAX_BUFFER_MINUTES)


def locked_course(course_id: uuid.UUID) -> Course | None:
    """The course, its row locked until the transaction ends (PostgreSQL; SQLite's
    whole database is locked by db.begin_write): changes to one course's schedule
    happen one after the other, so two bookings cannot each pass the spacing rules
    that together they break."""
    return db.session.scalar(
        select(Course)
        .where(Course.id == course_id)
        .with_for_update(of=Course)
        .execution_options(populate_existing=True)
    )


def patient_care_team(patient_id: uuid.UUID) -> list[uuid.UUID]:
    patient = db.session.get(Patient, patient_id)
    return patient.care_team_ids if patient is not None else []


def course_appointments(course_id: uuid.UUID) -> list[Appointment]:
    return list(
        db.session.scalars(
            select(Appointment)
            .where(Appointment.course_id == course_id)
            .order_by(Appointment.starts_at, Appointment.id)
            .execution_options(populate_existing=True)
        )
    )


def session_of(appointment: Appointment) -> CourseSession:
    return CourseSession(
        id=appointment.id,
        kind=SessionKind(appointment.kind),
        starts_at=appointment.starts_at,
        ends_at=appointment.ends_at,
        status=AppointmentStatus(appointment.status),
    )


def pre_dose_hold(course: Course, *, now: datetime) -> str | None:
    """Why the course's last monitoring checklist holds the next dose, if a subscriber
    to signals.pre_dose_hold_check says it does."""
    answers = signals.pre_dose_hold_check.send(course, now=now)
    return next((str(answer) for _receiver, answer in answers if answer), None)


def course_state(course: Course, *, now: datetime, hold: bool = False) -> CourseState:
    """The course as the rules see it; with `hold`, asks whether a dose is held."""
    return CourseState(
        status=CourseStatus(course.status),
        definition=course.definition,
        sessions=tuple(session_of(a) for a in course_appointments(course.id)),
        pre_dose_hold=pre_dose_hold(course, now=now) if hold else None,
    )


def clinic_zone(clinic_id: uuid.UUID) -> str:
    clinic = db.session.get(Clinic, clinic_id)
    assert clinic is not None
    return clinic.time_zone


def room_facts(room_id: uuid.UUID, *, clinic_id: uuid.UUID) -> RoomFacts:
    room = db.session.get(Room, room_id)
    if room is None or room.clinic_id != clinic_id:
        raise InvalidInput({"room_id": ["No room with this id at the patient's clinic."]})
    if not room.active:
        raise InvalidInput({"room_id": [f"Room {room.name} is not in use."]})
    return RoomFacts(room.id, room.name, RoomKind(room.kind))


def is_active_staff(staff_id: uuid.UUID, *, clinic_id: uuid.UUID) -> bool:
    member = db.session.get(StaffMember, staff_id)
    return (
        member is not None
        and member.clinic_id == clinic_id
        and member.active
        and member.user.active
    )


def _staff_members(staff_ids: Sequence[uuid.UUID], *, clinic_id: uuid.UUID) -> list[StaffMember]:
    if len(set(staff_ids)) != len(staff_ids):
        raise InvalidInput({"staff_ids": ["Name each staff member once."]})
    found = {
        member.id: member
        for member in db.session.scalars(select(StaffMember).where(StaffMember.id.in_(staff_ids)))
    }
    problems = [
        f"{staff_id} is not an active staff member of the patient's clinic."
        for staff_id in staff_ids
        if staff_id not in found
        or found[staff_id].clinic_id != clinic_id
        or not found[staff_id].active
        or not found[staff_id].user.active
    ]
    if problems:
        raise InvalidInput({"staff_ids": problems})
    return [found[staff_id] for staff_id in staff_ids]


def staff_facts(
    staff_ids: Sequence[uuid.UUID], *, clinic_id: uuid.UUID, around: UtcRange
) -> tuple[StaffFacts, ...]:
    """The booked people with their roles, weekly hours and the time off touching `around`."""
    members = _staff_members(staff_ids, clinic_id=clinic_id)
    away: dict[uuid.UUID, list[UtcRange]] = {}
    if members:
        rows = db.session.scalars(
            select(TimeOff).where(
                TimeOff.staff_id.in_([m.id for m in members]),
                TimeOff.starts_at < around[1],
                TimeOff.ends_at > around[0],
            )
        )
        for row in rows:
            away.setdefault(row.staff_id, []).append((row.starts_at, row.ends_at))
    return tuple(
        StaffFacts(
            id=member.id,
            name=member.full_name,
            roles=member.user.roles,
            working_hours=tuple(clinics.working_pattern(staff=member)),
            time_off=tuple(sorted(away.get(member.id, []))),
        )
        for member in members
    )


def team_roles(staff_ids: Sequence[uuid.UUID]) -> list[tuple[uuid.UUID, frozenset[Role]]]:
    """Each of these staff members with their login's roles, in the order given."""
    rows = {
        member.id: member.user.roles
        for member in db.session.scalars(select(StaffMember).where(StaffMember.id.in_(staff_ids)))
    }
    return [(staff_id, rows[staff_id]) for staff_id in staff_ids if staff_id in rows]


def holds(keys: Sequence[str], around: UtcRange) -> tuple[Hold, ...]:
    """The holds of these resources that overlap `around`. No hold is longer than the
    longest session and buffer a protocol may define, so its start is bounded on both
    sides: the (resource_key, starts_at) index reads the window, not the history."""
    rows = db.session.scalars(
        select(ResourceHold).where(
            ResourceHold.resource_key.in_(keys),
            ResourceHold.starts_at < around[1],
            ResourceHold.starts_at > around[0] - LONGEST_HOLD,
            ResourceHold.ends_at > around[0],
        )
    )
    return tuple(Hold(h.resource_key, h.starts_at, h.ends_at, h.appointment_id) for h in rows)


def calendar(
    *,
    clinic_id: uuid.UUID,
    room: RoomFacts,
    staff: tuple[StaffFacts, ...],
    keys: Sequence[str],
    around: UtcRange,
) -> Calendar:
    clinic = db.session.get(Clinic, clinic_id)
    assert clinic is not None
    return Calendar(
        zone=clinic.time_zone,
        opening_hours=tuple(clinics.opening_pattern(clinic=clinic)),
        room=room,
        staff=staff,
        holds=holds(keys, around),
    )
