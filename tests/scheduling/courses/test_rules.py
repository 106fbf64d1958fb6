"""The protocol's sequencing rules at booking, moving and cancelling: dose spacing, the
rolling 7-day limit, the dose count, preparations before the first dose, integration
inside its window and before the next dose, the phases' frequency by course week."""

from __future__ import annotations

import random
import uuid
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from kapt_api.protocols.definition import SessionKind
from kapt_api.scheduling.booking import rules
from kapt_api.scheduling.courses.readiness_flags import READINESS_RULES
from kapt_api.scheduling.courses.rules import (
    doses_preparations_integrations,
    readiness_findings,
    schedule_findings,
    scheduled,
)
from kapt_api.scheduling.courses.values import AppointmentStatus, CourseSession
from tests.scheduling.builders import (
    DOSING,
    ESKETAMINE,
    ESKETAMINE_12,
    IM_KAP,
    INTEGRATION,
    MONDAY,
    NOW,
    PREPARATION,
    PRESCRIBER,
    THERAPIST,
    THERAPY_ROOM,
    ZONE,
    calendar,
    local,
    ready_course,
    request,
    session,
    state,
)

H = timedelta(hours=1)
DAY = timedelta(days=1)
DOSE_END = timedelta(minutes=150)


def codes(violations) -> list[str]:
    return [v.rule for v in violations]


def dose_check(starts_at, *sessions, definition=IM_KAP, now=NOW):
    course = state(*sessions, definition=definition)
    staff = (PRESCRIBER,) if definition in (ESKETAMINE, ESKETAMINE_12) else None
    req = request(DOSING, starts_at, staff=staff) if staff else request(DOSING, starts_at)
    return rules.booking_violations(req, course, calendar(), now=now)


def integration_check(starts_at, *sessions, appointment_id=None):
    req = request(
        INTEGRATION, starts_at, room=THERAPY_ROOM, staff=(THERAPIST,), appointment_id=appointment_id
    )
    return rules.booking_violations(req, state(*sessions), calendar(room=THERAPY_ROOM), now=NOW)


def esketamine_doses(*days: float) -> list[CourseSession]:
    return [session(DOSING, MONDAY + d * DAY, ESKETAMINE) for d in days]


# --- spacing and counts (esketamine: 48 h apart, at most 2 in 7 days, 12 doses) -----------------


def test_a_dose_less_than_48_hours_after_the_last_is_too_soon():
    found = dose_check(MONDAY + 47 * H, *esketamine_doses(0), definition=ESKETAMINE)
    assert codes(found) == ["too_soon_after_previous_dose"]
    assert "47 hours apart" in found[0].message and "at least 48 hours" in found[0].message
    assert found[0].details["min_hours_between_doses"] == 48


def test_exactly_48_hours_is_enough():
    assert dose_check(MONDAY + 48 * H, *esketamine_doses(0), definition=ESKETAMINE) == []


def test_a_dose_booked_before_an_existing_one_is_too_soon_as_well():
    later = esketamine_doses(3)
    found = dose_check(MONDAY + 3 * DAY - 24 * H, *later, definition=ESKETAMINE)
    assert codes(found) == ["too_soon_after_previous_dose"]
    assert found[0].details["appointment_ids"] == [str(later[0].id)]


def test_a_third_dose_inside_7_days_breaks_the_weekly_limit():
    found = dose_check(MONDAY + 4 * DAY, *esketamine_doses(0, 2), definition=ESKETAMINE)
    # Three in course week 1, where the induction allows two, breaks its phase too.
    assert codes(found) == ["weekly_dose_limit", "phase_frequency"]
    assert "3 doses would fall within 7 days" in found[0].message
    assert "at most 2 in any 7 consecutive calendar days on the clinic's clocks" in (
        found[0].message
    )
    assert found[0].details["max_doses_per_7_days"] == 2


