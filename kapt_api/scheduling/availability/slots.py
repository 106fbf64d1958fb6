"""Slot search: the start times at which a session of a course can be booked, each with
a room of the right kind and staff filling every required role, the patient free, all
inside opening and working hours.

For each start on the step grid the search picks a free room and free people (the
course's care team first), then asks the booking rules themselves
(booking/rules.booking_violations) whether that booking would pass: a slot offered is
a booking the rules accept. Pure over the availability read once (service.py).

A candidate is cheap to turn down: each resource's holds are merged into sorted busy
spans once, so whether a room, a person or the patient is free is one binary search,
and the rules are asked only about a start that has its room and people.
"""

from __future__ import annotations

import bisect
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import cached_property
from operator import attrgetter

from kapt_api.auth.models import Role
from kapt_api.clinics import rules as clinic_rules
from kapt_api.clinics.rules import UtcRange, WeeklyInterval
from kapt_api.errors import RuleRefused, Violation
from kapt_api.protocols.definition import SessionKind, SessionType
from kapt_api.scheduling.booking import rules
from kapt_api.scheduling.booking.queries import LONGEST_HOLD
from kapt_api.scheduling.booking.values import (
    BookingRequest,
    Calendar,
    Hold,
    RoomFacts,
    StaffFacts,
    held_until,
    resource_key,
    session_end,
)
from kapt_api.scheduling.courses.staffing import ROLE_PREFERENCE, match_roles
from kapt_api.scheduling.courses.values import CourseSession, CourseState

MAX_WINDOW = timedelta(days=31)
DEFAULT_STEP = timedelta(minutes=15)
# Rules that refuse every start alike: searching on would find nothing.
EVERY_START = frozenset({"course_not_active", "pre_dose_gate"})
Accept = Callable[[datetime], bool]
# Sorts after every range that starts at the same instant (a probe for bisect).
_LAST = datetime.max.replace(tzinfo=UTC)
_starts_at = attrgetter("starts_at")


@dataclass(frozen=True)
class Slot:
    kind: SessionKind
    starts_at: datetime
    ends_at: datetime
    room_id: uuid.UUID
    staff_ids: tuple[uuid.UUID, ...]


@dataclass(frozen=True)
class Availability:
    """Everything a search needs, read once: the clinic's zone and hours, its rooms and
    staff (the care team first) with their hours and time off, every hold of those
    rooms, people and the patient over the horizon, and the course as the rules see it."""

    zone: str
    opening_hours: tuple[WeeklyInterval, ...]
    rooms: tuple[RoomFacts, ...]
    staff: tuple[StaffFacts, ...]
    team: frozenset[uuid.UUID]
    patient_id: uuid.UUID
    course: CourseState
    horizon: UtcRange
    holds: dict[str, list[Hold]] = field(default_factory=dict)
    # Working hours as UTC ranges around the horizon, by staff id, made on first use.
    working: dict[uuid.UUID, list[UtcRange]] = field(default_factory=dict)
    # Each resource's holds merged into sorted busy spans, made on first use (`free`).
    busy: dict[str, list[UtcRange]] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        for held in self.holds.values():
            held.sort(key=_starts_at)

    @cached_property
    def patient_key(self) -> str:
        return resource_key("patient", self.patient_id)

    @cached_property
    def keys(self) -> dict[uuid.UUID, str]:
        """The resource key of each room and staff member, by id."""
        rooms = {room.id: resource_key("room", room.id) for room in self.rooms}
        return rooms | {member.id: resource_key("staff", member.id) for member in self.staff}

    @cached_property
    def rooms_keyed(self) -> tuple[tuple[RoomFacts, str], ...]:
        return tuple((room, self.keys[room.id]) for room in self.rooms)

    @cached_property
    def by_preference(self) -> tuple[tuple[StaffFacts, str], ...]:
        """The staff with their keys, the care team first, nurses and therapists before
        prescribers."""
        ordered = sorted(self.staff, key=lambda m: (m.id not in self.team, _preference(m)))
        return tuple((member, self.keys[member.id]) for member in ordered)

    @cached_property
    def staff_by_id(self) -> dict[uuid.UUID, StaffFacts]:
        return {member.id: member for member in self.staff}

    def working_of(self, member: StaffFacts) -> list[UtcRange]:
        """The member's working hours as UTC ranges around the horizon."""
        ranges = self.working.get(member.id)
        if ranges is None:
            around = (self.horizon[0] - LONGEST_HOLD, self.horizon[1] + LONGEST_HOLD)
            ranges = clinic_rules.utc_ranges_between(*around, member.working_hours, self.zone)
            self.working[member.id] = ranges
        return ranges

    def free(self, key: str, starts_at: datetime, until: datetime) -> bool:
        """Whether no hold of the resource overlaps [starts_at, until)."""
        spans = self.busy.get(key)
        if spans is None:
            held = self.holds.get(key, ())
            spans = self.busy[key] = clinic_rules.merge_ranges(
                (h.starts_at, h.ends_at) for h in held
            )
        # The last span starting before `until` ends latest of those (they are disjoint).
        index = bisect.bisect_left(spans, (until,)) - 1
        return index < 0 or spans[index][1] <= starts_at

    def holds_between(self, key: str, starts_at: datetime, ends_at: datetime) -> list[Hold]:
        """The holds of a resource overlapping [starts_at, ends_at)."""
        held = self.holds.get(key, [])
        low = bisect.bisect_left(held, starts_at - LONGEST_HOLD, key=_starts_at)
        high = bisect.bisect_left(held, ends_at, key=_starts_at)
        return [h for h in held[low:high] if h.ends_at > starts_at]

    def with_session(self, slot: Slot, session_type: SessionType) -> Availability:
        """This availability with `slot` booked: the course has the session, and its
        room, people and the patient are held (planning a calendar step by step)."""
        planned_id = uuid.uuid4()
        until = held_until(session_type, slot.starts_at)
        request = BookingRequest(
            slot.kind, slot.starts_at, slot.room_id, slot.staff_ids, self.patient_id
        )
        holds = dict(self.holds)
        changed = request.resource_keys()
        for key in changed:
            holds[key] = sorted(
                [*holds.get(key, []), Hold(key, slot.starts_at, until, planned_id)],
                key=_starts_at,
            )
        busy = {key: spans for key, spans in self.busy.items() if key not in changed}
        session = CourseSession(planned_id, slot.kind, slot.starts_at, slot.ends_at)
        course = replace(self.course, sessions=(*self.course.sessions, session))
        return replace(self, course=course, holds=holds, working=self.working, busy=busy)


