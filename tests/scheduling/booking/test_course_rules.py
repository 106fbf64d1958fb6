"""The course's part of the booking rules (rules.course_rules), worked out once and used
for many requests as a slot search does, says exactly what working it out again for each
request says (rules.booking_violations): bookings and moves, any course status, a held
dose, a schedule that breaks rules already."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kapt_api.scheduling.booking import rules
from kapt_api.scheduling.courses.values import AppointmentStatus, CourseStatus
from tests.scheduling import builders as b

H = timedelta(hours=1)
hours = st.integers(min_value=-24 * 7, max_value=24 * 21)
placed_sessions = st.lists(
    st.tuples(
        st.sampled_from(["dosing", "preparation", "integration"]),
        hours,
        st.sampled_from(list(AppointmentStatus)),
    ),
    max_size=8,
)
asked = st.lists(st.tuples(hours, st.integers(min_value=0, max_value=40)), min_size=1, max_size=8)
placements = [
    (b.DOSING_ROOM, (b.NURSE, b.THERAPIST)),
    (b.THERAPY_ROOM, (b.THERAPIST,)),
    (b.DOSING_ROOM, (b.PRESCRIBER,)),
]


@settings(max_examples=80, deadline=None)
@given(
    placed=placed_sessions,
    requests=asked,
    definition=st.sampled_from([b.IM_KAP, b.ESKETAMINE]),
    status=st.sampled_from(list(CourseStatus)),
    held=st.sampled_from([None, "held"]),
    kind_name=st.sampled_from(["dosing", "preparation", "integration"]),
    busy=st.lists(hours, max_size=3),
)
def test_the_course_part_worked_out_once_says_what_each_request_would(
    placed, requests, definition, status, held, kind_name, busy
):
    kinds = {t.kind.value: t.kind for t in definition.session_types}
    sessions = [
        b.session(kinds[name], b.MONDAY + h * H, definition, status_)
        for name, h, status_ in placed
        if name in kinds
    ]
    course = b.state(*sessions, definition=definition, status=status, hold=held)
    kind = kinds.get(kind_name, next(iter(kinds.values())))
    known = rules.course_rules(course, kind, b.ZONE)
    therapist = b.THERAPIST.id
    holds = tuple(
        b.hold("staff", therapist, b.MONDAY + h * H, b.MONDAY + (h + 2) * H) for h in busy
    )
    for offset, pick in requests:
        room, staff = placements[pick % len(placements)]
        # Some requests move one of the course's sessions (pick names it), most book anew.
        moved = sessions[pick].id if pick < len(sessions) else None
        req = b.request(kind, b.MONDAY + offset * H, room=room, staff=staff, appointment_id=moved)
        cal = b.calendar(room=room, holds=holds)
        assert rules.request_violations(req, known, cal, now=b.NOW) == rules.booking_violations(
            req, course, cal, now=b.NOW
        )


def test_the_course_part_of_another_kind_or_zone_is_refused():
    known = rules.course_rules(b.state(), b.DOSING, b.ZONE)
    with pytest.raises(ValueError, match="another kind or zone"):
        rules.request_violations(b.request(b.PREPARATION, b.MONDAY), known, b.calendar(), now=b.NOW)
    with pytest.raises(ValueError, match="another kind or zone"):
        london = b.calendar(zone="Europe/London")
        rules.request_violations(b.request(b.DOSING, b.MONDAY), known, london, now=b.NOW)
