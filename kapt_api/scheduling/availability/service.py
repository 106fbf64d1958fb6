"""Slot search as a use case: the calendars of every candidate room and person (their
hours and time off, and their holds) read once for the window, never per candidate,
then searched (slots.py).

The holds are most of what a search reads. `find_slots` reads them part by part and
stops at the part where `limit` slots are found: a first page costs the first days of
the window, not the whole of it. The first part is a day; each next one as long as the
slots found so far say the rest will take, with half as much again to spare (three times
what was searched when nothing was found), so a whole window takes two or three reads.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from kapt_api.clinics.rules import UtcRange
from kapt_api.errors import InvalidInput
from kapt_api.protocols.definition import SessionKind, SessionType
from kapt_api.scheduling.availability import queries as clinic_queries
from kapt_api.scheduling.availability.slots import (
    DEFAULT_STEP,
    MAX_WINDOW,
    Availability,
    Slot,
    search,
)
from kapt_api.scheduling.booking import queries
from kapt_api.scheduling.booking.queries import LONGEST_HOLD
from kapt_api.scheduling.booking.service import session_type_of
from kapt_api.scheduling.booking.values import HeldRow, held_until
from kapt_api.scheduling.courses import queries as course_queries
from kapt_api.scheduling.courses.models import Course

# The first part of a window whose holds are read; a next part is never shorter.
FIRST_PART = timedelta(days=1)
# With nothing found yet, how much longer than what was searched the next part is.
PART_GROWTH = 3


def availability(
    course: Course, *, horizon: UtcRange, now: datetime, doses: bool = True
) -> Availability:
    """The calendars of the course's clinic (rooms in use, active staff) and its patient
    over the horizon, holds included, read in a fixed number of queries; with `doses`,
    whether monitoring holds the course's next dose too."""
    return with_holds(calendars(course, horizon=horizon, now=now, doses=doses), horizon)


def calendars(
    course: Course, *, horizon: UtcRange, now: datetime, doses: bool = True
) -> Availability:
    """Everything `availability` reads but the holds: the clinic's zone and hours, its
    rooms in use, its active staff (login active too) with their roles, hours and time
    off around the horizon, and the course as the rules see it."""
    zone, opening_hours = clinic_queries.opening(course.clinic_id)
    around = (horizon[0] - LONGEST_HOLD, horizon[1] + LONGEST_HOLD)
    return Availability(
        zone=zone,
        opening_hours=opening_hours,
        rooms=clinic_queries.rooms_in_use(course.clinic_id),
        staff=queries.clinic_staff(course.clinic_id, around=around),
        team=frozenset(course.care_team_ids),
        patient_id=course.patient_id,
        course=course_queries.course_state(course, now=now, hold=doses),
        horizon=horizon,
    )


def with_holds(
    available: Availability, horizon: UtcRange, session_type: SessionType | None = None
) -> Availability:
    """`available` over `horizon` (inside the one its hours were read for), with every
    hold of its rooms, people and patient that a session starting then could meet: those
    ending after the horizon starts and starting before its last session's hold ends.
    With `session_type`, only those a session of that type could meet, of the rooms and
    people it could have (calendar.Suited): good for searching that session type only."""
    if session_type is None:
        keys = list(available.keys.values())
        around = (horizon[0], horizon[1] + LONGEST_HOLD)
    else:
        keys = available.suited(session_type).keys()
        around = (horizon[0], held_until(session_type, horizon[1]))
    holds: defaultdict[str, list[HeldRow]] = defaultdict(list)
    for hold in queries.hold_rows([available.patient_key, *keys], around):
        holds[hold[0]].append(hold)  # its resource key
    return replace(available, horizon=horizon, holds=dict(holds), working={}, busy={})


def check_window(starts_from: datetime, until: datetime, *, longest: timedelta) -> None:
    """A search window must end after it starts and span at most `longest`."""
    if until <= starts_from:
        raise InvalidInput({"to": ["Must be after from."]})
    if until - starts_from > longest:
        raise InvalidInput({"to": [f"The window may span at most {longest.days} days."]})


def _next_part(
    starts_from: datetime, until: datetime, searched: UtcRange, found: int, wanted: int
) -> UtcRange:
    """The part of the window to search after `searched` (from `starts_from`, `found`
    slots so far) for `wanted` more slots: as long as the rate so far says they take,
    half as long again to spare, at least FIRST_PART; PART_GROWTH times what was searched
    when nothing was found."""
    done = searched[1] - starts_from
    length = done * PART_GROWTH if found == 0 else done * wanted / found * 1.5
    return searched[1], min(until, searched[1] + max(length, FIRST_PART))


def find_slots(
    *,
    course: Course,
    kind: SessionKind,
    starts_from: datetime,
    until: datetime,
    now: datetime,
    step: timedelta = DEFAULT_STEP,
    limit: int = 100,
) -> list[Slot]:
    """Free starts for a session of the course in [starts_from, until) (at most 31 days):
    every rule, role, room and the patient fit. A course that has ended, or a dose on
    hold, is refused naming the rule."""
    session_type = session_type_of(course, kind)
    check_window(starts_from, until, longest=MAX_WINDOW)
    # The same instants with the tzinfo of every other the search compares them with
    # (psycopg's and the rules': datetime.UTC): two datetimes of different tzinfo are
    # compared by asking each for its offset, 15 times slower, thousands of times.
    starts_from, until = starts_from.astimezone(UTC), until.astimezone(UTC)
    read = calendars(
        course, horizon=(starts_from, until), now=now, doses=kind is SessionKind.DOSING
    )
    found: list[Slot] = []
    part = (starts_from, min(until, starts_from + FIRST_PART))
    # The starts lie on a grid anchored at each opening time, so the parts together
    # offer the same starts, in the same order, as the whole window searched at once.
    while True:
        available = with_holds(read, part, session_type)
        found += search(available, kind, window=part, now=now, step=step, limit=limit - len(found))
        if len(found) >= limit or part[1] >= until:
            return found
        part = _next_part(starts_from, until, part, len(found), limit - len(found))