def _preference(member: StaffFacts) -> int:
    return min((ROLE_PREFERENCE.index(r) for r in member.roles if r in ROLE_PREFERENCE), default=9)


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


def _free_people(
    available: Availability, session: UtcRange, until: datetime
) -> list[tuple[uuid.UUID, frozenset[Role]]]:
    """Who could take the session: working all of it, not away, not held; the care team
    first, nurses and therapists asked before prescribers."""
    return [
        (member.id, member.roles)
        for member, key in available.by_preference
        if _covered(available.working_of(member), *session)
        and not _away(member, *session)
        and available.free(key, session[0], until)
    ]


def _placed(
    available: Availability, session_type: SessionType, starts_at: datetime
) -> tuple[RoomFacts, tuple[uuid.UUID, ...]] | None:
    """A free room of the right kind and free people filling every required role."""
    until = held_until(session_type, starts_at)
    session = (starts_at, session_end(session_type, starts_at))
    if not available.free(available.patient_key, starts_at, until):
        return None
    kind = session_type.room_kind
    room = next(
        (
            r
            for r, key in available.rooms_keyed
            if r.kind == kind and available.free(key, starts_at, until)
        ),
        None,
    )
    if room is None:
        return None
    requirements = session_type.required_roles
    filled = match_roles(requirements, _free_people(available, session, until))
    if len(filled) < len(requirements):
        return None
    return room, tuple(filled[i] for i in range(len(requirements)))


def _violations(
    available: Availability,
    session_type: SessionType,
    starts_at: datetime,
    placed: tuple[RoomFacts, tuple[uuid.UUID, ...]],
    now: datetime,
) -> list[Violation]:
    """What the booking rules say of this booking."""
    room, staff_ids = placed
    request = BookingRequest(session_type.kind, starts_at, room.id, staff_ids, available.patient_id)
    until = held_until(session_type, starts_at)
    by_id = available.staff_by_id
    calendar = Calendar(
        zone=available.zone,
        opening_hours=available.opening_hours,
        room=room,
        staff=tuple(by_id[i] for i in staff_ids),
        holds=tuple(
            hold
            for key in request.resource_keys()
            for hold in available.holds_between(key, starts_at, until)
        ),
    )
    return rules.booking_violations(request, available.course, calendar, now=now)


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
    earliest = now + timedelta(hours=session_type.min_notice_hours)
    duration = timedelta(minutes=session_type.duration_minutes)
    found: list[Slot] = []
    for starts_at in _starts(available, window, step, duration):
        if starts_at < earliest or (accept is not None and not accept(starts_at)):
            continue
        placed = _placed(available, session_type, starts_at)
        if placed is None:
            continue
        violations = _violations(available, session_type, starts_at, placed, now)
        hopeless = [v for v in violations if v.rule in EVERY_START]
        if hopeless:
            raise RuleRefused(hopeless)
        if violations:
            continue
        ends_at = session_end(session_type, starts_at)
        found.append(Slot(kind, starts_at, ends_at, placed[0].id, placed[1]))
        if len(found) >= limit:
            break
    return found
