"""Where and with whom a session can happen: resources free, inside working and
opening hours, nobody on time off, the right kind of room, the required roles present.

Plain functions over values.py values; every broken rule is returned, each with a
sentence a front-desk person understands.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime

from kapt_api.auth.models import Role
from kapt_api.clinics import rules as clinic_rules
from kapt_api.clinics.rules import UtcRange, WeeklyInterval, local_clock, local_day
from kapt_api.clinics.rules import local_text as when
from kapt_api.errors import Violation
from kapt_api.protocols.definition import SessionType
from kapt_api.scheduling.booking.values import BookingRequest, Calendar, Hold, StaffFacts
from kapt_api.scheduling.courses.staffing import (
    ROLE_PREFERENCE,
    match_roles,
    role_names,
    session_name,
)

CONFLICT_RULES = {
    "staff": "staff_conflict",
    "room": "room_conflict",
    "patient": "patient_conflict",
}

# A clash with a hold that keeps a freed time for a waitlist offer (waitlist/models.py).
OFFER_HOLD_RULE = "held_for_waitlist_offer"


def conflict_rule(resource_key: str) -> str | None:
    """The rule a clash on this resource breaks (`staff:<id>` -> staff_conflict)."""
    return CONFLICT_RULES.get(resource_key.partition(":")[0])


def staff_by_id(calendar: Calendar) -> dict[uuid.UUID, StaffFacts]:
    return {member.id: member for member in calendar.staff}


def requested_staff(request: BookingRequest, calendar: Calendar) -> list[StaffFacts]:
    known = staff_by_id(calendar)
    missing = [staff_id for staff_id in request.staff_ids if staff_id not in known]
    if missing:
        raise ValueError(f"the calendar lacks staff {missing}")
    return [known[staff_id] for staff_id in request.staff_ids]


def conflict_violations(
    request: BookingRequest, calendar: Calendar, *, starts_at: datetime, held_until: datetime
) -> list[Violation]:
    """One violation per requested resource already held at an overlapping time by
    another appointment (the appointment being moved does not clash with itself)."""
    # Each resource's clashes in the calendar's order (sorted stably below), found in one
    # pass; most requests have none, and then no resource key need be made.
    clashing: dict[str, list[Hold]] = {}
    for hold in calendar.holds:
        if (
            hold.appointment_id != request.appointment_id
            and hold.starts_at < held_until
            and starts_at < hold.ends_at
        ):
            clashing.setdefault(hold.resource_key, []).append(hold)
    violations = []
    for key in request.resource_keys() if clashing else ():
        if key in clashing:
            clashes = sorted(clashing[key], key=lambda hold: hold.starts_at)
            violations.append(_clash(key, clashes, _name(key, calendar), calendar.zone))
    return violations


def _name(key: str, calendar: Calendar) -> str:
    """Who or what a resource key names, as a refusal says it."""
    names = {f"staff:{s.id}": s.name for s in calendar.staff}
    names[f"room:{calendar.room.id}"] = f"Room {calendar.room.name}"
    return names.get(key, "The patient")


def _clash(key: str, clashes: Sequence[Hold], who: str, zone: str) -> Violation:
    kind, _, resource_id = key.partition(":")
    first = clashes[0]
    busy = f"{when(first.starts_at, zone)} to {local_clock(first.ends_at, zone)}"
    verb = "already has a session" if kind == "patient" else "is already booked"
    message = f"{who} {verb} from {busy}."
    if len(clashes) > 1:
        message = f"{message[:-1]} (and {len(clashes) - 1} more overlapping)."
    details = {
        f"{kind}_id": resource_id,
        "conflicting_appointment_ids": sorted({str(h.appointment_id) for h in clashes}),
    }
    if any(hold.offered for hold in clashes):
        message = f"{message[:-1]}: the time is held for a patient offered it from the waitlist."
        return Violation(OFFER_HOLD_RULE, message, details)
    return Violation(CONFLICT_RULES[kind], message, details)


def _hours_that_day(day_of: datetime, hours: Iterable[WeeklyInterval], zone: str) -> str:
    day = day_of.astimezone(clinic_rules.as_zone(zone)).date()
    ranges = clinic_rules.local_intervals_to_utc(day, hours, zone)
    if not ranges:
        return "none that day"
    return ", ".join(f"{local_clock(a, zone)}-{local_clock(b, zone)}" for a, b in ranges)


def _covered(hours: Sequence[WeeklyInterval], session: UtcRange, zone: str) -> bool:
    # The ranges come merged and clipped to the session: covered if one is all of it.
    return [session] == clinic_rules.utc_ranges_between(*session, hours, zone)


def _span(session: UtcRange, zone: str) -> str:
    start, end = session
    return f"{local_clock(start, zone)}-{local_clock(end, zone)} on {local_day(start, zone)}"


def working_hours_violations(
    staff: Sequence[StaffFacts], calendar: Calendar, session: UtcRange
) -> list[Violation]:
    """Each booked person must be working for the whole session (their weekly hours,
    wall-clock time in the clinic's zone)."""
    zone = calendar.zone
    return [
        Violation(
            "outside_working_hours",
            f"{member.name} is not working for all of {_span(session, zone)} "
            f"(working hours that day: {_hours_that_day(session[0], member.working_hours, zone)}).",
            {"staff_id": str(member.id)},
        )
        for member in staff
        if not _covered(member.working_hours, session, zone)
    ]


def clinic_hours_violations(calendar: Calendar, session: UtcRange) -> list[Violation]:
    """The clinic must be open for the whole session."""
    zone = calendar.zone
    if _covered(calendar.opening_hours, session, zone):
        return []
    hours = _hours_that_day(session[0], calendar.opening_hours, zone)
    return [
        Violation(
            "outside_clinic_hours",
            f"The clinic is not open for all of {_span(session, zone)} (open that day: {hours}).",
        )
    ]


def time_off_violations(
    staff: Sequence[StaffFacts], calendar: Calendar, session: UtcRange
) -> list[Violation]:
    violations = []
    for member in staff:
        away = sorted(r for r in member.time_off if clinic_rules.overlaps(r, session))
        if away:
            start, end = away[0]
            violations.append(
                Violation(
                    "staff_time_off",
                    f"{member.name} is away from {when(start, calendar.zone)} "
                    f"to {when(end, calendar.zone)}.",
                    {"staff_id": str(member.id)},
                )
            )
    return violations


def room_violations(session_type: SessionType, calendar: Calendar) -> list[Violation]:
    room = calendar.room
    if room.kind == session_type.room_kind:
        return []
    return [
        Violation(
            "wrong_room_kind",
            f"A {session_name(session_type.kind)} needs a {session_type.room_kind.value} room; "
            f"Room {room.name} is a {room.kind.value} room.",
            {"room_id": str(room.id), "needed": session_type.room_kind.value},
        )
    ]


def role_violations(session_type: SessionType, staff: Sequence[StaffFacts]) -> list[Violation]:
    """Every role requirement of the session type filled by a different booked person."""
    requirements = session_type.required_roles
    filled = match_roles(requirements, [(s.id, s.roles) for s in staff])
    missing = [requirements[i] for i in range(len(requirements)) if i not in filled]
    if not missing:
        return []
    needed = " and ".join(role_names(r) for r in missing)
    return [
        Violation(
            "missing_role",
            f"A {session_name(session_type.kind)} needs {needed} present; "
            "nobody else booked for it can be that.",
            {"missing": [sorted(role.value for role in r.any_of) for r in missing]},
        )
    ]


def default_staff(
    session_type: SessionType, team: Sequence[tuple[uuid.UUID, frozenset[Role]]]
) -> tuple[uuid.UUID, ...]:
    """The care team members who fill the session type's required roles (each role by a
    different person, nurses and therapists asked before prescribers), in team order."""

    def preference(member: tuple[uuid.UUID, frozenset[Role]]) -> int:
        return min((ROLE_PREFERENCE.index(r) for r in member[1] if r in ROLE_PREFERENCE), default=9)

    ordered = sorted(team, key=preference)
    chosen = set(match_roles(session_type.required_roles, ordered).values())
    return tuple(person for person, _roles in team if person in chosen)


def calendar_violations(
    request: BookingRequest,
    session_type: SessionType,
    calendar: Calendar,
    *,
    session: UtcRange,
    held_until: datetime,
) -> list[Violation]:
    """Every calendar rule the requested session breaks."""
    staff = requested_staff(request, calendar)
    return [
        *conflict_violations(request, calendar, starts_at=session[0], held_until=held_until),
        *working_hours_violations(staff, calendar, session),
        *clinic_hours_violations(calendar, session),
        *time_off_violations(staff, calendar, session),
        *room_violations(session_type, calendar),
        *role_violations(session_type, staff),
    ]
