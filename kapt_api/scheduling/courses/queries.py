"""What the course rules need, read from the database into values.py values: a course
(locked for a change), its sessions, its clinic's zone, its care team, the staff who
may join one, and the schedule locks every change takes first."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Uuid, bindparam, select, text
from sqlalchemy.orm import joinedload

from kapt_api.auth.models import Role, User, UserRole
from kapt_api.clinics.models import Clinic, StaffMember
from kapt_api.db import db, on_postgresql
from kapt_api.patients.models import CareTeamMember, Patient
from kapt_api.protocols.definition import SessionKind
from kapt_api.protocols.models import ProtocolVersion
from kapt_api.rows import read, write
from kapt_api.scheduling.booking.models import (
    Appointment,
)
from kapt_api.scheduling.courses import signals
from kapt_api.scheduling.courses.models import Course
from kapt_api.scheduling.courses.values import (
    AppointmentStatus,
    CourseSession,
    CourseState,
    CourseStatus,
)


def locked_course(course_id: uuid.UUID, *, with_protocol: bool = True) -> Course | None:
    """The course, its row locked until the transaction ends (PostgreSQL; SQLite's
    whole database is locked by db.begin_write): changes to one course's schedule
    happen one after the other, so two bookings cannot each pass the spacing rules
    that together they break. Its clinic's schedule is locked first (clinics, then
    courses, then what a change writes; lock_schedules).

    The course comes with its protocol version, its patient and its clinic in one
    statement (one row): what every change and the reminders it plans read next.
    Without `with_protocol`, the version's protocol (its name and medication, which a
    booking never reads) is left to load if asked for."""
    if on_postgresql() and _lock_schedule_of(course_id) is None:
        return None
    statement = _LOCKED_COURSE if with_protocol else _LOCKED_COURSE_TO_BOOK
    return db.session.scalar(statement, {"course_id": course_id})


def _locked_course_statement(*, with_protocol: bool) -> Any:
    version = joinedload(Course.protocol_version)
    return (
        select(Course)
        .where(Course.id == bindparam("course_id"))
        .options(
            version if with_protocol else version.lazyload(ProtocolVersion.protocol),
            joinedload(Course.patient).lazyload(Patient.care_team),
            joinedload(Course.clinic).lazyload(Clinic.opening_hours),
        )
        .with_for_update(of=Course)
        .execution_options(populate_existing=True)
    )


_LOCKED_COURSE = _locked_course_statement(with_protocol=True)
_LOCKED_COURSE_TO_BOOK = _locked_course_statement(with_protocol=False)


def clinics_of_courses(course_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    """The clinics these courses belong to (unknown ids left out)."""
    wanted = set(course_ids)
    if not wanted:
        return set()
    return set(db.session.scalars(select(Course.clinic_id).where(Course.id.in_(wanted))))


# The statements every booking runs are built once, with their parameters bound at
# execution: building and keying a statement cost as much as running it.
_CARE_TEAM = (
    select(CareTeamMember.staff_id)
    .where(CareTeamMember.patient_id == bindparam("patient_id"))
    .order_by(CareTeamMember.staff_id)
)
_SESSIONS = (
    select(
        Appointment.id, Appointment.kind, Appointment.starts_at, Appointment.ends_at,
        Appointment.status,
    )
    .where(Appointment.course_id == bindparam("course_id"))
    .order_by(Appointment.starts_at, Appointment.id)
)  # fmt: skip


def patient_care_team(patient_id: uuid.UUID) -> list[uuid.UUID]:
    """The staff ids of the patient's care team."""
    return [row[0] for row in read(_CARE_TEAM, {"patient_id": patient_id})]