def test_the_rolling_window_is_7_clinic_calendar_days_from_any_dose_day():
    doses = esketamine_doses(0, 2)
    # Next Monday at 09:00 is 167 hours after Monday's 10:00 dose, on the 8th day.
    assert dose_check(MONDAY + 7 * DAY - H, *doses, definition=ESKETAMINE) == []
    # Sunday at 23:00 New York is Monday in UTC, and still the 7th day on the clinic's.
    late_sunday = session(DOSING, MONDAY + 6 * DAY + 13 * H, ESKETAMINE)
    found = schedule_findings(ESKETAMINE, [*doses, late_sunday], ZONE)
    (limit,) = [f for f in found if f.rule == "weekly_dose_limit"]
    assert limit.details["counted_in"] == "7 consecutive calendar days on the clinic's clocks"
    assert "from Mon 7 Dec 2026 to Sun 13 Dec 2026" in limit.message


def test_a_dose_squeezed_between_two_others_breaks_spacing_on_both_sides():
    found = dose_check(MONDAY + 47 * H, *esketamine_doses(0, 3), definition=ESKETAMINE)
    assert codes(found) == [
        "too_soon_after_previous_dose",
        "too_soon_after_previous_dose",
        "weekly_dose_limit",
        "phase_frequency",
    ]


def test_a_dose_past_the_course_count_is_refused():
    twelve = esketamine_doses(*[3.5 * i for i in range(12)])
    found = dose_check(MONDAY + 60 * DAY, *twelve, definition=ESKETAMINE_12)
    assert codes(found) == ["course_dose_limit"]
    assert found[0].details["dose_count"] == 12
    assert "this would make 13" in found[0].message


def test_cancelled_and_no_show_doses_do_not_count():
    gone = [
        session(DOSING, MONDAY, ESKETAMINE, AppointmentStatus.CANCELLED),
        session(DOSING, MONDAY + DAY, ESKETAMINE, AppointmentStatus.NO_SHOW),
    ]
    assert dose_check(MONDAY + 25 * H, *gone, definition=ESKETAMINE) == []


def test_completed_doses_count():
    done = session(DOSING, MONDAY, ESKETAMINE, AppointmentStatus.COMPLETED)
    assert codes(dose_check(MONDAY + DAY, done, definition=ESKETAMINE)) == [
        "too_soon_after_previous_dose"
    ]


# --- preparations (IM KAP: 2 before the first dose) -------------------------------------------


def test_a_first_dose_needs_its_preparations_finished_before_it():
    one = session(PREPARATION, MONDAY - 2 * DAY)
    found = dose_check(MONDAY, one)
    assert codes(found) == ["preparation_incomplete"]
    assert found[0].details["preparation_sessions_required"] == 2
    assert found[0].details["before_first_dose"] == 1


def test_a_preparation_after_the_first_dose_does_not_count():
    found = dose_check(
        MONDAY, session(PREPARATION, MONDAY - DAY), session(PREPARATION, MONDAY + DAY)
    )
    assert codes(found) == ["preparation_incomplete"]


def test_a_preparation_that_ends_as_the_dose_starts_counts():
    preps = (session(PREPARATION, MONDAY - DAY), session(PREPARATION, MONDAY - H))
    assert dose_check(MONDAY, *preps) == []


def test_moving_a_preparation_after_the_first_dose_is_refused():
    preps = ready_course()
    dose = session(DOSING, MONDAY)
    moved = request(
        PREPARATION,
        MONDAY + DAY,
        room=THERAPY_ROOM,
        staff=(THERAPIST,),
        appointment_id=preps[1].id,
    )
    found = rules.booking_violations(
        moved, state(*preps, dose), calendar(room=THERAPY_ROOM), now=NOW
    )
    assert codes(found) == ["preparation_incomplete"]
    assert found[0].details["appointment_ids"] == [str(dose.id)]


def test_booking_a_dose_earlier_than_the_first_needs_preparations_before_it():
    preps = ready_course()
    first = session(DOSING, MONDAY)
    found = dose_check(MONDAY - 4 * DAY, *preps, first)
    assert "preparation_incomplete" in codes(found)


# --- integration (IM KAP: 24-72 h after a dose ends, finished before the next dose) -----------


def test_an_integration_inside_the_window_after_a_dose_is_fine():
    dose = session(DOSING, MONDAY)
    assert integration_check(MONDAY + DOSE_END + 24 * H, *ready_course(), dose) == []
    assert integration_check(MONDAY + DOSE_END + 72 * H, *ready_course(), dose) == []


