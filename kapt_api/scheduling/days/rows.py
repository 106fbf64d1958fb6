"""The rows a day schedule is built from: the day's bounds on the clinic's clocks, the
appointments that overlap it with their staff, and the people and rooms they name.
One query each, whatever the number of appointments."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    CTE,
    CompoundSelect,
    Select,
    bindparam,
    literal,
    literal_column,
    null,
    or_,
    select,
    union_all,
)

from kapt_api.auth.models import User, UserRole
from kapt_api.clinics.models import Room, StaffMember
from kapt_api.clinics.rules import local_day_to_utc
from kapt_api.patients.models import Patient
from kapt_api.protocols.definition import SessionKind
from kapt_api.protocols.rules import MAX_SESSION_MINUTES
from kapt_api.rows import read
from kapt_api.scheduling.booking.models import Appointment, AppointmentStaff
from kapt_api.scheduling.courses.models import Course
from kapt_api.scheduling.waitlist.models import WaitlistOffer

Answer = dict[str, Any]
# An appointment overlapping a day started at most this long before the day began.
LONGEST_SESSION = timedelta(minutes=MAX_SESSION_MINUTES)


@dataclass(frozen=True)
class Day:
    clinic_id: uuid.UUID
    zone: str
    day: date
    starts_at: datetime
    ends_at: datetime

    def header(self) -> Answer:
        return {
            "clinic_id": str(self.clinic_id),
            "date": self.day.isoformat(),
            "time_zone": self.zone,
            "starts_at": self.starts_at.isoformat(),
            "ends_at": self.ends_at.isoformat(),
            "hours": (self.ends_at - self.starts_at) / timedelta(hours=1),
        }


def day_of(clinic_id: uuid.UUID, zone: str, day: date) -> Day:
    starts_at, ends_at = local_day_to_utc(day, zone)
    return Day(clinic_id, zone, day, starts_at, ends_at)


@dataclass(frozen=True)
class DayRows:
    """The day's appointment rows (with patient names) and the staff booked on each, in
    their order; and every session of the courses with a dose that day (a dose's
    readiness is judged on its whole course) with those courses' protocol versions."""

    rows: list[Any]
    booked: dict[uuid.UUID, list[uuid.UUID]]
    course_sessions: dict[uuid.UUID, list[Any]]
    versions: dict[uuid.UUID, uuid.UUID]


_DAY, _COURSE = "day", "course"


# What the rules read of any session (CourseSession), first in both parts of a day's rows.
_SESSION = (
    Appointment.id,
    Appointment.course_id,
    Appointment.kind,
    Appointment.status,
    Appointment.starts_at,
    Appointment.ends_at,
)


def _overlapping(*, of_staff: bool) -> CTE:
    """The appointments overlapping a day at a clinic (of one staff member): the
    clinic-and-start index bounds the read."""
    overlapping = select(
        *_SESSION,
        Appointment.patient_id,
        Appointment.room_id,
        Appointment.escort_confirmed_at,
        Appointment.confirmed_at,
    ).where(
        Appointment.clinic_id == bindparam("clinic_id"),
        Appointment.starts_at >= bindparam("earliest"),
        Appointment.starts_at < bindparam("ends_at"),
        Appointment.ends_at > bindparam("starts_at"),
    )
    if of_staff:
        booked = select(AppointmentStaff.appointment_id).where(
            AppointmentStaff.staff_id == bindparam("staff_id")
        )
        overlapping = overlapping.where(Appointment.id.in_(booked))
    return overlapping.cte("day_appointments")


def _day_and_courses(*, of_staff: bool) -> CompoundSelect:
    """A day's appointments with their patients' names, booking offer (unique) and staff;
    then every session of the courses with a dose among them, with the course's protocol
    version: one round trip for both. Built once per shape (module constants). `part`
    tells the two apart; a column one part does not have is null in it."""
    day = _overlapping(of_staff=of_staff)
    the_day = (
        select(
            literal(_DAY).label("part"),
            *(column.label(column.key) for column in day.c),  # SQLite orders by names
            WaitlistOffer.id.label("offer_id"),
            Patient.given_name,
            Patient.family_name,
            AppointmentStaff.staff_id.label("staff_id"),
            AppointmentStaff.position.label("position"),
            null().cast(Course.protocol_version_id.type).label("protocol_version_id"),
        )
        .join(Patient, Patient.id == day.c.patient_id)
        .outerjoin(WaitlistOffer, WaitlistOffer.appointment_id == day.c.id)
        .outerjoin(AppointmentStaff, AppointmentStaff.appointment_id == day.c.id)
    )
    dosed = select(day.c.course_id).where(day.c.kind == SessionKind.DOSING.value)
    courses = (
        select(
            literal(_COURSE),
            *_SESSION,
            *(null() for _ in range(9)),
            Course.protocol_version_id,
        )
        .join(Appointment, Appointment.course_id == Course.id)
        .where(Course.id.in_(dosed))
    )
    return union_all(the_day, courses).order_by(
        literal_column("part").desc(), "starts_at", "id", "position"
    )


