"""What the booking rules need, read from the database into facts.py values.

A reference sent in a body (a room, a staff member) that is not of the course's
clinic, or not in use, is refused as invalid input naming the field.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql

from kapt_api.auth.models import Role, User, UserRole
from kapt_api.clinics import service as clinics
from kapt_api.clinics.models import Clinic, Room, RoomKind, StaffMember, TimeOff, WorkingHours
from kapt_api.clinics.rules import UtcRange, WeeklyInterval
from kapt_api.db import db
from kapt_api.errors import InvalidInput
from kapt_api.patients.models import CareTeamMember
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
from kapt_api.scheduling.models import (
    VERSION_TOKENS,
    Appointment,
    Course,
    ResourceHold,
    ScheduleVersion,
)

# A hold lasts a session and its buffer: never longer than a protocol may define.
LONGEST_HOLD = timedelta(minutes=MAX_SESSION_MINUTES + MAX_BUFFER_MINUTES)


def lock_schedules(clinic_ids: Iterable[uuid.UUID]) -> None:
    """Take the schedule version rows of these clinics, in clinic id order, until the
    transaction ends (PostgreSQL; SQLite's whole database is locked by db.begin_write).

    Every change to a clinic's schedule replaces its row (migration 0009's triggers), so
    the row is locked anyway from a change's first write to its end. Taken up front and
    in one order, two changes that touch the same clinics (a batch across two clinics,
    the same two booked the other way round) queue on the first row they share instead
    of each holding one row and waiting for the other's: that was a deadlock. A row not
    written yet is made here (the clinic's first change), with a new token."""
    if db.session.get_bind().dialect.name != "postgresql":
        return
    for clinic_id in sorted(set(clinic_ids)):
        row = postgresql.insert(ScheduleVersion).values(
            clinic_id=clinic_id, version=func.nextval(VERSION_TOKENS)
        )
        # Updating the row to itself locks it and leaves its token as it is: a change
        # refused after this is rolled back, and one that is not writes a new token.
        db.session.execute(
            row.on_conflict_do_update(
                index_elements=[ScheduleVersion.clinic_id],
                set_={"version": ScheduleVersion.version},
            )
        )


def locked_course(course_id: uuid.UUID) -> Course | None:
    """The course, its row locked until the transaction ends (PostgreSQL; SQLite's
    whole database is locked by db.begin_write): changes to one course's schedule
    happen one after the other, so two bookings cannot each pass the spacing rules
    that together they break. Its clinic's schedule is locked first (lock_schedules:
    clinics, then courses, then what a change writes)."""
    clinic_id = db.session.scalar(select(Course.clinic_id).where(Course.id == course_id))
    if clinic_id is None:
        return None
    lock_schedules([clinic_id])
    return db.session.scalar(
        select(Course)
        .where(Course.id == course_id)
        .with_for_update(of=Course)
        .execution_options(populate_existing=True)
    )


def clinics_of_courses(course_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    """The clinics these courses belong to (unknown ids left out)."""
    wanted = set(course_ids)
    if not wanted:
        return set()
    return set(db.session.scalars(select(Course.clinic_id).where(Course.id.in_(wanted))))


def patient_care_team(patient_id: uuid.UUID) -> list[uuid.UUID]:
    """The staff ids of the patient's care team."""
    return list(
        db.session.scalars(
            select(CareTeamMember.staff_id)
            .where(CareTeamMember.patient_id == patient_id)
            .order_by(CareTeamMember.staff_id)
        )
    )


def course_sessions(course_id: uuid.UUID) -> tuple[CourseSession, ...]:
    """Every appointment of the course, any status, as the rules see it, in time order
    (read as plain columns: what the rules need, nothing more)."""
    rows = db.session.execute(
        select(
            Appointment.id,
            Appointment.kind,
            Appointment.starts_at,
            Appointment.ends_at,
            Appointment.status,
        )
        .where(Appointment.course_id == course_id)
        .order_by(Appointment.starts_at, Appointment.id)
    )
    return tuple(
        CourseSession(
            row.id, SessionKind(row.kind), row.starts_at, row.ends_at, AppointmentStatus(row.status)
        )
        for row in rows
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
        sessions=course_sessions(course.id),
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


@dataclass(frozen=True)
class _Member:
    id: uuid.UUID
    name: str
    clinic_id: uuid.UUID
    usable: bool  # the staff record and its login both active


def _members(staff_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, _Member]:
    rows = db.session.execute(
        select(
            StaffMember.id,
            User.full_name,
            StaffMember.clinic_id,
            StaffMember.active,
            User.active.label("login_active"),
        )
        .join(User, User.id == StaffMember.user_id)
        .where(StaffMember.id.in_(staff_ids))
    )
    return {
        row.id: _Member(row.id, row.full_name, row.clinic_id, row.active and row.login_active)
        for row in rows
    }


def _roles(staff_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, frozenset[Role]]:
    found: dict[uuid.UUID, set[Role]] = {staff_id: set() for staff_id in staff_ids}
    rows = db.session.execute(
        select(StaffMember.id, UserRole.role)
        .join(UserRole, UserRole.user_id == StaffMember.user_id)
        .where(StaffMember.id.in_(staff_ids))
    )
    for staff_id, role in rows:
        found[staff_id].add(Role(role))
    return {staff_id: frozenset(roles) for staff_id, roles in found.items()}


def _weekly_hours(staff_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[WeeklyInterval]]:
    found: dict[uuid.UUID, list[WeeklyInterval]] = {staff_id: [] for staff_id in staff_ids}
    rows = db.session.execute(
        select(WorkingHours.staff_id, WorkingHours.weekday, WorkingHours.starts, WorkingHours.ends)
        .where(WorkingHours.staff_id.in_(staff_ids))
        .order_by(WorkingHours.weekday, WorkingHours.starts)
    )
    for staff_id, weekday, starts, ends in rows:
        found[staff_id].append(WeeklyInterval(weekday, starts, ends))
    return found


def _time_off(staff_ids: Sequence[uuid.UUID], around: UtcRange) -> dict[uuid.UUID, list[UtcRange]]:
    found: dict[uuid.UUID, list[UtcRange]] = {staff_id: [] for staff_id in staff_ids}
    rows = db.session.execute(
        select(TimeOff.staff_id, TimeOff.starts_at, TimeOff.ends_at).where(
            TimeOff.staff_id.in_(staff_ids),
            TimeOff.starts_at < around[1],
            TimeOff.ends_at > around[0],
        )
    )
    for staff_id, starts_at, ends_at in rows:
        found[staff_id].append((starts_at, ends_at))
    return found


def is_active_staff(staff_id: uuid.UUID, *, clinic_id: uuid.UUID) -> bool:
    member = _members([staff_id]).get(staff_id)
    return member is not None and member.usable and member.clinic_id == clinic_id


def staff_facts(
    staff_ids: Sequence[uuid.UUID], *, clinic_id: uuid.UUID, around: UtcRange
) -> tuple[StaffFacts, ...]:
    """The booked people with their roles, weekly hours and the time off touching
    `around`; refused unless each is named once and works, active, at the clinic."""
    if len(set(staff_ids)) != len(staff_ids):
        raise InvalidInput({"staff_ids": ["Name each staff member once."]})
    members = _members(staff_ids)
    problems = [
        f"{staff_id} is not an active staff member of the patient's clinic."
        for staff_id in staff_ids
        if staff_id not in members
        or members[staff_id].clinic_id != clinic_id
        or not members[staff_id].usable
    ]
    if problems:
        raise InvalidInput({"staff_ids": problems})
    roles, hours, away = _roles(staff_ids), _weekly_hours(staff_ids), _time_off(staff_ids, around)
    return tuple(
        StaffFacts(
            id=staff_id,
            name=members[staff_id].name,
            roles=roles[staff_id],
            working_hours=tuple(hours[staff_id]),
            time_off=tuple(sorted(away[staff_id])),
        )
        for staff_id in staff_ids
    )


def team_roles(staff_ids: Sequence[uuid.UUID]) -> list[tuple[uuid.UUID, frozenset[Role]]]:
    """Each of these staff members with their login's roles, in the order given."""
    members, roles = _members(staff_ids), _roles(staff_ids)
    return [(staff_id, roles[staff_id]) for staff_id in staff_ids if staff_id in members]


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
