"""What a slot search reads of its clinic besides the staff's calendars and the holds
(booking/queries.py): the zone and opening hours, and the rooms in use. Sent past the
ORM (rows.read): its set-up of a statement and of the objects it loads cost more than
these few rows."""

from __future__ import annotations

import uuid

from sqlalchemy import bindparam, select

from kapt_api.clinics.models import Clinic, OpeningHours, Room, RoomKind
from kapt_api.clinics.rules import WeeklyInterval
from kapt_api.rows import read
from kapt_api.scheduling.booking.values import RoomFacts


def opening(clinic_id: uuid.UUID) -> tuple[str, tuple[WeeklyInterval, ...]]:
    """The clinic's time zone and its opening hours, by weekday and opening time (one
    statement: a row per interval)."""
    rows = read(_OPENING, {"clinic_id": clinic_id})
    if not rows:
        raise ValueError(f"no clinic {clinic_id}")
    hours = (WeeklyInterval(r.weekday, r.opens, r.closes) for r in rows if r.weekday is not None)
    return rows[0].time_zone, tuple(hours)


def rooms_in_use(clinic_id: uuid.UUID) -> tuple[RoomFacts, ...]:
    """The clinic's rooms in use, by name."""
    rows = read(_ROOMS_IN_USE, {"clinic_id": clinic_id})
    return tuple(RoomFacts(r.id, r.name, RoomKind(r.kind)) for r in rows)


# Built once (each search runs them), their parameters bound at execution.
_OPENING = (
    select(Clinic.time_zone, OpeningHours.weekday, OpeningHours.opens, OpeningHours.closes)
    .outerjoin(OpeningHours, OpeningHours.clinic_id == Clinic.id)
    .where(Clinic.id == bindparam("clinic_id"))
    .order_by(OpeningHours.weekday, OpeningHours.opens)
)
_ROOMS_IN_USE = (
    select(Room.id, Room.name, Room.kind)
    .where(Room.clinic_id == bindparam("clinic_id"), Room.active.is_(True))
    .order_by(Room.name, Room.id)
)
