"""The rows a day schedule is built from: the day's bounds on the clinic's clocks, the
appointments that overlap it with their staff, and the people and rooms they name.
One query each, whatever the number of appointments."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Select, bindparam, or_, select

from kapt_api.auth.models import User, UserRole
from kapt_api.clinics.models import Room, StaffMember
from kapt_api.clinics.rules import local_day_to_utc
from kapt_api.patients.models import Patient
from kapt_api.protocols.rules import MAX_SESSION_MINUTES
from kapt_api.rows import read
from kapt_api.scheduling.booking.models import Appointment, AppointmentStaff
from kapt_api.scheduling.courses.models import Course

# An appointment overlapping a day started at most this long before the day began.
Answer = dict[str, Any]
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
    """The day's appointment rows (with patient names and protocol versions) and the
    staff booked on each, in their order."""

    rows: list[Any]
    booked: dict[uuid.UUID, list[uuid.UUID]]


def _appointments_of_the_day(*, of_staff: bool) -> Select[Any]:
    """The appointments overlapping a day at a clinic (of one staff member), with their
    patients' names, their courses' protocol versions and their staff: the
    clinic-and-start index bounds the read to the day. Built once per shape (module
    constants below): only the parameters change from day to day."""
    stmt = (
        select(
            Appointment.id,
            Appointment.course_id,
            Appointment.patient_id,
            Appointment.kind,
            Appointment.status,
            Appointment.starts_at,
            Appointment.ends_at,
            Appointment.room_id,
            Patient.given_name,
            Patient.family_name,
            Course.protocol_version_id,
            AppointmentStaff.staff_id,
        )
        .join(Patient, Patient.id == Appointment.patient_id)
        .join(Course, Course.id == Appointment.course_id)
        .outerjoin(AppointmentStaff, AppointmentStaff.appointment_id == Appointment.id)
        .where(
            Appointment.clinic_id == bindparam("clinic_id"),
            Appointment.starts_at >= bindparam("earliest"),
            Appointment.starts_at < bindparam("ends_at"),
            Appointment.ends_at > bindparam("starts_at"),
        )
        .order_by(Appointment.starts_at, Appointment.id, AppointmentStaff.position)
    )
    if of_staff:
        booked = select(AppointmentStaff.appointment_id).where(
            AppointmentStaff.staff_id == bindparam("staff_id")
        )
        stmt = stmt.where(Appointment.id.in_(booked))
    return stmt


_CLINIC_DAY = _appointments_of_the_day(of_staff=False)
_STAFF_DAY = _appointments_of_the_day(of_staff=True)


def appointment_rows(day: Day, *, staff_id: uuid.UUID | None = None) -> DayRows:
    """The appointments overlapping the day at its clinic (of one staff member), with
    their patients' names, their courses' protocol versions and their staff, in one
    query, whatever their number."""
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
    for row in read(stmt, parameters):
        rows.setdefault(row.id, row)
        if row.staff_id is not None:
            staff[row.id].append(row.staff_id)
    return DayRows(list(rows.values()), staff)


def _people(*, of_clinic: bool) -> Select[Any]:
    also = StaffMember.id.in_(bindparam("also", expanding=True))
    wanted = (
        or_((StaffMember.clinic_id == bindparam("clinic_id")) & StaffMember.active, also)
        if of_clinic
        else also
    )
    return (
        select(StaffMember.id, User.full_name, StaffMember.active, UserRole.role)
        .join(User, User.id == StaffMember.user_id)
        .outerjoin(UserRole, UserRole.user_id == User.id)
        .where(wanted)
    )


def _rooms(*, of_clinic: bool) -> Select[Any]:
    also = Room.id.in_(bindparam("also", expanding=True))
    wanted = (
        or_((Room.clinic_id == bindparam("clinic_id")) & Room.active, also) if of_clinic else also
    )
    return select(Room.id, Room.name, Room.kind).where(wanted)


# Built once (a clinic's whole day, or only what a person's day names): read on every
# computed day, only the parameters change.
_PEOPLE = {True: _people(of_clinic=True), False: _people(of_clinic=False)}
_ROOMS = {True: _rooms(of_clinic=True), False: _rooms(of_clinic=False)}


def people(clinic_id: uuid.UUID | None, also: set[uuid.UUID]) -> dict[uuid.UUID, Answer]:
    """These staff members (and, given a clinic, its active staff): name, roles, active."""
    rows = read(_PEOPLE[clinic_id is not None], {"clinic_id": clinic_id, "also": list(also)})
    people: dict[uuid.UUID, Answer] = {}
    for staff_id, name, active, role in rows:
        person = people.setdefault(
            staff_id, {"id": str(staff_id), "name": name, "roles": [], "active": active}
        )
        if role is not None:
            person["roles"].append(role)
    for person in people.values():
        person["roles"].sort()
    return people


def rooms(clinic_id: uuid.UUID | None, also: set[uuid.UUID]) -> dict[uuid.UUID, Answer]:
    """These rooms (and, given a clinic, its rooms in use)."""
    rows = read(_ROOMS[clinic_id is not None], {"clinic_id": clinic_id, "also": list(also)})
    return {i: {"id": str(i), "name": name, "kind": kind} for i, name, kind in rows}