def test_an_integration_too_early_or_too_late_is_outside_the_window():
    dose = session(DOSING, MONDAY)
    for starts_at in (MONDAY + DOSE_END + 23 * H, MONDAY + DOSE_END + 73 * H):
        found = integration_check(starts_at, *ready_course(), dose)
        assert codes(found) == ["integration_outside_window"]
        assert found[0].details["window_hours"] == {"start": 24, "end": 72}
        assert "24 to 72 hours after the dose ends" in found[0].message


def test_an_integration_with_no_dose_before_it_is_outside_any_window():
    found = integration_check(MONDAY, *ready_course())
    assert codes(found) == ["integration_outside_window"]
    assert "no dose before it" in found[0].message


def test_the_next_dose_needs_the_last_doses_integration_booked():
    first = session(DOSING, MONDAY)
    found = dose_check(MONDAY + 7 * DAY, *ready_course(), first)
    assert codes(found) == ["integration_missing"]
    assert found[0].details["appointment_ids"] == [str(first.id)]


def test_the_integration_must_finish_before_the_next_dose():
    first = session(DOSING, MONDAY)
    integration = session(INTEGRATION, MONDAY + DOSE_END + 48 * H)
    assert dose_check(MONDAY + 7 * DAY, *ready_course(), first, integration) == []
    # A next dose that starts before the integration ends leaves the first dose without it.
    found = dose_check(
        MONDAY + DOSE_END + 48 * H + 30 * timedelta(minutes=1), *ready_course(), first, integration
    )
    assert "integration_missing" in codes(found)


def test_cancelling_a_preparation_a_booked_dose_needs_is_accepted_the_dose_is_flagged():
    # Issue 12: the patient is not coming whatever we answer; readiness_flags flags the
    # dose (tests/scheduling/courses/test_readiness_flags.py) and its check-in asks for an override.
    preps = ready_course()
    dose = session(DOSING, MONDAY)
    assert rules.cancellation_violations(preps[0].id, state(*preps, dose), zone=ZONE) == []


def test_cancelling_the_integration_between_two_doses_is_accepted_the_next_is_flagged():
    first, second = session(DOSING, MONDAY), session(DOSING, MONDAY + 7 * DAY)
    integration = session(INTEGRATION, MONDAY + 2 * DAY)
    course = state(*ready_course(), first, integration, second)
    assert rules.cancellation_violations(integration.id, course, zone=ZONE) == []


def test_cancelling_a_dose_its_integration_follows_is_refused():
    dose = session(DOSING, MONDAY)
    integration = session(INTEGRATION, MONDAY + 2 * DAY)
    found = rules.cancellation_violations(
        dose.id, state(*ready_course(), dose, integration), zone=ZONE
    )
    assert codes(found) == ["integration_outside_window"]
    assert found[0].details["appointment_ids"] == [str(integration.id)]


def test_cancelling_the_last_session_of_a_chain_is_fine():
    dose = session(DOSING, MONDAY)
    integration = session(INTEGRATION, MONDAY + 2 * DAY)
    course = state(*ready_course(), dose, integration)
    assert rules.cancellation_violations(integration.id, course, zone=ZONE) == []


def test_a_finding_overridden_earlier_is_not_the_next_bookings_doing():
    # Three doses in 7 days, the third booked earlier with an override.
    doses = esketamine_doses(0, 2, 4)
    follow_up = request(DOSING, MONDAY + 21 * DAY, staff=(PRESCRIBER,))
    course = state(*doses, definition=ESKETAMINE)
    assert rules.booking_violations(follow_up, course, calendar(), now=NOW) == []
    # Moving one of the three keeps it: the finding is about the moved dose.
    moved = request(DOSING, MONDAY + 4 * DAY + H, staff=(PRESCRIBER,), appointment_id=doses[2].id)
    assert codes(rules.booking_violations(moved, course, calendar(), now=NOW)) == [
        "weekly_dose_limit",
        "phase_frequency",
    ]


# --- properties ---------------------------------------------------------------------------------

offsets = st.lists(st.integers(min_value=0, max_value=60 * 24), min_size=0, max_size=8)


