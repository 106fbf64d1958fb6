"""Chair utilisation of a clinic over a range of its calendar days: reads the held
dosing time (appointments, freed slots, backfilled appointments) and lets rules.py do
the arithmetic. Every read is audited; it names no patient."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select

from kapt_api.auth import audit
from kapt_api.clinics.models import Clinic, Room
from kapt_api.clinics.rules import local_day_to_utc
from kapt_api.db import db
from kapt_api.errors import Forbidden, InvalidInput, NotFound
from kapt_api.patients.policy import Caller
from kapt_api.protocols.definition import SessionKind
from kapt_api.rows import read
from kapt_api.scheduling.booking.models import Appointment
from kapt_api.scheduling.courses.values import AppointmentStatus
from kapt_api.scheduling.utilisation import policy, rules
from kapt_api.scheduling.utilisation.rules import Held
from kapt_api.scheduling.waitlist.models import FreedSlot, WaitlistOffer

AUDITED_AS = "utilisation"
DOSING = SessionKind.DOSING.value
# The statuses of a session that holds its chair: not cancelled, not a no-show.
HOLDING = [
    s.value
    for s in (
        AppointmentStatus.BOOKED,
        AppointmentStatus.CHECKED_IN,
        AppointmentStatus.IN_PROGRESS,
        AppointmentStatus.COMPLETED,
    )
]
# No session with its buffer is held longer than a day: bounds the read by the
# clinic-and-start index.
LONGEST_HOLD = timedelta(days=1)

_BOOKED = (
    select(
        Appointment.room_id,
        Appointment.starts_at,
        Appointment.held_until,
        WaitlistOffer.id.label("offer_id"),
    )
    .join(Room, Room.id == Appointment.room_id)
    .outerjoin(WaitlistOffer, WaitlistOffer.appointment_id == Appointment.id)
    .where(
        Appointment.clinic_id == bindparam("clinic_id"),
        Appointment.kind == DOSING,
        Appointment.status.in_(HOLDING),
        Room.kind == DOSING,
        Appointment.starts_at >= bindparam("earliest"),
        Appointment.starts_at < bindparam("until"),
        Appointment.held_until > bindparam("since"),
    )
)
# Freed time is counted in the room of the session that freed it, as it is now (a
# move that also changed the room counts the old time in the new room: FreedSlot does
# not keep the room).
_FREED = (
    select(Appointment.room_id, FreedSlot.starts_at, FreedSlot.ends_at)
    .join(Appointment, Appointment.id == FreedSlot.appointment_id)
    .join(Room, Room.id == Appointment.room_id)
    .where(
        FreedSlot.clinic_id == bindparam("clinic_id"),
        FreedSlot.kind == DOSING,
        Room.kind == DOSING,
        FreedSlot.starts_at < bindparam("until"),
        FreedSlot.ends_at > bindparam("since"),
    )
)


def _clinic(clinic_id: uuid.UUID, by: Caller) -> Clinic:
    clinic = db.session.get(Clinic, clinic_id)
    if clinic is None or not by.works_in(clinic_id):
        raise NotFound("No clinic with this id.")
    if not policy.can_see(by, clinic_id):
        raise Forbidden("Only front desk and administrators see the clinic's utilisation.")
    return clinic


def _bounds(first: date, last: date, zone: str) -> tuple[datetime, datetime]:
    wrong = rules.range_violations(first, last)
    if wrong:
        raise InvalidInput(wrong)
    return local_day_to_utc(first, zone)[0], local_day_to_utc(last, zone)[1]


def utilisation(*, clinic_id: uuid.UUID, first: date, last: date, by: Caller) -> dict[str, Any]:
    """Dosing chair hours booked, freed and backfilled from `first` to `last` (both
    included, the clinic's calendar days), in all and per dosing room."""
    clinic = _clinic(clinic_id, by)
    since, until = _bounds(first, last, clinic.time_zone)
    audit.record("read", AUDITED_AS, clinic_id, actor_id=by.user_id)
    found = {"clinic_id": clinic_id, "since": since, "until": until}
    booked = read(_BOOKED, {**found, "earliest": since - LONGEST_HOLD})
    freed = read(_FREED, found)
    rooms = {
        room.id: room
        for room in db.session.scalars(
            select(Room).where(Room.clinic_id == clinic_id, Room.kind == DOSING)
        )
    }
    figures = rules.chair_hours(
        booked=[Held(r.room_id, r.starts_at, r.held_until) for r in booked],
        freed=[Held(r.room_id, r.starts_at, r.ends_at) for r in freed],
        backfilled=[Held(r.room_id, r.starts_at, r.held_until) for r in booked if r.offer_id],
        since=since,
        until=until,
        rooms=[i for i, room in rooms.items() if room.active],
    )
    listed = sorted(figures.rooms, key=lambda i: (rooms[i].name.casefold(), str(i)))
    return {
        "clinic_id": clinic_id,
        "time_zone": clinic.time_zone,
        "from_": first,
        "to": last,
        "starts_at": since,
        "ends_at": until,
        **figures.total.hours(),
        "rooms": [_room(rooms[i], figures.rooms[i].hours()) for i in listed],
    }


def _room(room: Room, hours: dict[str, float]) -> dict[str, Any]:
    return {"room": {"id": room.id, "name": room.name, "kind": room.kind}, **hours}