def course_sessions(course_id: uuid.UUID) -> tuple[CourseSession, ...]:
    """Every appointment of the course, any status, as the rules see it, in time order
    (read as plain columns: what the rules need, nothing more)."""
    return tuple(
        CourseSession(
            row.id, SessionKind(row.kind), row.starts_at, row.ends_at, AppointmentStatus(row.status)
        )
        for row in read(_SESSIONS, {"course_id": course_id})
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
    """The clinic's time zone: from its row when the session holds it (a locked course
    brings its clinic), else the one column read (not the row and its opening hours)."""
    clinic = db.session.identity_map.get(db.session.identity_key(Clinic, clinic_id))
    if clinic is not None:
        return str(clinic.time_zone)
    rows = read(_ZONE, {"clinic_id": clinic_id})
    if not rows:
        raise ValueError(f"no clinic {clinic_id}")
    return str(rows[0].time_zone)


_ZONE = select(Clinic.time_zone).where(Clinic.id == bindparam("clinic_id"))


@dataclass(frozen=True)
class Member:
    id: uuid.UUID
    name: str
    clinic_id: uuid.UUID
    usable: bool  # the staff record and its login both active
    roles: frozenset[Role]


def member_columns() -> tuple[Any, ...]:
    """The columns of a Member, for a query joining staff_members to their login
    (users) and its roles (user_roles, outer: a login may have none): one row a role."""
    return (
        StaffMember.id,
        User.full_name,
        StaffMember.clinic_id,
        (StaffMember.active & User.active).label("usable"),
        UserRole.role,
    )


def staff_joined(stmt: Any) -> Any:
    """`stmt` over member_columns() with the joins they need."""
    return stmt.join(User, User.id == StaffMember.user_id).outerjoin(
        UserRole, UserRole.user_id == StaffMember.user_id
    )


def members_of(rows: Iterable[Any]) -> dict[uuid.UUID, Member]:
    """The Members in rows that begin with member_columns() (one row a role or more)."""
    roles: dict[uuid.UUID, set[Role]] = {}
    first: dict[uuid.UUID, Any] = {}
    for row in rows:
        first.setdefault(row.id, row)
        found = roles.setdefault(row.id, set())
        if row.role is not None:
            found.add(Role(row.role))
    return {
        staff_id: Member(staff_id, row.full_name, row.clinic_id, bool(row.usable),
                         frozenset(roles[staff_id]))
        for staff_id, row in first.items()
    }  # fmt: skip


def staff_members(staff_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Member]:
    """These staff members (unknown ids left out) with their logins' roles."""
    stmt = staff_joined(select(*member_columns())).where(StaffMember.id.in_(staff_ids))
    return members_of(db.session.execute(stmt))


def is_active_staff(staff_id: uuid.UUID, *, clinic_id: uuid.UUID) -> bool:
    member = staff_members([staff_id]).get(staff_id)
    return member is not None and member.usable and member.clinic_id == clinic_id


def team_roles(staff_ids: Sequence[uuid.UUID]) -> list[tuple[uuid.UUID, frozenset[Role]]]:
    """Each of these staff members with their login's roles, in the order given."""
    members = staff_members(staff_ids)
    return [(staff_id, members[staff_id].roles) for staff_id in staff_ids if staff_id in members]


# Take a clinic's schedule version row. A row not written yet is made (the clinic's
# first change, with a new token). An existing one is updated to itself: that locks it
# and leaves its token as it is, so a change refused after this is rolled back, and one
# that is not writes a new token. Written as SQL: SQLAlchemy does not cache the compiled
# form of an ON CONFLICT insert, and compiling it cost more than the statement. The
# sequence is booking/models.VERSION_TOKENS.
_TAKE_CLINIC = text(
    "INSERT INTO schedule_versions (clinic_id, version) "
    "VALUES (:clinic_id, nextval('schedule_version_tokens')) "
    "ON CONFLICT (clinic_id) DO UPDATE SET version = schedule_versions.version"
).bindparams(bindparam("clinic_id", type_=Uuid))
# The same for the clinic of one course, found in the same statement.
_TAKE_COURSE_CLINIC = (
    text(
        "INSERT INTO schedule_versions (clinic_id, version) "
        "SELECT clinic_id, nextval('schedule_version_tokens') FROM courses WHERE id = :course_id "
        "ON CONFLICT (clinic_id) DO UPDATE SET version = schedule_versions.version "
        "RETURNING clinic_id"
    )
    .bindparams(bindparam("course_id", type_=Uuid))
    .columns(clinic_id=Uuid)
)


def lock_schedules(clinic_ids: Iterable[uuid.UUID]) -> None:
    """Take the schedule version rows of these clinics, in clinic id order, until the
    transaction ends (PostgreSQL; SQLite's whole database is locked by db.begin_write).

    Every change to a clinic's schedule replaces its row (migration 0009's triggers), so
    the row is locked anyway from a change's first write to its end. Taken up front and
    in one order, two changes that touch the same clinics (a batch across two clinics,
    the same two booked the other way round) queue on the first row they share instead
    of each holding one row and waiting for the other's: that was a deadlock."""
    if not on_postgresql():
        return
    for clinic_id in sorted(set(clinic_ids)):
        db.session.execute(_TAKE_CLINIC, {"clinic_id": clinic_id})


def _lock_schedule_of(course_id: uuid.UUID) -> uuid.UUID | None:
    """lock_schedules for the clinic of one course; None when there is no such course."""
    taken = write(_TAKE_COURSE_CLINIC, {"course_id": course_id})
    return taken[0][0] if taken else None
