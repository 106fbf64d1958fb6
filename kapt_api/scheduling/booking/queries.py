"""What the booking rules need, read from the database into values.py values (the room,
the staff with their hours and time off, the holds around a time), and appointments
found and listed for a caller.

A reference sent in a body (a room, a staff member) that is not of the course's
clinic, or not in use, is refused as invalid input naming the field.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, bindparam, func, select

from kapt_api.auth import audit
from kapt_api.auth.models import CLINICAL_ROLES, User
from kapt_api.clinics.models import (
    OpeningHours,
    Room,
    RoomKind,
    StaffMember,
    TimeOff,
    WorkingHours,
)
from kapt_api.clinics.rules import UtcRange, WeeklyInterval
from kapt_api.db import db
from kapt_api.errors import InvalidInput, NotFound
from kapt_api.openapi import QueryPage
from kapt_api.patients.models import CareTeamMember
from kapt_api.patients.policy import Caller
from kapt_api.protocols.rules import MAX_BUFFER_MINUTES, MAX_SESSION_MINUTES
from kapt_api.rows import read
from kapt_api.scheduling.booking.models import (
    Appointment,
    AppointmentStaff,
    ResourceHold,
)
from kapt_api.scheduling.booking.values import (
    Calendar,
    HeldRow,
    Hold,
    Place,
    RoomFacts,
    StaffFacts,
)
from kapt_api.scheduling.courses import policy, queries
from kapt_api.scheduling.courses.queries import Member, member_columns, members_of, staff_joined

# A hold lasts a session and its buffer: never longer than a protocol may define.
RESOURCE = "appointment"
LONGEST_HOLD = timedelta(minutes=MAX_SESSION_MINUTES + MAX_BUFFER_MINUTES)


def place(room_id: uuid.UUID, *, clinic_id: uuid.UUID, zone: str) -> Place:
    """The room, refused unless it is in use at the patient's clinic (whose time zone
    is `zone`), and when that clinic is open (one statement: a row per interval)."""
    rows = read(_PLACE, {"room_id": room_id})
    room = rows[0] if rows else None
    if room is None or room.clinic_id != clinic_id:
        raise InvalidInput({"room_id": ["No room with this id at the patient's clinic."]})
    if not room.active:
        raise InvalidInput({"room_id": [f"Room {room.name} is not in use."]})
    return Place(
        RoomFacts(room.id, room.name, RoomKind(room.kind)),
        zone,
        tuple(WeeklyInterval(r.weekday, r.opens, r.closes) for r in rows if r.weekday is not None),
    )


_PLACE = (
    select(
        Room.id, Room.clinic_id, Room.name, Room.kind, Room.active,
        OpeningHours.weekday, OpeningHours.opens, OpeningHours.closes,
    )
    .outerjoin(OpeningHours, OpeningHours.clinic_id == Room.clinic_id)
    .where(Room.id == bindparam("room_id"))
    .order_by(OpeningHours.weekday, OpeningHours.opens)
)  # fmt: skip


# Built once (each booking and slot search runs them), their parameters bound at
# execution: each person's rows are the product of their roles, weekly intervals and
# time off in the window.
_STAFF_CALENDARS = (
    staff_joined(
        select(
            *member_columns(),
            WorkingHours.weekday,
            WorkingHours.starts,
            WorkingHours.ends,
            TimeOff.starts_at,
            TimeOff.ends_at,
        )
    )
    .outerjoin(WorkingHours, WorkingHours.staff_id == StaffMember.id)
    .outerjoin(
        TimeOff,
        (TimeOff.staff_id == StaffMember.id)
        & (TimeOff.starts_at < bindparam("end"))
        & (TimeOff.ends_at > bindparam("start")),
    )
)
_STAFF = _STAFF_CALENDARS.where(StaffMember.id.in_(bindparam("staff_ids", expanding=True)))
# A slot search's: the clinic's active staff whose login is active too, by id.
_CLINIC_STAFF = _STAFF_CALENDARS.where(
    StaffMember.clinic_id == bindparam("clinic_id"),
    StaffMember.active.is_(True),
    User.active.is_(True),
).order_by(StaffMember.id)


def staff_facts(
    staff_ids: Sequence[uuid.UUID], *, clinic_id: uuid.UUID, around: UtcRange
) -> tuple[StaffFacts, ...]:
    """The booked people with their roles, weekly hours and the time off touching
    `around`; refused unless each is named once and works, active, at the clinic.

    One statement (_STAFF), its rows folded back into sets here."""
    if len(set(staff_ids)) != len(staff_ids):
        raise InvalidInput({"staff_ids": ["Name each staff member once."]})
    window = {"staff_ids": list(staff_ids), "start": around[0], "end": around[1]}
    rows = read(_STAFF, window)
    members = members_of(rows)
    problems = [
        f"{staff_id} is not an active staff member of the patient's clinic."
        for staff_id in staff_ids
        if staff_id not in members
        or members[staff_id].clinic_id != clinic_id
        or not members[staff_id].usable
    ]
    if problems:
        raise InvalidInput({"staff_ids": problems})
    return _staff_facts(rows, members, staff_ids)


def clinic_staff(clinic_id: uuid.UUID, *, around: UtcRange) -> tuple[StaffFacts, ...]:
    """The clinic's active staff (their logins active too), by id, with their roles,
    weekly hours and the time off touching `around`: what staff_facts says of them, in
    one statement."""
    rows = read(_CLINIC_STAFF, {"clinic_id": clinic_id, "start": around[0], "end": around[1]})
    members = members_of(rows)
    return _staff_facts(rows, members, list(members))


def _staff_facts(
    rows: Sequence[Any], members: dict[uuid.UUID, Member], staff_ids: Sequence[uuid.UUID]
) -> tuple[StaffFacts, ...]:
    """The StaffFacts of these people, in this order, from their _STAFF_CALENDARS rows."""
    hours: dict[uuid.UUID, set[WeeklyInterval]] = {staff_id: set() for staff_id in staff_ids}
    away: dict[uuid.UUID, set[UtcRange]] = {staff_id: set() for staff_id in staff_ids}
    for row in rows:
        if row.weekday is not None:
            hours[row.id].add(WeeklyInterval(row.weekday, row.starts, row.ends))
        if row.starts_at is not None:
            away[row.id].add((row.starts_at, row.ends_at))
    return tuple(
        StaffFacts(
            id=staff_id,
            name=members[staff_id].name,
            roles=members[staff_id].roles,
            working_hours=tuple(sorted(hours[staff_id])),
            time_off=tuple(sorted(away[staff_id])),
        )
        for staff_id in staff_ids
    )


def holds(keys: Sequence[str], around: UtcRange) -> tuple[Hold, ...]:
    """The holds of these resources that overlap `around`."""
    return tuple(map(Hold._make, hold_rows(keys, around)))


def hold_rows(keys: Sequence[str], around: UtcRange) -> Sequence[HeldRow]:
    """holds() as the rows the driver reads, no Hold made (a slot search reads thousands).
    No hold is longer than the longest session and buffer a protocol may define, so its
    start is bounded on both sides: the (resource_key, starts_at) index reads the window,
    not the history."""
    window = {"keys": list(keys), "start": around[0], "end": around[1],
              "earliest": around[0] - LONGEST_HOLD}  # fmt: skip
    return read(_HOLDS, window, make=tuple)


# Built once (each booking and slot search runs it), its parameters bound at execution.
# A slot search reads thousands of holds: so the table's columns (Core: rows as the
# cursor gives them, none of the ORM's handling per row; on PostgreSQL the times as
# psycopg gives them, see UTCDateTime), and all rows fetched at once.
_HELD = ResourceHold.__table__.c
_HOLDS = select(
    _HELD.resource_key,
    _HELD.starts_at,
    _HELD.ends_at,
    func.coalesce(_HELD.appointment_id, _HELD.offer_id),
    _HELD.offer_id.is_not(None),
).where(
    _HELD.resource_key.in_(bindparam("keys", expanding=True)),
    _HELD.starts_at < bindparam("end"),
    _HELD.starts_at > bindparam("earliest"),
    _HELD.ends_at > bindparam("start"),
)


def calendar(
    *, place: Place, staff: tuple[StaffFacts, ...], keys: Sequence[str], around: UtcRange
) -> Calendar:
    return Calendar(
        zone=place.zone,
        opening_hours=place.opening_hours,
        room=place.room,
        staff=staff,
        holds=holds(keys, around),
    )


def find_appointment(
    *, appointment_id: uuid.UUID, by: Caller, action: str = "read", for_change: bool = False
) -> Appointment:
    """The appointment if `by` works at its clinic (else 404), the look audited. With
    `for_change`, its clinic's schedule and its course's row are locked first
    (courses/queries.locked_course) and the appointment read fresh."""
    appointment = db.session.get(Appointment, appointment_id)
    if appointment is not None and for_change:
        queries.locked_course(appointment.course_id)
        appointment = db.session.get(Appointment, appointment_id, populate_existing=True)
    audit.record(
        action,
        RESOURCE,
        appointment_id,
        patient_id=appointment.patient_id if appointment else None,
        actor_id=by.user_id,
    )
    if appointment is None or not policy.can_see(by, appointment.clinic_id):
        raise NotFound("No appointment with this id.")
    return appointment


def appointments(
    *,
    by: Caller,
    patient_id: uuid.UUID | None = None,
    staff_id: uuid.UUID | None = None,
    course_id: uuid.UUID | None = None,
    clinic_id: uuid.UUID | None = None,
    starts_from: datetime | None = None,
    until: datetime | None = None,
    status: str | None = None,
) -> Select[tuple[Appointment]]:
    """The appointments `by` may see matching the filters (a time range keeps those that
    overlap it), by start time."""
    stmt = select(Appointment)
    if by.clinics is not None:
        stmt = stmt.where(Appointment.clinic_id.in_(by.clinics))
    equal = {
        Appointment.patient_id: patient_id,
        Appointment.course_id: course_id,
        Appointment.clinic_id: clinic_id,
        Appointment.status: status,
    }
    for column, value in equal.items():
        if value is not None:
            stmt = stmt.where(column == value)
    if staff_id is not None:
        booked = select(AppointmentStaff.appointment_id).where(
            AppointmentStaff.staff_id == staff_id
        )
        stmt = stmt.where(Appointment.id.in_(booked))
    if starts_from is not None:
        stmt = stmt.where(Appointment.ends_at > starts_from)
    if until is not None:
        stmt = stmt.where(Appointment.starts_at < until)
    return stmt.order_by(Appointment.starts_at, Appointment.id)


def list_appointments(*, by: Caller, page: Any, **filters: Any) -> list[Appointment]:
    """One page of appointments (`page`: flask-smorest pagination parameters), each one
    listed audited."""
    found = QueryPage(appointments(by=by, **filters), page).items
    for appointment in found:
        audit.record(
            "list", RESOURCE, appointment.id, patient_id=appointment.patient_id, actor_id=by.user_id
        )
    return found


def clinical_patients(by: Caller, patient_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    """Those of these patients whose clinical detail `by` may see (care team clinicians)."""
    if by.staff_id is None or not patient_ids or not by.roles & CLINICAL_ROLES:
        return set()
    rows = db.session.scalars(
        select(CareTeamMember.patient_id).where(
            CareTeamMember.staff_id == by.staff_id, CareTeamMember.patient_id.in_(patient_ids)
        )
    )
    return set(rows)