@settings(max_examples=60, deadline=None)
@given(dose_hours=offsets, preparation_hours=offsets, integration_hours=offsets)
def test_findings_do_not_depend_on_the_order_sessions_come_in(
    dose_hours, preparation_hours, integration_hours
):
    sessions = [
        *(session(DOSING, MONDAY + h * H) for h in dose_hours),
        *(session(PREPARATION, MONDAY + h * H) for h in preparation_hours),
        *(session(INTEGRATION, MONDAY + h * H) for h in integration_hours),
    ]
    shuffled = sessions[:]
    random.Random(len(sessions)).shuffle(shuffled)
    assert set(schedule_findings(IM_KAP, sessions, ZONE)) == set(
        schedule_findings(IM_KAP, shuffled, ZONE)
    )


@settings(max_examples=60, deadline=None)
@given(
    dose_hours=offsets,
    preparation_hours=offsets,
    integration_hours=offsets,
    definition=st.sampled_from([IM_KAP, ESKETAMINE]),
)
def test_readiness_findings_are_the_schedules_findings_of_the_readiness_rules(
    dose_hours, preparation_hours, integration_hours, definition
):
    sessions = [
        *(session(DOSING, MONDAY + h * H) for h in dose_hours),
        *(session(PREPARATION, MONDAY + h * H) for h in preparation_hours),
        *(session(INTEGRATION, MONDAY + h * H) for h in integration_hours),
    ]
    assert set(readiness_findings(definition, sessions, ZONE)) == {
        f for f in schedule_findings(definition, sessions, ZONE) if f.rule in READINESS_RULES
    }


@settings(max_examples=60, deadline=None)
@given(gaps=st.lists(st.integers(min_value=1, max_value=200), min_size=1, max_size=6))
def test_spacing_is_broken_exactly_when_two_consecutive_doses_are_closer_than_48_hours(gaps):
    starts = [MONDAY]
    for gap in gaps:
        starts.append(starts[-1] + gap * H)
    doses = [CourseSession(uuid.uuid4(), DOSING, s, s + DOSE_END) for s in starts]
    found = [
        f
        for f in schedule_findings(ESKETAMINE, doses, ZONE)
        if f.rule == "too_soon_after_previous_dose"
    ]
    assert len(found) == sum(gap < 48 for gap in gaps)


# --- phase frequency by course week -------------------------------------------------------------


def label_schedule(weeks: int = 8) -> list[CourseSession]:
    """Esketamine as the label gives it: Monday and Thursday in weeks 1-4, Monday after."""
    days = [d + 7 * w for w in range(min(weeks, 4)) for d in (0, 3)]
    days += [7 * w for w in range(4, weeks)]
    return esketamine_doses(*days)


def findings_of(definition, *sessions, zone=ZONE):
    return schedule_findings(definition, sessions, zone)


def test_the_labels_schedule_breaks_no_phase():
    assert findings_of(ESKETAMINE, *label_schedule()) == []


def test_a_second_dose_in_a_weekly_week_breaks_the_phase_and_says_which():
    schedule = label_schedule(6)
    thursday = session(DOSING, MONDAY + 5 * 7 * DAY + 3 * DAY, ESKETAMINE)  # week 6, after Monday
    (found,) = findings_of(ESKETAMINE, *schedule, thursday)
    assert found.rule == "phase_frequency"
    assert found.subjects == {schedule[-1].id, thursday.id}
    assert found.message == (
        "The phase Maintenance, weekly (weeks 5-8) allows 1 dose a week; week 6 "
        "(Mon 11 Jan 2027 to Sun 17 Jan 2027) would hold 2: Mon 11 Jan 2027 10:00 and "
        "Thu 14 Jan 2027 10:00. "
        "Course weeks are 7 clinic calendar days counted from the day of the first dose "
        "(Mon 7 Dec 2026)."
    )
    assert found.details["weeks"] == {"first": 6, "last": 6}
    assert found.details["days"] == {"first": "2027-01-11", "last": "2027-01-17"}
    assert not rules.override_problems(["phase_frequency"])


def test_twice_weekly_weeks_take_two_and_refuse_a_third():
    first_week = esketamine_doses(0, 2)
    assert findings_of(ESKETAMINE, *first_week) == []
    third = session(DOSING, MONDAY + 4 * DAY + 12 * H, ESKETAMINE)  # Saturday 22:00
    assert "phase_frequency" in codes(
        f.violation() for f in findings_of(ESKETAMINE, *first_week, third)
    )


