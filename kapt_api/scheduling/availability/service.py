"""Slot search as a use case: the calendars of every candidate room and person (their
holds, hours and time off) read once for the whole window (`availability`), never per
candidate, then searched (slots.py)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from kapt_api.clinics.models import Clinic, Room, RoomKind, StaffMember
from kapt_api.clinics.rules import UtcRange
from kapt_api.clinics.service import opening_pattern
from kapt_api.db import db
from kapt_api.errors import InvalidInput
from kapt_api.protocols.definition import SessionKind
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
from kapt_api.scheduling.booking.values import (
    Hold,
    RoomFacts,
    resource_key,
)
from kapt_api.scheduling.courses import queries as course_queries
from kapt_api.scheduling.courses.models import Course


# Kept whole: every calendar the search needs is read here once for the whole window;
# split, the reads would be made per candidate again.
def availability(
    course: Course, *, horizon: UtcRange, now: datetime, doses: bool = True
) -> Availability:
    """The calendars of the course's clinic (rooms in use, active staff) and its patient
    over the horizon, read in a fixed number of queries; with `doses`, whether monitoring
    holds the course's next dose too."""
    clinic = db.session.get(Clinic, course.clinic_id)
    assert clinic is not None
    rooms = [
        RoomFacts(room.id, room.name, RoomKind(room.kind))
        for room in db.session.scalars(
            select(Room)
            .where(Room.clinic_id == clinic.id, Room.active.is_(True))
            .order_by(Room.name, Room.id)
        )
    ]
    members = [
        member
        for member in db.session.scalars(
            select(StaffMember)
            .where(StaffMember.clinic_id == clinic.id, StaffMember.active.is_(True))
            .order_by(StaffMember.id)
        )
        if member.user.active
    ]
    around = (horizon[0] - LONGEST_HOLD, horizon[1] + LONGEST_HOLD)
    staff = queries.staff_facts([m.id for m in members], clinic_id=clinic.id, around=around)
    keys = [
        resource_key("patient", course.patient_id),
        *(resource_key("room", r.id) for r in rooms),
        *(resource_key("staff", s.id) for s in staff),
    ]
    holds: dict[str, list[Hold]] = {}
    for hold in queries.holds(keys, around):
        holds.setdefault(hold.resource_key, []).append(hold)
    return Availability(
        zone=clinic.time_zone,
        opening_hours=tuple(opening_pattern(clinic=clinic)),
        rooms=tuple(rooms),
        staff=staff,
        team=frozenset(course.care_team_ids),
        patient_id=course.patient_id,
        course=course_queries.course_state(course, now=now, hold=doses),
        horizon=horizon,
        holds=holds,
    )


def check_window(starts_from: datetime, until: datetime, *, longest: timedelta) -> None:
    """A search window must end after it starts and span at most `longest`."""
    if until <= starts_from:
        raise InvalidInput({"to": ["Must be after from."]})
    if until - starts_from > longest:
        raise InvalidInput({"to": [f"The window may span at most {longest.days} days."]})


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
    session_type_of(course, kind)
    check_window(starts_from, until, longest=MAX_WINDOW)
    available = availability(
        course, horizon=(starts_from, until), now=now, doses=kind is SessionKind.DOSING
    )
    return search(available, kind, window=(starts_from, until), now=now, step=step, limit=limit)
