"""Slot search over plain values: every slot offered is a booking the rules accept, and
every start the rules would accept with some room and staff is offered; rooms and people
chosen (the care team first); over the database across DST in three zones; over HTTP."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kapt_api import clock
from kapt_api.auth.models import Role
from kapt_api.clinics.models import OpeningHours, WorkingHours
from kapt_api.clinics.rules import merge_ranges
from kapt_api.db import db
from kapt_api.errors import InvalidInput, RuleRefused
from kapt_api.protocols.definition import Phase, SessionKind
from kapt_api.scheduling.availability import service as availability_service
from kapt_api.scheduling.availability import slots
from kapt_api.scheduling.availability.calendar import busy_spans
from kapt_api.scheduling.availability.slots import Availability
from kapt_api.scheduling.booking import rules, service
from kapt_api.scheduling.booking.values import BookingRequest, Calendar, held_until
from kapt_api.scheduling.courses.staffing import match_roles
from tests.scheduling import builders as b
from tests.scheduling.conftest import API, ESKETAMINE_KEY, PROBLEM, at
from tests.scheduling.test_calendar_helpers import book_preparations

DOSING, PREPARATION = SessionKind.DOSING, SessionKind.PREPARATION
MONDAY_MORNING = b.local(2026, 12, 7, 0)
DAY = timedelta(days=1)
MINUTE = timedelta(minutes=1)


def available(
    *,
    staff=(b.NURSE, b.THERAPIST, b.PRESCRIBER),
    team=None,
    holds=(),
    course=None,
    rooms=(b.DOSING_ROOM, b.THERAPY_ROOM),
    horizon=(MONDAY_MORNING, MONDAY_MORNING + 7 * DAY),
) -> Availability:
    grouped: dict[str, list] = {}
    for hold in holds:
        grouped.setdefault(hold.resource_key, []).append(hold)
    return Availability(
        zone=b.ZONE,
        opening_hours=b.OPENING,
        rooms=tuple(rooms),
        staff=tuple(staff),
        team=frozenset(s.id for s in (staff if team is None else team)),
        patient_id=b.PATIENT,
        course=course or b.state(*b.ready_course()),
        horizon=horizon,
        holds=grouped,
    )


def violations_of(space: Availability, kind, starts_at, room, staff_ids):
    request = BookingRequest(kind, starts_at, room.id, tuple(staff_ids), b.PATIENT)
    by_id = {s.id: s for s in space.staff}
    calendar = Calendar(
        space.zone,
        space.opening_hours,
        room,
        tuple(by_id[i] for i in staff_ids),
        tuple(h for held in space.holds.values() for h in held),
    )
    return rules.booking_violations(request, space.course, calendar, now=b.NOW)


def bookable_somehow(space: Availability, kind, starts_at) -> bool:
    """Whether any room and any set of staff would make the rules accept this start."""
    session_type = space.course.definition.session_type(kind)
    size = len(session_type.required_roles)
    for room in space.rooms:
        for people in itertools.permutations(space.staff, size):
            if not violations_of(space, kind, starts_at, room, [p.id for p in people]):
                return True
    return False


def grid(day_from: datetime, days: int, step: timedelta = timedelta(minutes=30)):
    start = day_from
    while start < day_from + days * DAY:
        yield start
        start += step


# --- over plain values ------------------------------------------------------------------------


def test_a_dose_slot_has_a_dosing_room_and_the_nurse_and_therapist():
    space = available()
    first, *_ = slots.search(
        space, DOSING, window=(MONDAY_MORNING, MONDAY_MORNING + DAY), now=b.NOW
    )
    assert first.starts_at == b.local(2026, 12, 7, 9)  # working hours start at 09:00
    assert first.ends_at == b.local(2026, 12, 7, 11, 30)
    assert first.room_id == b.DOSING_ROOM.id
    assert first.staff_ids == (b.NURSE.id, b.THERAPIST.id)  # the prescriber is kept free


def test_every_slot_is_a_booking_the_rules_accept_and_no_start_is_missed():
    busy = (
        b.hold("staff", b.NURSE.id, b.local(2026, 12, 7, 9), b.local(2026, 12, 7, 12)),
        b.hold("staff", b.PRESCRIBER.id, b.local(2026, 12, 7, 8), b.local(2026, 12, 7, 10)),
        b.hold("room", b.DOSING_ROOM.id, b.local(2026, 12, 8, 11), b.local(2026, 12, 8, 13)),
        b.hold("patient", b.PATIENT, b.local(2026, 12, 9, 12), b.local(2026, 12, 9, 13)),
    )
    away = b.person(
        "Nia Nurse", Role.NURSE, away=((b.local(2026, 12, 8, 0), b.local(2026, 12, 9, 0)),)
    )
    staff = (away, b.THERAPIST, b.PRESCRIBER)
    busy = (*busy, b.hold("staff", away.id, b.local(2026, 12, 7, 9), b.local(2026, 12, 7, 12)))
    space = available(staff=staff, holds=busy)
    window = (MONDAY_MORNING, MONDAY_MORNING + 3 * DAY)
    step = timedelta(minutes=30)

    found = slots.search(space, DOSING, window=window, now=b.NOW, step=step, limit=500)

    rooms = {r.id: r for r in space.rooms}
    for slot in found:
        assert (
            violations_of(space, DOSING, slot.starts_at, rooms[slot.room_id], slot.staff_ids) == []
        )
    offered = {slot.starts_at for slot in found}
    for start in grid(*window[:1], 3, step):
        assert (start in offered) == bookable_somehow(space, DOSING, start), start
    # Monday morning: the nurse is held and the prescriber fills in from 10:00.
    monday = [s for s in found if s.starts_at.date() == date(2026, 12, 7)]
    assert monday[0].starts_at == b.local(2026, 12, 7, 10)
    assert monday[0].staff_ids == (b.PRESCRIBER.id, b.THERAPIST.id)


def test_the_care_team_is_asked_before_other_staff():
    stranger = b.person("Sam Nurse", Role.NURSE)
    space = available(staff=(stranger, b.NURSE, b.THERAPIST), team=(b.NURSE, b.THERAPIST))
    (slot,) = slots.search(
        space, DOSING, window=(MONDAY_MORNING, MONDAY_MORNING + DAY), now=b.NOW, limit=1
    )
    assert slot.staff_ids == (b.NURSE.id, b.THERAPIST.id)


def _people_by_matching_every_free_person(space, session_type, suited, starts_at, until):
    """Who _free_people picks, as it picked before its one-role shortcut: every free
    person listed, then match_roles over all of them."""
    ends_at = starts_at + timedelta(minutes=session_type.duration_minutes)
    free = [
        (member.id, member.roles)
        for member, key in suited.staff
        if space.busy_until(key, starts_at, until) is None
        and slots._covered(space.working_of(member), starts_at, ends_at)
        and not slots._away(member, starts_at, ends_at)
    ]
    requirements = session_type.required_roles
    filled = match_roles(requirements, free)
    if len(filled) < len(requirements):
        return None
    return tuple(filled[i] for i in range(len(requirements)))


@settings(max_examples=60, deadline=None)
@given(
    people=st.lists(
        st.tuples(
            st.sets(st.sampled_from([Role.NURSE, Role.THERAPIST, Role.PRESCRIBER]), min_size=1),
            st.sets(st.integers(min_value=7, max_value=17), max_size=3),
            st.booleans(),
            st.booleans(),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_the_people_chosen_are_those_matching_every_free_person_gives(people):
    staff, busy = [], []
    for index, (roles, held_hours, away, on_team) in enumerate(people):
        off = ((b.local(2026, 12, 7, 12), b.local(2026, 12, 7, 14)),) if away else ()
        member = b.person(f"P{index}{'T' if on_team else ''}", *roles, away=off)
        staff.append(member)
        busy += [b.hold("staff", member.id, b.local(2026, 12, 7, h), b.local(2026, 12, 7, h + 1))
                 for h in held_hours]  # fmt: skip
    team = [m for m in staff if m.name.endswith("T")]
    space = available(staff=tuple(staff), team=tuple(team), holds=tuple(busy))
    for kind in (DOSING, PREPARATION, SessionKind.INTEGRATION):
        session_type = space.course.definition.session_type(kind)
        suited = space.suited(session_type)
        for starts_at in grid(MONDAY_MORNING + timedelta(hours=7), 1, timedelta(minutes=30)):
            until = held_until(session_type, starts_at)
            session = (starts_at, starts_at + timedelta(minutes=session_type.duration_minutes))
            chosen = slots._free_people(space, session_type, suited, session, until)
            chosen_ids = None if chosen is None else tuple(member.id for member in chosen)
            assert chosen_ids == _people_by_matching_every_free_person(
                space, session_type, suited, starts_at, until
            )


@settings(max_examples=200, deadline=None)
@given(
    spans=st.lists(
        st.tuples(st.integers(min_value=0, max_value=200), st.integers(min_value=1, max_value=30)),
        max_size=12,
    )
)
def test_busy_spans_are_the_holds_merged_as_merge_ranges_merges_them(spans):
    at = [(MONDAY_MORNING + m * MINUTE, MONDAY_MORNING + (m + n) * MINUTE) for m, n in spans]
    held = sorted(
        (b.hold("room", b.DOSING_ROOM.id, *span) for span in at), key=lambda h: h.starts_at
    )
    merged = merge_ranges((h.starts_at, h.ends_at) for h in held)
    assert busy_spans(held) == ([s for s, _ in merged], [e for _, e in merged])


def test_no_room_of_the_right_kind_or_a_missing_role_means_no_slot():
    window = (MONDAY_MORNING, MONDAY_MORNING + 2 * DAY)
    assert slots.search(available(rooms=(b.THERAPY_ROOM,)), DOSING, window=window, now=b.NOW) == []
    assert (
        slots.search(available(staff=(b.NURSE, b.PRESCRIBER)), DOSING, window=window, now=b.NOW)
        == []
    )


def test_the_protocols_rules_shape_the_slots():
    # The first dose was on Monday: the next may start 48 hours later at the earliest.
    dose = b.session(DOSING, b.local(2026, 12, 7, 9))
    space = available(course=b.state(*b.ready_course(), dose))
    found = slots.search(
        space, DOSING, window=(MONDAY_MORNING + DAY, MONDAY_MORNING + 4 * DAY), now=b.NOW
    )
    assert found == []  # no integration session after it yet (IM KAP needs one first)
    integration = b.session(SessionKind.INTEGRATION, b.local(2026, 12, 8, 13))
    space = available(course=b.state(*b.ready_course(), dose, integration))
    # Past 48 hours and the integration, but IM KAP doses weekly: course week 1 has its dose.
    week_one = (MONDAY_MORNING + DAY, MONDAY_MORNING + 4 * DAY)
    assert slots.search(space, DOSING, window=week_one, now=b.NOW) == []
    twice_weekly = replace(
        b.IM_KAP,
        sequencing=replace(b.IM_KAP.sequencing, phases=(Phase("Twice weekly", 1, 3, 2),)),
    )
    space = available(course=b.state(*b.ready_course(), dose, integration, definition=twice_weekly))
    (first,) = slots.search(space, DOSING, window=week_one, now=b.NOW, limit=1)
    assert first.starts_at == b.local(2026, 12, 9, 9)
    # Week 2 starts at the clinic's midnight a week after the first dose's day.
    (first,) = slots.search(
        available(course=b.state(*b.ready_course(), dose, integration)),
        DOSING,
        window=(MONDAY_MORNING + 4 * DAY, MONDAY_MORNING + 8 * DAY),
        now=b.NOW,
        limit=1,
    )
    assert first.starts_at == b.local(2026, 12, 14, 9)


def test_a_course_that_ended_refuses_the_search_naming_the_rule():
    ended = b.state(*b.ready_course(), status=b.CourseStatus.DISCONTINUED)
    with pytest.raises(RuleRefused) as refused:
        slots.search(
            available(course=ended),
            DOSING,
            window=(MONDAY_MORNING, MONDAY_MORNING + DAY),
            now=b.NOW,
        )
    assert [v.rule for v in refused.value.violations] == ["course_not_active"]


# --- over the database, across DST -------------------------------------------------------------


def _every_day(place) -> None:
    """Open 08-18 and everyone working 09-17, seven days a week (DST changes on Sundays)."""
    place.clinic.opening_hours = [
        OpeningHours(weekday=d, opens=time(8), closes=time(18)) for d in range(7)
    ]
    for member in (place.prescriber, place.nurse, place.therapist):
        member.working_hours = [
            WorkingHours(weekday=d, starts=time(9), ends=time(17)) for d in range(7)
        ]
    db.session.commit()


@pytest.mark.parametrize(
    ("zone", "change"),
    [
        ("America/New_York", date(2026, 3, 8)),  # clocks go forward
        ("America/New_York", date(2026, 11, 1)),  # clocks go back
        ("Europe/London", date(2026, 3, 29)),
        ("Europe/London", date(2026, 10, 25)),
        ("Australia/Sydney", date(2026, 4, 5)),  # clocks go back
        ("Australia/Sydney", date(2026, 10, 4)),  # clocks go forward
    ],
)
def test_slots_follow_the_clinics_clocks_across_a_dst_change(
    make_place, make_patient, make_course, caller_of, zone, change
):
    tz = ZoneInfo(zone)
    now = datetime.combine(change - timedelta(days=4), time(12), tz)
    clock.freeze(now)
    where = make_place(name=f"Clinic {zone} {change}", time_zone=zone)
    _every_day(where)
    course = make_course(ESKETAMINE_KEY, on=make_patient(where.clinic), at=where)
    starts_from = datetime.combine(change - timedelta(days=1), time(0), tz)
    until = datetime.combine(change + timedelta(days=2), time(0), tz)

    found = availability_service.find_slots(
        course=course,
        kind=DOSING,
        starts_from=starts_from,
        until=until,
        now=now,
        step=timedelta(hours=1),
        limit=100,
    )

    by_day: dict[date, list[str]] = {}
    offsets = set()
    for slot in found:
        local = slot.starts_at.astimezone(tz)
        by_day.setdefault(local.date(), []).append(f"{local:%H:%M}")
        offsets.add(local.utcoffset())
    # A 150-minute dose (30 minutes' buffer) with the prescriber working 09-17, every day.
    hours = [f"{h:02d}:00" for h in range(9, 15)]
    assert by_day == {change - timedelta(days=1): hours, change: hours, change + DAY: hours}
    assert len(offsets) == 2  # the same wall-clock hours at two different UTC offsets
    booked = service.book(
        course_id=course.id,
        kind=DOSING,
        starts_at=found[len(hours)].starts_at,  # the first on the day the clocks change
        room_id=found[len(hours)].room_id,
        staff_ids=found[len(hours)].staff_ids,
        by=caller_of(where.front_desk),
        now=now,
    )
    assert booked.starts_at.astimezone(tz).time() == time(9)


def test_the_search_reads_holds_from_the_database(place, course, caller_of, now):
    book_preparations(place, course, by=caller_of(place.front_desk), now=now)
    found = availability_service.find_slots(
        course=course, kind=DOSING, starts_from=at(0, 0), until=at(1, 0), now=now
    )
    # A first dose starts after both preparations, once the patient and the therapist
    # are free (held until 14:10: the preparation's 10 minutes' buffer), and ends by 17:00.
    assert [f"{s.starts_at.astimezone(ZoneInfo(b.ZONE)):%H:%M}" for s in found] == [
        "14:15",
        "14:30",
    ]


def test_the_window_is_checked(course, now):
    with pytest.raises(InvalidInput) as wide:
        availability_service.find_slots(
            course=course, kind=DOSING, starts_from=now, until=now + 32 * DAY, now=now
        )
    assert "to" in wide.value.errors
    with pytest.raises(InvalidInput) as backwards:
        availability_service.find_slots(
            course=course, kind=DOSING, starts_from=now, until=now, now=now
        )
    assert "to" in backwards.value.errors


# --- over HTTP -------------------------------------------------------------------------------


@pytest.fixture
def search(client, auth_headers, course):
    def call(who, course_id=None, **params: Any):
        params = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in params.items()}
        return client.get(
            f"{API}/courses/{course_id or course.id}/slots",
            query_string=params,
            headers=auth_headers(who.user),
        )

    return call


def test_a_slot_found_over_http_books(client, auth_headers, search, place, course, now):
    desk = place.front_desk
    answer = search(desk, kind="preparation", **{"from": at(0, 0), "to": at(1, 0)}, limit=3)
    assert answer.status_code == 200, answer.get_json()
    first, _second, _third = answer.get_json()
    assert first["local_starts_at"] == "2026-12-07T09:00:00-05:00"
    assert first["starts_at"] == "2026-12-07T14:00:00+00:00"
    assert first["room_id"] == str(place.therapy_room.id)
    assert first["staff_ids"] == [str(place.therapist.id)]
    booked = client.post(
        f"{API}/appointments",
        json={
            "course_id": str(course.id),
            "kind": "preparation",
            "starts_at": first["starts_at"],
            "room_id": first["room_id"],
            "staff_ids": first["staff_ids"],
        },
        headers=auth_headers(desk.user),
    )
    assert booked.status_code == 201, booked.get_json()


def test_slot_queries_are_checked_naming_the_field(search, place, course, other_place, now):
    desk = place.front_desk
    wide = search(desk, kind="dosing", **{"from": now, "to": now + 40 * DAY})
    assert wide.status_code == 422 and wide.mimetype == PROBLEM
    assert "to" in wide.get_json()["errors"]
    assert "kind" in search(desk, **{"from": now, "to": now + DAY}).get_json()["errors"]
    naive = search(desk, kind="dosing", **{"from": "2026-12-07T09:00:00", "to": now + DAY})
    assert naive.status_code == 422 and "from" in naive.get_json()["errors"]
    assert (
        search(desk, kind="dosing", step_minutes=1, **{"from": now, "to": now + DAY}).status_code
        == 422
    )
    elsewhere = search(other_place.front_desk, kind="dosing", **{"from": now, "to": now + DAY})
    assert elsewhere.status_code == 404
    unknown = search(desk, course_id=uuid.uuid4(), kind="dosing", **{"from": now, "to": now + DAY})
    assert unknown.status_code == 404


def test_a_kind_the_protocol_lacks_is_refused(search, place, make_course, make_patient, now):
    course = make_course(ESKETAMINE_KEY, on=make_patient(place.clinic))
    answer = search(
        place.front_desk, course_id=course.id, kind="preparation", **{"from": now, "to": now + DAY}
    )
    assert answer.status_code == 422 and "kind" in answer.get_json()["errors"]
