"""What a slot search knows, read once (service.py): the clinic's hours, its rooms and
staff with their hours and time off, the holds of those rooms, people and the patient,
and the course as the rules see it; and a slot found.

Each resource's holds are merged into sorted busy spans on first use, so whether a
room, a person or the patient is free at a start is one binary search, and when it is
not, the span says how far a search can skip ahead (`busy_until`).
"""

from __future__ import annotations

import bisect
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cached_property
from operator import itemgetter

from kapt_api.clinics import rules as clinic_rules
from kapt_api.clinics.rules import UtcRange, WeeklyInterval
from kapt_api.protocols.definition import SessionKind, SessionType
from kapt_api.scheduling.booking.queries import LONGEST_HOLD
from kapt_api.scheduling.booking.values import (
    BookingRequest,
    HeldRow,
    Hold,
    RoomFacts,
    StaffFacts,
    held_until,
    resource_key,
)
from kapt_api.scheduling.courses.staffing import ROLE_PREFERENCE
from kapt_api.scheduling.courses.values import CourseSession, CourseState

# A hold's start: the search's holds are rows (HeldRow), a plan's own are Holds.
_starts_at = itemgetter(1)


@dataclass(frozen=True)
class Slot:
    kind: SessionKind
    starts_at: datetime
    ends_at: datetime
    room_id: uuid.UUID
    staff_ids: tuple[uuid.UUID, ...]


@dataclass(frozen=True)
class Suited:
    """What a search for one session type looks at, each with its resource key: the
    rooms of its kind, and the people holding a role it needs (the care team first,
    nurses and therapists before prescribers). Nobody else could be booked for it."""

    rooms: tuple[tuple[RoomFacts, str], ...]
    staff: tuple[tuple[StaffFacts, str], ...]

    def keys(self) -> list[str]:
        return [key for _, key in (*self.rooms, *self.staff)]


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
    holds: dict[str, list[HeldRow]] = field(default_factory=dict)
    # Working hours as UTC ranges around the horizon, by staff id, made on first use.
    working: dict[uuid.UUID, list[UtcRange]] = field(default_factory=dict)
    # Each resource's holds merged into sorted busy spans, made on first use (busy_until):
    # their starts and their ends, so a binary search compares instants, not tuples.
    busy: dict[str, tuple[list[datetime], list[datetime]]] = field(
        default_factory=dict, compare=False, repr=False
    )

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
    def staff_by_id(self) -> dict[uuid.UUID, StaffFacts]:
        return {member.id: member for member in self.staff}

    def suited(self, session_type: SessionType) -> Suited:
        """The rooms and people a session of this type could have (Suited)."""
        wanted = frozenset().union(*(r.any_of for r in session_type.required_roles))
        people = sorted(
            (m for m in self.staff if m.roles & wanted),
            key=lambda m: (m.id not in self.team, _preference(m)),
        )
        rooms = [r for r in self.rooms if r.kind == session_type.room_kind]
        return Suited(
            rooms=tuple((r, self.keys[r.id]) for r in rooms),
            staff=tuple((m, self.keys[m.id]) for m in people),
        )

    def working_of(self, member: StaffFacts) -> list[UtcRange]:
        """The member's working hours as UTC ranges around the horizon."""
        ranges = self.working.get(member.id)
        if ranges is None:
            around = (self.horizon[0] - LONGEST_HOLD, self.horizon[1] + LONGEST_HOLD)
            ranges = clinic_rules.utc_ranges_between(*around, member.working_hours, self.zone)
            self.working[member.id] = ranges
        return ranges

    def busy_until(self, key: str, starts_at: datetime, until: datetime) -> datetime | None:
        """None when no hold of the resource overlaps [starts_at, until); else the end of
        the busy span in the way. No later start finds the resource free before that end:
        a span that meets a start's hold meets the hold of every later start until then."""
        spans = self.busy.get(key)
        if spans is None:
            spans = self.busy[key] = busy_spans(self.holds.get(key, ()))
        starts, ends = spans
        # The last span starting before `until` ends latest of those (they are disjoint).
        index = bisect.bisect_left(starts, until) - 1
        if index < 0 or ends[index] <= starts_at:
            return None
        return ends[index]

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


def busy_spans(held: Sequence[HeldRow]) -> tuple[list[datetime], list[datetime]]:
    """Holds sorted by start merged into disjoint spans, their starts and their ends: the
    spans clinic_rules.merge_ranges makes of them (test_slots holds them equal),
    without a tuple made or compared for each hold (a search merges a thousand or so)."""
    starts: list[datetime] = []
    ends: list[datetime] = []
    for hold in held:
        starts_at, ends_at = hold[1], hold[2]
        if ends and starts_at <= ends[-1]:
            if ends_at > ends[-1]:
                ends[-1] = ends_at
        else:
            starts.append(starts_at)
            ends.append(ends_at)
    return starts, ends


def _preference(member: StaffFacts) -> int:
    return min((ROLE_PREFERENCE.index(r) for r in member.roles if r in ROLE_PREFERENCE), default=9)
