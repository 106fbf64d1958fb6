"""Day schedules: a clinic's day by room and by staff member, and one person's day, each
appointment with its readiness flags.

A day is a calendar day on the clinic's clocks (23 or 25 hours long on the days the
clocks change). An appointment belongs to the day when it overlaps it. The front desk
sees patients' names (never clinical notes); every patient shown is audited.

Answers are built as plain JSON-ready dicts (schemas.py documents them): a day is read
far more often than it changes, so a computed day is kept until its clinic's schedule
changes (cache.py). Every read is audited.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, or_, select

from kapt_api.auth import audit
from kapt_api.auth.models import CLINICAL_ROLES, Role, User, UserRole
from kapt_api.clinics.models import Clinic, Room, StaffMember
from kapt_api.clinics.rules import local_day_to_utc
from kapt_api.db import db
from kapt_api.errors import NotFound
from kapt_api.patients.models import Patient
from kapt_api.patients.policy import Caller
from kapt_api.protocols.rules import MAX_SESSION_MINUTES
from kapt_api.scheduling.booking.models import Appointment, AppointmentStaff, ScheduleVersion
from kapt_api.scheduling.courses import policy
from kapt_api.scheduling.courses.models import Course
from kapt_api.scheduling.days import cache, readiness
from kapt_api.scheduling.days.cache import ComputedDay
from kapt_api.scheduling.days.policy import can_see_clinic_day, can_see_staff_day

AUDITED_AS = "schedule"


# An appointment overlapping a day started at most this long before the day began.
LONGEST_SESSION = timedelta(minutes=MAX_SESSION_MINUTES)


Answer = dict[str, Any]


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


def _day(clinic_id: uuid.UUID, zone: str, day: date) -> Day:
    starts_at, ends_at = local_day_to_utc(day, zone)
    return Day(clinic_id, zone, day, starts_at, ends_at)


@dataclass(frozen=True)
class DayRows:
    """The day's appointment rows (with patient names and protocol versions) and the
    staff booked on each, in their order."""

    rows: list[Any]
    booked: dict[uuid.UUID, list[uuid.UUID]]


def _appointment_rows(day: Day, *, staff_id: uuid.UUID | None = None) -> DayRows:
    """The appointments overlapping the day at its clinic (of one staff member), with
    their patients' names, their courses' protocol versions and their staff, in one
    query: the clinic-and-start index bounds the read to the day."""
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
            Appointment.clinic_id == day.clinic_id,
            Appointment.starts_at >= day.starts_at - LONGEST_SESSION,
            Appointment.starts_at < day.ends_at,
            Appointment.ends_at > day.starts_at,
        )
        .order_by(Appointment.starts_at, Appointment.id, AppointmentStaff.position)
    )
    if staff_id is not None:
        booked = select(AppointmentStaff.appointment_id).where(
            AppointmentStaff.staff_id == staff_id
        )
        stmt = stmt.where(Appointment.id.in_(booked))
    rows: dict[uuid.UUID, Any] = {}
    staff: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    for row in db.session.execute(stmt):
        rows.setdefault(row.id, row)
        if row.staff_id is not None:
            staff[row.id].append(row.staff_id)
    return DayRows(list(rows.values()), staff)


def _people(clinic_id: uuid.UUID | None, also: set[uuid.UUID]) -> dict[uuid.UUID, Answer]:
    """These staff members (and, given a clinic, its active staff): name, roles, active."""
    rows = db.session.execute(
        select(StaffMember.id, User.full_name, StaffMember.active, UserRole.role)
        .join(User, User.id == StaffMember.user_id)
        .outerjoin(UserRole, UserRole.user_id == User.id)
        .where(
            or_(
                (StaffMember.clinic_id == clinic_id) & StaffMember.active,
                StaffMember.id.in_(also),
            )
            if clinic_id is not None
            else StaffMember.id.in_(also)
        )
    )
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


def _rooms(clinic_id: uuid.UUID | None, also: set[uuid.UUID]) -> dict[uuid.UUID, Answer]:
    """These rooms (and, given a clinic, its rooms in use)."""
    wanted: ColumnElement[bool] = Room.id.in_(also)
    if clinic_id is not None:
        wanted = or_((Room.clinic_id == clinic_id) & Room.active, wanted)
    rows = db.session.execute(select(Room.id, Room.name, Room.kind).where(wanted))
    return {i: {"id": str(i), "name": name, "kind": kind} for i, name, kind in rows}


def _item(
    row: Any,
    zone: ZoneInfo,
    room: Answer,
    staff: list[Answer],
    readiness: Answer,
) -> Answer:
    return {
        "id": str(row.id),
        "course_id": str(row.course_id),
        "patient_id": str(row.patient_id),
        "patient_name": f"{row.given_name} {row.family_name}",
        "kind": row.kind,
        "status": row.status,
        "starts_at": row.starts_at.isoformat(),
        "ends_at": row.ends_at.isoformat(),
        "local_starts_at": row.starts_at.astimezone(zone).isoformat(),
        "local_ends_at": row.ends_at.astimezone(zone).isoformat(),
        "room": room,
        "staff": staff,
        "readiness": readiness,
    }


@dataclass(frozen=True)
class Shown:
    """What a day's appointments refer to: their people, rooms, staff and readiness."""

    people: dict[uuid.UUID, Answer]
    rooms: dict[uuid.UUID, Answer]
    booked: dict[uuid.UUID, list[uuid.UUID]]
    readiness: dict[uuid.UUID, Answer]

    def items(self, rows: Sequence[Any], zone: ZoneInfo) -> list[Answer]:
        return [
            _item(
                row,
                zone,
                self.rooms[row.room_id],
                [
                    {"id": self.people[s]["id"], "name": self.people[s]["name"]}
                    for s in self.booked[row.id]
                ],
                self.readiness[row.id],
            )
            for row in rows
        ]