_CLINIC_DAY = _day_and_courses(of_staff=False)
_STAFF_DAY = _day_and_courses(of_staff=True)


def appointment_rows(day: Day, *, staff_id: uuid.UUID | None = None) -> DayRows:
    """The appointments overlapping the day at its clinic (of one staff member), with
    their patients' names and their staff, and the sessions of their doses' courses, in
    one query, whatever their number."""
    parameters = {
        "clinic_id": day.clinic_id,
        "earliest": day.starts_at - LONGEST_SESSION,
        "starts_at": day.starts_at,
        "ends_at": day.ends_at,
    }
    stmt = _CLINIC_DAY
    if staff_id is not None:
        stmt, parameters["staff_id"] = _STAFF_DAY, staff_id
    rows: dict[uuid.UUID, Any] = {}
    staff: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    sessions: dict[uuid.UUID, list[Any]] = defaultdict(list)
    versions: dict[uuid.UUID, uuid.UUID] = {}
    for row in read(stmt, parameters):
        if row.part == _COURSE:
            sessions[row.course_id].append(row)
            versions[row.course_id] = row.protocol_version_id
            continue
        rows.setdefault(row.id, row)
        if row.staff_id is not None:
            staff[row.id].append(row.staff_id)
    return DayRows(list(rows.values()), staff, sessions, versions)


def _people(*, of_clinic: bool) -> Select[Any]:
    also = StaffMember.id.in_(bindparam("staff_ids", expanding=True))
    wanted = (
        or_((StaffMember.clinic_id == bindparam("clinic_id")) & StaffMember.active, also)
        if of_clinic
        else also
    )
    return (
        select(
            literal(_PERSON).label("what"),
            StaffMember.id,
            User.full_name.label("name"),
            StaffMember.active,
            UserRole.role.label("detail"),
        )
        .join(User, User.id == StaffMember.user_id)
        .outerjoin(UserRole, UserRole.user_id == User.id)
        .where(wanted)
    )


def _rooms(*, of_clinic: bool) -> Select[Any]:
    also = Room.id.in_(bindparam("room_ids", expanding=True))
    wanted = (
        or_((Room.clinic_id == bindparam("clinic_id")) & Room.active, also) if of_clinic else also
    )
    return select(literal(_ROOM), Room.id, Room.name, Room.active, Room.kind).where(wanted)


_PERSON, _ROOM = "person", "room"
# Built once (a clinic's whole day, or only what a person's day names): read on every
# computed day, in one round trip, only the parameters change.
_PEOPLE_AND_ROOMS = {
    of_clinic: union_all(_people(of_clinic=of_clinic), _rooms(of_clinic=of_clinic))
    for of_clinic in (True, False)
}


@dataclass(frozen=True)
class Named:
    """The staff members (name, roles, active) and rooms (name, kind) a day names."""

    people: dict[uuid.UUID, Answer]
    rooms: dict[uuid.UUID, Answer]


def people_and_rooms(
    clinic_id: uuid.UUID | None, staff_ids: set[uuid.UUID], room_ids: set[uuid.UUID]
) -> Named:
    """These staff members and rooms (and, given a clinic, its active staff and rooms),
    in one query."""
    parameters = {"clinic_id": clinic_id, "staff_ids": list(staff_ids), "room_ids": list(room_ids)}
    people: dict[uuid.UUID, Answer] = {}
    rooms: dict[uuid.UUID, Answer] = {}
    for what, id_, name, active, detail in read(
        _PEOPLE_AND_ROOMS[clinic_id is not None], parameters
    ):
        if what == _ROOM:
            rooms[id_] = {"id": str(id_), "name": name, "kind": detail}
            continue
        person = people.setdefault(
            id_, {"id": str(id_), "name": name, "roles": [], "active": active}
        )
        if detail is not None:
            person["roles"].append(detail)
    for person in people.values():
        person["roles"].sort()
    return Named(people, rooms)


def people(clinic_id: uuid.UUID | None, also: set[uuid.UUID]) -> dict[uuid.UUID, Answer]:
    """These staff members (and, given a clinic, its active staff): name, roles, active."""
    return people_and_rooms(clinic_id, also, set()).people
