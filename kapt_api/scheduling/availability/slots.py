"""Slot search: the start times at which a session of a course can be booked, each with
a room of the right kind and staff filling every required role, the patient free, all
inside opening and working hours.

For each start on the step grid the search picks a free room and free people (the
course's care team first), then asks the booking rules themselves whether that booking
would pass (booking_violations as two parts: the course's, rules.course_rules, worked out
once a search; the request's, rules.request_violations, for each start): a slot offered
is a booking the rules accept. Pure over the availability read once (service.py).

A candidate is cheap to turn down: whether a room, a person or the patient is free is
one binary search over their busy spans (calendar.py), a start that finds the patient
or every room held skips the search ahead to when one is free, and the rules are asked
only about a start that has its room and people.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta

from kapt_api.clinics import rules as clinic_rules
from kapt_api.clinics.rules import UtcRange
from kapt_api.errors import RuleRefused, Violation
from kapt_api.protocols.definition import SessionKind, SessionType
from kapt_api.scheduling.availability.calendar import Availability, Slot, Suited
from kapt_api.scheduling.booking import rules
from kapt_api.scheduling.booking.values import (
    BookingRequest,
    Calendar,
    RoomFacts,
    StaffFacts,
    held_until,
    session_end,
)
from kapt_api.scheduling.courses.staffing import match_roles

MAX_WINDOW = timedelta(days=31)
DEFAULT_STEP = timedelta(minutes=15)
# Rules that refuse every start alike: searching on would find nothing.
EVERY_START = frozenset({"course_not_active", "pre_dose_gate"})
Accept = Callable[[datetime], bool]
# Sorts after every range that starts at the same instant (a probe for bisect).
_LAST = datetime.max.replace(tzinfo=UTC)


def _covered(ranges: Sequence[UtcRange], starts_at: datetime, ends_at: datetime) -> bool:
    index = bisect.bisect_right(ranges, (starts_at, _LAST)) - 1
    return index >= 0 and ranges[index][1] >= ends_at


def _away(member: StaffFacts, starts_at: datetime, ends_at: datetime) -> bool:
    return any(clinic_rules.overlaps(span, (starts_at, ends_at)) for span in member.time_off)


def _starts(
    available: Availability, window: UtcRange, step: timedelta, duration: timedelta
) -> Iterator[datetime]:
    """Starts on the step grid of each opening span (09:00, 09:15, ... on the clinic's
    clocks, whatever the UTC offset that day) inside the window, the session ending
    before the clinic closes."""
    # Longer than any opening span (25 hours on the day the clocks go back), so no span
    # the window meets is cut short: its grid is anchored at its opening time, wherever
    # the window starts (find_slots searches a window part by part).
    margin = timedelta(days=2)
    spans = clinic_rules.utc_ranges_between(
        window[0] - margin, window[1] + margin, available.opening_hours, available.zone
    )
    for opens, closes in spans:
        start = opens + max(0, -((opens - window[0]) // step)) * step
        while start < window[1] and start + duration <= closes:
            yield start
            start += step


def _free_room(
    available: Availability, suited: Suited, starts_at: datetime, until: datetime
) -> tuple[RoomFacts | None, datetime]:
    """The first free room of the kind, the patient free too; else None, and the first
    instant a later start could find both (busy_until: no start before it can)."""
    patient = available.busy_until(available.patient_key, starts_at, until)
    if patient is not None:
        return None, patient
    soonest = _LAST
    for room, key in suited.rooms:
        busy = available.busy_until(key, starts_at, until)
        if busy is None:
            return room, starts_at
        soonest = min(soonest, busy)
    return None, soonest


def _free_people(
    available: Availability,
    session_type: SessionType,
    suited: Suited,
    session: UtcRange,
    until: datetime,
) -> tuple[StaffFacts, ...] | None:
    """Free people filling every required role (working all of the session, not away,
    not held until `until`), the care team first, nurses and therapists asked before
    prescribers."""
    starts_at = session[0]
    # Held is the likeliest reason someone is not free, and the cheapest to check.
    free = (
        member
        for member, key in suited.staff
        if available.busy_until(key, starts_at, until) is None
        and _covered(available.working_of(member), *session)
        and not (member.time_off and _away(member, *session))
    )
    requirements = session_type.required_roles
    if len(requirements) == 1:
        # match_roles fills one requirement with the first person who can, and everyone
        # suited can (Suited): the first free one is its answer, nobody after need be
        # asked (a preparation or integration session; test_slots holds them equal).
        first = next(free, None)
        return None if first is None else (first,)
    filled = match_roles(requirements, [(member.id, member.roles) for member in free])
    if len(filled) < len(requirements):
        return None
    by_id = available.staff_by_id
    return tuple(by_id[filled[i]] for i in range(len(requirements)))


def _violations(
    available: Availability,
    known: rules.CourseRules,
    request: BookingRequest,
    room: RoomFacts,
    staff: tuple[StaffFacts, ...],
    now: datetime,
) -> list[Violation]:
    """What the booking rules say of this booking (the course's part of them, `known`,
    worked out once a search)."""
    # The room, the people and the patient were found free until the session's hold ends
    # (_free_room, _free_people: busy_until over that very range), so none of their
    # holds overlaps it: there is none to give.
    calendar = Calendar(available.zone, available.opening_hours, room, staff, holds=())
    return rules.request_violations(request, known, calendar, now=now)


def _slot(
    available: Availability,
    known: rules.CourseRules,
    suited: Suited,
    held: UtcRange,
    room: RoomFacts,
    now: datetime,
) -> Slot | None:
    """The slot starting when the room is `held` (the session and its buffer), if free
    people fill its roles and the booking rules accept it; a rule that refuses every
    start alike refuses the search."""
    session_type = known.session_type
    starts_at = held[0]
    session = (starts_at, session_end(session_type, starts_at))
    staff = _free_people(available, session_type, suited, session, held[1])
    if staff is None:
        return None
    staff_ids = tuple(member.id for member in staff)
    request = BookingRequest(session_type.kind, starts_at, room.id, staff_ids, available.patient_id)
    violations = _violations(available, known, request, room, staff, now)
    hopeless = [v for v in violations if v.rule in EVERY_START]
    if hopeless:
        raise RuleRefused(hopeless)
    if violations:
        return None
    return Slot(session_type.kind, starts_at, session[1], room.id, staff_ids)


def search(
    available: Availability,
    kind: SessionKind,
    *,
    window: UtcRange,
    now: datetime,
    step: timedelta = DEFAULT_STEP,
    limit: int = 100,
    accept: Accept | None = None,
) -> list[Slot]:
    """The first `limit` starts in the window at which the session can be booked."""
    session_type = available.course.definition.session_type(kind)
    if session_type is None:
        raise ValueError(f"the protocol has no {kind} session type")
    duration = timedelta(minutes=session_type.duration_minutes)
    suited = available.suited(session_type)
    known = rules.course_rules(available.course, kind, available.zone)
    # No start before this can be booked: the notice, then wherever a held patient or
    # rooms are next free (_free_room).
    resume = now + timedelta(hours=session_type.min_notice_hours)
    found: list[Slot] = []
    for starts_at in _starts(available, window, step, duration):
        if starts_at < resume or (accept is not None and not accept(starts_at)):
            continue
        until = held_until(session_type, starts_at)
        room, resume = _free_room(available, suited, starts_at, until)
        if room is None:
            continue
        slot = _slot(available, known, suited, (starts_at, until), room, now)
        if slot is not None:
            found.append(slot)
            if len(found) >= limit:
                break
    return found
