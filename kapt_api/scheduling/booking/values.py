"""The plain values the booking rules decide over: the request, the calendar around it
(the clinic's zone and hours, the room, the staff and their holds). Frozen
dataclasses, no database, no Flask. The queries build them from rows; tests build
them by hand."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import NamedTuple

from kapt_api.auth.models import Role
from kapt_api.clinics.models import RoomKind
from kapt_api.clinics.rules import UtcRange, WeeklyInterval
from kapt_api.protocols.definition import SessionKind, SessionType


@dataclass(frozen=True)
class StaffFacts:
    id: uuid.UUID
    name: str
    roles: frozenset[Role]
    working_hours: tuple[WeeklyInterval, ...] = ()
    # Absolute spans (UTC) of time off around the requested time.
    time_off: tuple[UtcRange, ...] = ()


@dataclass(frozen=True)
class RoomFacts:
    id: uuid.UUID
    name: str
    kind: RoomKind


@dataclass(frozen=True)
class Place:
    """The requested room, with its clinic's zone and opening hours."""

    room: RoomFacts
    zone: str
    opening_hours: tuple[WeeklyInterval, ...]


class Hold(NamedTuple):
    """A resource held by an appointment, buffer included.

    A named tuple: a slot search reads thousands, and one is made in a third of the time
    a frozen dataclass takes (and is one object, not two, for the garbage collector)."""

    resource_key: str
    starts_at: datetime
    ends_at: datetime
    appointment_id: uuid.UUID  # or the waitlist offer's id, when `offered`
    offered: bool = False


# A hold as the row it is read as: Hold's fields by position (a Hold is one too). A slot
# search reads thousands and only compares their times, so it makes no Hold of them.
HeldRow = tuple[str, datetime, datetime, uuid.UUID, bool]


@dataclass(frozen=True)
class Calendar:
    """The clinic's zone and hours, the requested room and staff, and the holds of
    the requested resources around the requested time."""

    zone: str
    opening_hours: tuple[WeeklyInterval, ...]
    room: RoomFacts
    staff: tuple[StaffFacts, ...]
    holds: tuple[Hold, ...] = ()


@dataclass(frozen=True)
class BookingRequest:
    """A session to book, or (with appointment_id) where an appointment is to move."""

    kind: SessionKind
    starts_at: datetime
    room_id: uuid.UUID
    staff_ids: tuple[uuid.UUID, ...]
    patient_id: uuid.UUID
    appointment_id: uuid.UUID | None = None

    def resource_keys(self) -> tuple[str, ...]:
        """Every resource the session holds, in one fixed order (so concurrent bookings
        take them in the same order)."""
        keys = {
            resource_key("patient", self.patient_id),
            resource_key("room", self.room_id),
            *(resource_key("staff", staff_id) for staff_id in self.staff_ids),
        }
        return tuple(sorted(keys))


def resource_key(kind: str, resource_id: uuid.UUID) -> str:
    """`staff:<uuid>`, `room:<uuid>` or `patient:<uuid>`."""
    return f"{kind}:{resource_id}"


def session_end(session_type: SessionType, starts_at: datetime) -> datetime:
    return starts_at + _minutes(session_type.duration_minutes)


def held_until(session_type: SessionType, starts_at: datetime) -> datetime:
    """The end of the session's buffer: until then its people and room stay held."""
    return starts_at + _minutes(session_type.occupied_minutes)


# The few lengths of the session types, asked for at every start a slot search looks at:
# a timedelta made once each (a keyword timedelta costs more than the addition itself).
@lru_cache(maxsize=256)
def _minutes(count: int) -> timedelta:
    return timedelta(minutes=count)