def _shown(clinic_id: uuid.UUID, zone: str, found: DayRows, *, everyone: bool) -> Shown:
    """Everything the rows refer to; with `everyone`, also the clinic's idle rooms and
    active staff (a clinic's whole day lists them all)."""
    staff_ids = {s for ids in found.booked.values() for s in ids}
    room_ids = {r.room_id for r in found.rows}
    return Shown(
        people=_people(clinic_id if everyone else None, staff_ids),
        rooms=_rooms(clinic_id if everyone else None, room_ids),
        booked=found.booked,
        readiness=readiness.of_appointments(found.rows, zone=zone),
    )


def _audited(day: ComputedDay, resource_id: uuid.UUID, by: Caller) -> ComputedDay:
    """One audited read per patient shown (their name is on the screen)."""
    audit.record_per_patient(
        "read", AUDITED_AS, resource_id, patient_ids=day.patient_ids, actor_id=by.user_id
    )
    return day


def _shown_patients(rows: Sequence[Any]) -> tuple[uuid.UUID, ...]:
    return tuple(dict.fromkeys(r.patient_id for r in rows))


def _by_name(entries: Iterable[Answer]) -> list[Answer]:
    return sorted(entries, key=lambda e: (e["name"].casefold(), e["id"]))


def clinic_day(*, clinic_id: uuid.UUID, day: date, by: Caller) -> ComputedDay:
    """A clinic's day by room and by staff member, each appointment with its readiness."""
    found = db.session.execute(
        select(Clinic.time_zone, ScheduleVersion.version)
        .outerjoin(ScheduleVersion, ScheduleVersion.clinic_id == Clinic.id)
        .where(Clinic.id == clinic_id)
    ).first()
    if found is None or not by.works_in(clinic_id):
        raise NotFound("No clinic with this id.")
    policy.ensure(
        can_see_clinic_day(by, clinic_id),
        "Only front desk and administrators see the whole clinic's day; "
        "clinicians see their own (GET /staff/{id}/schedule).",
    )
    zone, version = found
    computed = cache.computed(
        ("clinic", clinic_id, day), version or 0, lambda: _clinic_day(clinic_id, zone, day)
    )
    return _audited(computed, clinic_id, by)


def _clinic_day(clinic_id: uuid.UUID, zone: str, day: date) -> ComputedDay:
    the_day = _day(clinic_id, zone, day)
    found = _appointment_rows(the_day)
    shown = _shown(clinic_id, the_day.zone, found, everyone=True)
    items = shown.items(found.rows, ZoneInfo(the_day.zone))
    by_room: dict[str, list[Answer]] = defaultdict(list)
    by_staff: dict[str, list[Answer]] = defaultdict(list)
    for item in items:
        by_room[item["room"]["id"]].append(item)
        for member in item["staff"]:
            by_staff[member["id"]].append(item)
    listed = [
        person
        for person in shown.people.values()
        if person["id"] in by_staff or CLINICAL_ROLES & {Role(r) for r in person["roles"]}
    ]
    answer = {
        **the_day.header(),
        "by_room": [
            {"room": room, "appointments": by_room.get(room["id"], [])}
            for room in _by_name(shown.rooms.values())
        ],
        "by_staff": [
            {"staff": person, "appointments": by_staff.get(person["id"], [])}
            for person in _by_name(listed)
        ],
    }
    return ComputedDay(answer, _shown_patients(found.rows))


def find_staff_for_day(*, staff_id: uuid.UUID, by: Caller) -> StaffMember:
    """The staff member whose day `by` asks for: 404 outside their clinics, 403 for
    someone else's day unless they run the front desk or administer."""
    staff = db.session.get(StaffMember, staff_id)
    if staff is None or not (by.works_in(staff.clinic_id) or by.staff_id == staff_id):
        raise NotFound("No staff member with this id.")
    policy.ensure(
        can_see_staff_day(by, staff),
        "Only the staff member themselves, front desk and administrators see this day.",
    )
    return staff


def staff_day(*, staff: StaffMember, day: date, by: Caller) -> ComputedDay:
    """One staff member's day at their clinic, each appointment with its readiness."""
    version = cache.version_of(staff.clinic_id)
    computed = cache.computed(("staff", staff.id, day), version, lambda: _staff_day(staff, day))
    return _audited(computed, staff.id, by)


def _staff_day(staff: StaffMember, day: date) -> ComputedDay:
    the_day = _day(staff.clinic_id, staff.clinic.time_zone, day)
    found = _appointment_rows(the_day, staff_id=staff.id)
    shown = _shown(staff.clinic_id, the_day.zone, found, everyone=False)
    person = shown.people.get(staff.id) or _people(None, {staff.id})[staff.id]
    answer = {
        **the_day.header(),
        "staff": person,
        "appointments": shown.items(found.rows, ZoneInfo(the_day.zone)),
    }
    return ComputedDay(answer, _shown_patients(found.rows))
