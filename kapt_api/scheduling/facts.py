"""The plain values the booking rules decide over: frozen dataclasses, no database, no
Flask. The service builds them from rows; tests build them by hand."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from kapt_api.auth.models import Role
from kapt_api.clinics.models import RoomKind
from kapt_api.clinics.rules import UtcRange, WeeklyInterval
from kapt_api.protocols.definition import ProtocolDefinition, SessionKind, SessionType


class CourseStatus(StrEnum):
    ACTIVE = "active"
    COMPLETED = "completed"
    DISCONTINUED = "discontinued"


class AppointmentStatus(StrEnum):
    BOOKED = "booked"
    CHECKED_IN = "checked_in"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"


class ReasonCategory(StrEnum):
    """What kind of reason a cancellation, no-show or discontinuation had, chosen from this
    list when it is written: all that staff off the care team are shown of the reason."""

    PATIENT_REQUEST = "patient_request"
    CLINICAL = "clinical"
    SCHEDULING = "scheduling"
    OTHER = "other"


# An appointment that happened or will happen: what a course's schedule is made of.
SCHEDULED = frozenset(
    {
        AppointmentStatus.BOOKED,
        AppointmentStatus.CHECKED_IN,
        AppointmentStatus.IN_PROGRESS,
        AppointmentStatus.COMPLETED,
    }
)


@dataclass(frozen=True)
class CourseSession:
    """One appointment of a course as the rules see it."""

    id: uuid.UUID
    kind: SessionKind
    starts_at: datetime
    ends_at: datetime
    status: AppointmentStatus = AppointmentStatus.BOOKED

    @property
    def scheduled(self) -> bool:
        return self.status in SCHEDULED


@dataclass(frozen=True)
class CourseState:
    """What the protocol rules need about a course: its status, its pinned protocol
    version's definition, every appointment it has, and whether the last monitoring
    checklist holds the next dose (None: no hold)."""

    status: CourseStatus
    definition: ProtocolDefinition
    sessions: tuple[CourseSession, ...] = ()
    pre_dose_hold: str | None = None


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
class Hold:
    """A resource held by an appointment, buffer included."""

    resource_key: str
    starts_at: datetime
    ends_at: datetime
    appointment_id: uuid.UUID


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
    return starts_at + timedelta(minutes=session_type.duration_minutes)


def held_until(session_type: SessionType, starts_at: datetime) -> datetime:
    """The end of the session's buffer: until then its people and room stay held."""
    return starts_at + timedelta(minutes=session_type.occupied_minutes)


def local_text(instant: datetime, zone: str) -> str:
    """An instant as the clinic's clocks show it: "Tue 8 Dec 2026 09:00"."""
    return f"{local_day(instant, zone)} {local_clock(instant, zone)}"


def local_day(instant: datetime, zone: str) -> str:
    """The clinic's calendar day of an instant: "Tue 8 Dec 2026"."""
    local = instant.astimezone(ZoneInfo(zone))
    return f"{local:%a} {local.day} {local:%b %Y}"


def local_clock(instant: datetime, zone: str) -> str:
    """Only the clinic's wall-clock time of an instant: "09:00"."""
    return f"{instant.astimezone(ZoneInfo(zone)):%H:%M}"
