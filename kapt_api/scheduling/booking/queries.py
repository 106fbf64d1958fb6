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

from sqlalchemy import Select, select

from kapt_api.auth import audit
from kapt_api.auth.models import CLINICAL_ROLES
from kapt_api.clinics import service as clinics
from kapt_api.clinics.models import Clinic, Room, RoomKind, TimeOff, WorkingHours
from kapt_api.clinics.rules import UtcRange, WeeklyInterval
from kapt_api.db import db
from kapt_api.errors import InvalidInput, NotFound
from kapt_api.openapi import QueryPage
from kapt_api.patients.models import CareTeamMember
from kapt_api.patients.policy import Caller
from kapt_api.protocols.rules import MAX_BUFFER_MINUTES, MAX_SESSION_MINUTES
from kapt_api.scheduling.booking.models import (
    Appointment,
    AppointmentStaff,
    ResourceHold,
)
from kapt_api.scheduling.booking.values import (
    Calendar,
    Hold,
    RoomFacts,
    StaffFacts,
)
from kapt_api.scheduling.courses import policy, queries
from kapt_api.scheduling.courses.queries import staff_members, staff_roles

# A hold lasts a session and its buffer: never longer than a protocol may define.
RESOURCE = "appointment"
LONGEST_HOLD = timedelta(minutes=MAX_SESSION_MINUTES + MAX_BUFFER_MINUTES)


def room_facts(room_id: uuid.UUID, *, clinic_id: uuid.UUID) -> RoomFacts:
    room = db.session.get(Room, room_id)
    if room is None or room.clinic_id != clinic_id:
        raise InvalidInput({"room_id": ["No room with this id at the patient's clinic."]})
    if not room.active:
        raise InvalidInput({"room_id": [f"Room {room.name} is not in use."]})
    return RoomFacts(room.id, room.name, RoomKind(room.kind))


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


def staff_facts(
    staff_ids: Sequence[uuid.UUID], *, clinic_id: uuid.UUID, around: UtcRange
) -> tuple[StaffFacts, ...]:
    """The booked people with their roles, weekly hours and the time off touching
    `around`; refused unless each is named once and works, active, at the clinic."""
    if len(set(staff_ids)) != len(staff_ids):
        raise InvalidInput({"staff_ids": ["Name each staff member once."]})
    members = staff_members(staff_ids)
    problems = [
        f"{staff_id} is not an active staff member of the patient's clinic."
        for staff_id in staff_ids
        if staff_id not in members
        or members[staff_id].clinic_id != clinic_id
        or not members[staff_id].usable
    ]
    if problems:
        raise InvalidInput({"staff_ids": problems})
    roles, hours, away = (
        staff_roles(staff_ids),
        _weekly_hours(staff_ids),
        _time_off(staff_ids, around),
    )
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


def holds(keys: Sequence[str], around: UtcRange) -> tuple[Hold, ...]:
    """The holds of these resources that overlap `around`. No hold is longer than the
    longest session and buffer a protocol may define, so its start is bounded on both
    sides: the (resource_key, starts_at) index reads the window, not the history."""
    # Columns, not ORM objects: a slot search reads thousands of holds.
    rows = db.session.execute(
        select(
            ResourceHold.resource_key,
            ResourceHold.starts_at,
            ResourceHold.ends_at,
            ResourceHold.appointment_id,
        ).where(
            ResourceHold.resource_key.in_(keys),
            ResourceHold.starts_at < around[1],
            ResourceHold.starts_at > around[0] - LONGEST_HOLD,
            ResourceHold.ends_at > around[0],
        )
    )
    return tuple(Hold(*row) for row in rows)


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
