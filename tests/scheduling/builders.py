"""Plain values for the booking rules, built by hand: a clinic in New York open 08-18 on
weekdays, people working 09-17, the built-in protocol templates' definitions."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from kapt_api.auth.models import Role
from kapt_api.clinics.models import RoomKind
from kapt_api.clinics.rules import UtcRange, WeeklyInterval
from kapt_api.protocols.definition import ProtocolDefinition, SessionKind
from kapt_api.protocols.templates import TEMPLATES
from kapt_api.scheduling.booking.values import (
    BookingRequest,
    Calendar,
    Hold,
    RoomFacts,
    StaffFacts,
    resource_key,
)
from kapt_api.scheduling.courses.values import (
    AppointmentStatus,
    CourseSession,
    CourseState,
    CourseStatus,
)

NEW_YORK, LONDON, SYDNEY = "America/New_York", "Europe/London", "Australia/Sydney"
ZONE = NEW_YORK
# Intake, 2 preparations, 6 weekly doses (48 h apart at least, at most 2 in 7 days),
# integration 24-72 h after each dose and before the next one.
IM_KAP = TEMPLATES["im-kap"].definition
# No preparations or integrations; 12 doses, twice weekly then weekly, then maintenance
# at most weekly with no end.
ESKETAMINE = TEMPLATES["esketamine-rems-induction"].definition
# The same without its maintenance phase: a course of exactly 12 doses.
ESKETAMINE_12 = replace(
    ESKETAMINE, sequencing=replace(ESKETAMINE.sequencing, phases=ESKETAMINE.sequencing.phases[:2])
)
DOSING, PREPARATION, INTEGRATION, INTAKE = (
    SessionKind.DOSING,
    SessionKind.PREPARATION,
    SessionKind.INTEGRATION,
    SessionKind.INTAKE,
)
PATIENT = uuid.UUID(int=7)


def local(
    year: int, month: int, day: int, hour: int, minute: int = 0, zone: str = ZONE
) -> datetime:
    """A wall-clock time in `zone`, as an aware datetime."""
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(zone))


def midnight(instant: datetime, zone: str = ZONE) -> datetime:
    """The start of the clinic's calendar day of an instant."""
    local_time = instant.astimezone(ZoneInfo(zone))
    return datetime(local_time.year, local_time.month, local_time.day, tzinfo=ZoneInfo(zone))


# Monday 7 December 2026 at 10:00 in New York; "now" is the Saturday before.
MONDAY = local(2026, 12, 7, 10)
NOW = MONDAY - timedelta(days=2)


def week(start: str, end: str, days: range = range(5)) -> tuple[WeeklyInterval, ...]:
    return tuple(
        WeeklyInterval(d, time.fromisoformat(start), time.fromisoformat(end)) for d in days
    )


WORKING = week("09:00", "17:00")
OPENING = week("08:00", "18:00")


def person(
    name: str,
    *roles: Role,
    hours: tuple[WeeklyInterval, ...] = WORKING,
    away: tuple[UtcRange, ...] = (),
) -> StaffFacts:
    return StaffFacts(uuid.uuid4(), name, frozenset(roles), hours, away)


NURSE = person("Nia Nurse", Role.NURSE)
THERAPIST = person("Theo Therapist", Role.THERAPIST)
PRESCRIBER = person("Priya Prescriber", Role.PRESCRIBER)
DOSING_ROOM = RoomFacts(uuid.uuid4(), "Willow", RoomKind.DOSING)
THERAPY_ROOM = RoomFacts(uuid.uuid4(), "Oak", RoomKind.THERAPY)


def calendar(
    room: RoomFacts = DOSING_ROOM,
    staff: tuple[StaffFacts, ...] = (NURSE, THERAPIST, PRESCRIBER),
    holds: tuple[Hold, ...] = (),
    zone: str = ZONE,
    opening: tuple[WeeklyInterval, ...] = OPENING,
) -> Calendar:
    return Calendar(zone, opening, room, staff, holds)


def duration(definition: ProtocolDefinition, kind: SessionKind) -> timedelta:
    session_type = definition.session_type(kind)
    assert session_type is not None
    return timedelta(minutes=session_type.duration_minutes)


def session(
    kind: SessionKind,
    starts_at: datetime,
    definition: ProtocolDefinition = IM_KAP,
    status: AppointmentStatus = AppointmentStatus.BOOKED,
) -> CourseSession:
    return CourseSession(
        uuid.uuid4(), kind, starts_at, starts_at + duration(definition, kind), status
    )


def state(
    *sessions: CourseSession,
    definition: ProtocolDefinition = IM_KAP,
    status: CourseStatus = CourseStatus.ACTIVE,
    hold: str | None = None,
) -> CourseState:
    return CourseState(status, definition, sessions, hold)


def request(
    kind: SessionKind,
    starts_at: datetime,
    room: RoomFacts = DOSING_ROOM,
    staff: tuple[StaffFacts, ...] = (NURSE, THERAPIST),
    appointment_id: uuid.UUID | None = None,
) -> BookingRequest:
    return BookingRequest(
        kind, starts_at, room.id, tuple(s.id for s in staff), PATIENT, appointment_id
    )


def hold(kind: str, resource_id: uuid.UUID, starts_at: datetime, ends_at: datetime) -> Hold:
    return Hold(resource_key(kind, resource_id), starts_at, ends_at, uuid.uuid4())


def ready_course(definition: ProtocolDefinition = IM_KAP) -> tuple[CourseSession, ...]:
    """Two preparation sessions done in the week before MONDAY."""
    return (
        session(PREPARATION, MONDAY - timedelta(days=6), definition, AppointmentStatus.COMPLETED),
        session(PREPARATION, MONDAY - timedelta(days=3), definition, AppointmentStatus.COMPLETED),
    )