def test_a_course_week_is_seven_clinic_calendar_days_not_168_hours():
    # First dose Monday 2 March 2026, 09:00 in New York; the clocks go forward on Sunday
    # 8 March, so Monday 9 March 00:30 is less than 7 x 24 h later but in week 2.
    first = session(DOSING, local(2026, 3, 2, 9), IM_KAP)
    sunday_night = session(DOSING, local(2026, 3, 8, 23, 30), IM_KAP)
    monday_early = session(DOSING, local(2026, 3, 9, 0, 30), IM_KAP)
    assert monday_early.starts_at - first.starts_at < 7 * DAY
    weekly = {"phase_frequency"}
    assert weekly <= {f.rule for f in findings_of(IM_KAP, first, sunday_night)}
    assert not weekly & {f.rule for f in findings_of(IM_KAP, first, monday_early)}


def test_the_week_counts_from_the_first_dose_that_counts():
    cancelled = session(DOSING, MONDAY - 3 * DAY, ESKETAMINE, AppointmentStatus.CANCELLED)
    # Without the cancelled Friday dose, Monday starts week 1; Monday and Wednesday fit it.
    assert findings_of(ESKETAMINE, cancelled, *esketamine_doses(0, 2)) == []


def test_a_maintenance_course_books_past_its_fixed_doses_at_the_maintenance_frequency():
    schedule = label_schedule(8)
    ninth_week = session(DOSING, MONDAY + 8 * 7 * DAY, ESKETAMINE)
    tenth_week = session(DOSING, MONDAY + 9 * 7 * DAY, ESKETAMINE)
    assert findings_of(ESKETAMINE, *schedule, ninth_week, tenth_week) == []
    assert codes(f.violation() for f in findings_of(ESKETAMINE_12, *schedule, ninth_week)) == [
        "course_dose_limit"
    ]
    same_week = session(DOSING, MONDAY + 9 * 7 * DAY + 3 * DAY, ESKETAMINE)
    (found,) = findings_of(ESKETAMINE, *schedule, ninth_week, tenth_week, same_week)
    assert found.rule == "phase_frequency"
    assert found.message.startswith(
        "The phase Maintenance, weekly or every 2 weeks (week 9 on) allows 1 dose a week; week 10 "
    )


def test_a_course_running_late_keeps_its_last_phases_pace():
    late = [session(DOSING, MONDAY + 7 * w * DAY, IM_KAP) for w in range(6)]
    eighth = session(DOSING, MONDAY + 7 * 7 * DAY, IM_KAP)
    assert "phase_frequency" not in {f.rule for f in findings_of(IM_KAP, *late[:5], eighth)}
    second = session(DOSING, MONDAY + 7 * 7 * DAY + 3 * DAY, IM_KAP)
    assert "phase_frequency" in {f.rule for f in findings_of(IM_KAP, *late[:4], eighth, second)}


@settings(max_examples=200, deadline=None)
@given(ids=st.lists(st.uuids(), min_size=2, max_size=8))
def test_a_session_id_orders_as_its_text_does(ids):
    """scheduled() breaks ties of start by id, as UUIDs: the order their text gave."""
    assert sorted(ids) == sorted(ids, key=str)


@settings(max_examples=200, deadline=None)
@given(
    picks=st.lists(
        st.tuples(
            st.sampled_from(list(SessionKind)),
            st.sampled_from(list(AppointmentStatus)),
            st.integers(min_value=0, max_value=5),
        ),
        max_size=10,
    )
)
def test_the_rules_one_pass_over_a_schedule_is_scheduled_of_each_kind(picks):
    """What schedule_findings reads in one pass is scheduled() of doses, preparations
    and integrations (same sessions, same order, ties of start included)."""
    sessions = [
        CourseSession(
            uuid.uuid4(), kind, MONDAY + hours * DAY / 24, MONDAY + (hours + 1) * DAY / 24, state
        )
        for kind, state, hours in picks
    ]
    kinds = (SessionKind.DOSING, SessionKind.PREPARATION, SessionKind.INTEGRATION)
    assert doses_preparations_integrations(sessions) == tuple(
        scheduled(sessions, kind) for kind in kinds
    )
