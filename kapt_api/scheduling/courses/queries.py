"""What the course rules need, read from the database into values.py values: a course
(locked for a change), its sessions, its clinic's zone, its care team, the staff who
may join one, and the schedule locks every change takes first."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql

from kapt_api.auth.models import Role, User, UserRole
from kapt_api.clinics.models import Clinic, StaffMember
from kapt_api.db import db
from kapt_api.patients.models import CareTeamMember
from kapt_api.protocols.definition import SessionKind
from kapt_api.scheduling.booking.models import (
    VERSION_TOKENS,
    Appointment,
    ScheduleVersion,
)
from kapt_api.scheduling.courses import signals
from kapt_api.scheduling.courses.models import Course
from kapt_api.scheduling.courses.values import (
    AppointmentStatus,
    CourseSession,
    CourseState,
    CourseStatus,
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


@dataclass(frozen=True)
class Member:
    id: uuid.UUID
    name: str
    clinic_id: uuid.UUID
    usable: bool  # the staff record and its login both active


def staff_members(staff_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Member]:
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
        row.id: Member(row.id, row.full_name, row.clinic_id, row.active and row.login_active)
        for row in rows
    }


def staff_roles(staff_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, frozenset[Role]]:
    found: dict[uuid.UUID, set[Role]] = {staff_id: set() for staff_id in staff_ids}
    rows = db.session.execute(
        select(StaffMember.id, UserRole.role)
        .join(UserRole, UserRole.user_id == StaffMember.user_id)
        .where(StaffMember.id.in_(staff_ids))
    )
    for staff_id, role in rows:
        found[staff_id].add(Role(role))
    return {staff_id: frozenset(roles) for staff_id, roles in found.items()}


def is_active_staff(staff_id: uuid.UUID, *, clinic_id: uuid.UUID) -> bool:
    member = staff_members([staff_id]).get(staff_id)
    return member is not None and member.usable and member.clinic_id == clinic_id


def team_roles(staff_ids: Sequence[uuid.UUID]) -> list[tuple[uuid.UUID, frozenset[Role]]]:
    """Each of these staff members with their login's roles, in the order given."""
    members, roles = staff_members(staff_ids), staff_roles(staff_ids)
    return [(staff_id, roles[staff_id]) for staff_id in staff_ids if staff_id in members]


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
