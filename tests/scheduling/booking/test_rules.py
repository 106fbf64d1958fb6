"""The booking rules over plain values: each rule code, the override split, moves,
cancellations, the status machine, and local times across DST."""

from __future__ import annotations

import itertools
from datetime import date, time, timedelta

import pytest

from kapt_api.auth.models import Role
from kapt_api.clinics.rules import WeeklyInterval
from kapt_api.errors import Violation
from kapt_api.scheduling.booking import resource_rules, status_rules
from kapt_api.scheduling.booking import rules as booking_rules
from kapt_api.scheduling.courses import staffing
from kapt_api.scheduling.courses.values import AppointmentStatus, CourseStatus
from tests.scheduling.builders import (
    DOSING,
    DOSING_ROOM,
    ESKETAMINE,
    IM_KAP,
    INTAKE,
    LONDON,
    MONDAY,
    NEW_YORK,
    NOW,
    NURSE,
    PATIENT,
    PREPARATION,
    PRESCRIBER,
    SYDNEY,
    THERAPIST,
    THERAPY_ROOM,
    calendar,
    hold,
    local,
    person,
    ready_course,
    request,
    session,
    state,
    week,
)

H = timedelta(hours=1)
DAY = timedelta(days=1)


def codes(violations: list[Violation]) -> list[str]:
    return [v.rule for v in violations]


def check(req, course=None, cal=None, now=NOW) -> list[Violation]:
    return booking_rules.booking_violations(
        req, course or state(*ready_course()), cal or calendar(), now=now
    )


# --- a clean booking --------------------------------------------------------------------------


def test_a_first_dose_after_the_preparations_breaks_nothing():
    assert check(request(DOSING, MONDAY)) == []


def test_every_rule_code_is_listed_once():
    assert len(set(booking_rules.BOOKING_RULES)) == len(booking_rules.BOOKING_RULES) == 22
    conflicts = {"staff_conflict", "room_conflict", "patient_conflict", "held_for_waitlist_offer"}
    assert conflicts == booking_rules.RESOURCE_RULES
    assert (
        booking_rules.RESOURCE_RULES
        | {"in_the_past", "course_not_active", "check_in_not_open", "before_previous_step"}
        == booking_rules.NOT_OVERRIDABLE
    )


# --- resources ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "resource", "rule"),
    [
        ("staff", NURSE.id, "staff_conflict"),
        ("room", DOSING_ROOM.id, "room_conflict"),
        ("patient", PATIENT, "patient_conflict"),
    ],
)
def test_a_resource_held_at_an_overlapping_time_is_a_conflict(kind, resource, rule):
    taken = hold(kind, resource, MONDAY + 2 * H, MONDAY + 4 * H)

    found = check(request(DOSING, MONDAY), cal=calendar(holds=(taken,)))

    assert codes(found) == [rule]
    assert found[0].details[f"{kind}_id"] == str(resource)
    assert found[0].details["conflicting_appointment_ids"] == [str(taken.appointment_id)]
    assert found[0].details["overridable"] is False
    assert "already" in found[0].message and "Mon 7 Dec 2026 12:00" in found[0].message


def test_the_buffer_after_a_session_is_held_too():
    # A 150-minute dose with a 30-minute buffer holds 10:00-13:00.
    taken = hold("room", DOSING_ROOM.id, MONDAY + 170 * timedelta(minutes=1), MONDAY + 5 * H)
    assert codes(check(request(DOSING, MONDAY), cal=calendar(holds=(taken,)))) == ["room_conflict"]


def test_a_hold_that_ends_when_the_session_starts_is_no_conflict():
    before = hold("staff", NURSE.id, MONDAY - 3 * H, MONDAY)
    after = hold("staff", NURSE.id, MONDAY + 3 * H, MONDAY + 5 * H)
    assert check(request(DOSING, MONDAY), cal=calendar(holds=(before, after))) == []


def test_other_peoples_holds_do_not_matter():
    other = hold("staff", PRESCRIBER.id, MONDAY, MONDAY + 3 * H)
    assert check(request(DOSING, MONDAY), cal=calendar(holds=(other,))) == []


def test_every_conflicting_resource_is_named():
    holds = (
        hold("staff", NURSE.id, MONDAY, MONDAY + H),
        hold("staff", THERAPIST.id, MONDAY, MONDAY + H),
        hold("room", DOSING_ROOM.id, MONDAY, MONDAY + H),
        hold("patient", PATIENT, MONDAY, MONDAY + H),
    )
    found = check(request(DOSING, MONDAY), cal=calendar(holds=holds))
    assert sorted(codes(found)) == sorted(
        ["staff_conflict", "staff_conflict", "room_conflict", "patient_conflict"]
    )


def test_a_moved_appointment_does_not_clash_with_its_own_holds():
    dose = session(DOSING, MONDAY)
    own = [
        hold("staff", NURSE.id, MONDAY, MONDAY + 3 * H),
        hold("patient", PATIENT, MONDAY, MONDAY + 3 * H),
    ]
    own = [type(h)(h.resource_key, h.starts_at, h.ends_at, dose.id) for h in own]
    moved = request(DOSING, MONDAY + H, appointment_id=dose.id)

    assert check(moved, state(*ready_course(), dose), calendar(holds=tuple(own))) == []


# --- hours and time off -------------------------------------------------------------------------


def test_a_session_starting_before_work_starts_is_outside_working_hours():
    found = check(request(DOSING, MONDAY.replace(hour=8, minute=30)))
    assert codes(found) == ["outside_working_hours", "outside_working_hours"]
    assert {v.details["staff_id"] for v in found} == {str(NURSE.id), str(THERAPIST.id)}
    assert "08:30-11:00 on Mon 7 Dec 2026" in found[0].message
    assert "09:00-17:00" in found[0].message


def test_a_session_running_past_closing_is_outside_clinic_hours():
    late_staff = (person("Late Nurse", Role.NURSE, hours=week("09:00", "20:00")),)
    late_staff += (person("Late Therapist", Role.THERAPIST, hours=week("09:00", "20:00")),)
    found = check(
        request(DOSING, MONDAY.replace(hour=16), staff=late_staff), cal=calendar(staff=late_staff)
    )
    assert codes(found) == ["outside_clinic_hours"]
    assert "open that day: 08:00-18:00" in found[0].message


def test_a_day_without_hours_is_outside_both():
    saturday = MONDAY + 5 * DAY
    found = check(request(DOSING, saturday))
    assert sorted(set(codes(found))) == ["outside_clinic_hours", "outside_working_hours"]
    assert "none that day" in found[-1].message


def test_working_hours_with_a_gap_do_not_cover_a_session_across_it():
    split = (*week("09:00", "11:00"), *week("12:00", "17:00"))
    nurse = person("Split Nurse", Role.NURSE, hours=split)
    found = check(
        request(DOSING, MONDAY, staff=(nurse, THERAPIST)), cal=calendar(staff=(nurse, THERAPIST))
    )
    assert codes(found) == ["outside_working_hours"]


def test_time_off_overlapping_the_session_is_named():
    away = person("Away Nurse", Role.NURSE, away=((MONDAY + H, MONDAY + 30 * H),))
    found = check(
        request(DOSING, MONDAY, staff=(away, THERAPIST)), cal=calendar(staff=(away, THERAPIST))
    )
    assert codes(found) == ["staff_time_off"]
    assert found[0].details["staff_id"] == str(away.id)
    assert "Away Nurse is away from Mon 7 Dec 2026 11:00" in found[0].message


def test_time_off_that_ended_before_the_session_is_fine():
    back = person("Back Nurse", Role.NURSE, away=((MONDAY - 30 * H, MONDAY),))
    assert (
        check(
            request(DOSING, MONDAY, staff=(back, THERAPIST)), cal=calendar(staff=(back, THERAPIST))
        )
        == []
    )


# --- room and roles -----------------------------------------------------------------------------


def test_a_dose_in_a_therapy_room_is_the_wrong_kind_of_room():
    found = check(request(DOSING, MONDAY, room=THERAPY_ROOM), cal=calendar(room=THERAPY_ROOM))
    assert codes(found) == ["wrong_room_kind"]
    assert found[0].details == {
        "room_id": str(THERAPY_ROOM.id),
        "needed": "dosing",
        "overridable": True,
    }


def test_a_dose_without_a_nurse_or_prescriber_misses_a_role():
    found = check(request(DOSING, MONDAY, staff=(THERAPIST,)))
    assert codes(found) == ["missing_role"]
    assert found[0].details["missing"] == [["nurse", "prescriber"]]
    assert "a nurse or a prescriber" in found[0].message


def test_one_person_cannot_fill_two_roles():
    both = person("Dual", Role.NURSE, Role.THERAPIST)
    found = check(request(DOSING, MONDAY, staff=(both,)), cal=calendar(staff=(both,)))
    assert codes(found) == ["missing_role"]


def test_roles_are_matched_whichever_order_the_people_come_in():
    both = person("Dual", Role.PRESCRIBER, Role.THERAPIST)
    nurse_only = person("Only Nurse", Role.NURSE)
    for staff in itertools.permutations((both, nurse_only)):
        assert check(request(DOSING, MONDAY, staff=staff), cal=calendar(staff=staff)) == []


def test_the_default_staff_fill_each_required_role_preferring_nurses_to_prescribers():
    dosing = IM_KAP.session_type(DOSING)
    team = [
        (PRESCRIBER.id, PRESCRIBER.roles),
        (THERAPIST.id, THERAPIST.roles),
        (NURSE.id, NURSE.roles),
    ]
    assert resource_rules.default_staff(dosing, team) == (THERAPIST.id, NURSE.id)
    assert resource_rules.default_staff(dosing, team[:2]) == (PRESCRIBER.id, THERAPIST.id)
    assert resource_rules.default_staff(IM_KAP.session_type(INTAKE), team) == (
        PRESCRIBER.id,
        THERAPIST.id,
    )


# --- time -------------------------------------------------------------------------------


def test_a_time_already_passed_is_in_the_past_and_nothing_about_notice():
    found = check(request(DOSING, NOW - H))
    assert "in_the_past" in codes(found)
    assert "minimum_notice" not in codes(found)
    assert found[0].details["overridable"] is False


def test_a_dose_inside_its_notice_is_refused_naming_the_earliest_start():
    found = check(request(DOSING, MONDAY), now=MONDAY - 23 * H)
    assert codes(found) == ["minimum_notice"]
    assert found[0].details["min_notice_hours"] == 24
    assert "earliest start now is Mon 7 Dec 2026 11:00" in found[0].message


def test_exactly_the_notice_is_enough():
    assert check(request(DOSING, MONDAY), now=MONDAY - 24 * H) == []


def test_moving_only_the_room_inside_the_notice_needs_no_notice():
    dose = session(DOSING, MONDAY)
    moved = request(DOSING, MONDAY, appointment_id=dose.id)
    assert check(moved, state(*ready_course(), dose), now=MONDAY - H) == []
    later = request(DOSING, MONDAY + H, appointment_id=dose.id)
    assert codes(check(later, state(*ready_course(), dose), now=MONDAY - H)) == ["minimum_notice"]


# --- course status and the pre-dose gate ---------------------------------------------------------


@pytest.mark.parametrize("status", [CourseStatus.COMPLETED, CourseStatus.DISCONTINUED])
def test_a_course_that_has_ended_takes_no_sessions(status):
    found = check(request(DOSING, MONDAY), state(*ready_course(), status=status))
    assert codes(found) == ["course_not_active"]
    assert status.value in found[0].message
    assert found[0].details["overridable"] is False


def test_a_hold_from_the_last_checklist_gates_the_next_dose_only():
    held = state(*ready_course(), hold="Blood pressure 172/104 before the last dose.")
    found = check(request(DOSING, MONDAY), held)
    assert codes(found) == ["pre_dose_gate"]
    assert "172/104" not in found[0].message  # the vital signs are the care team's
    assert found[0].details["overridable"] is True
    integration = request(PREPARATION, MONDAY, room=THERAPY_ROOM, staff=(THERAPIST,))
    assert check(integration, held, calendar(room=THERAPY_ROOM)) == []


def test_no_hold_no_gate():
    assert check(request(DOSING, MONDAY), state(*ready_course(), hold=None)) == []


# --- every broken rule at once ----------------------------------------------------------------


def test_a_request_breaking_many_rules_lists_them_all():
    sunday_early = local(2026, 12, 6, 7)
    found = check(
        request(DOSING, sunday_early, room=THERAPY_ROOM, staff=(THERAPIST,)),
        state(hold="Held."),
        calendar(
            room=THERAPY_ROOM, holds=(hold("patient", PATIENT, sunday_early, sunday_early + H),)
        ),
        now=sunday_early - H,
    )
    assert set(codes(found)) == {
        "minimum_notice",
        "patient_conflict",
        "outside_working_hours",
        "outside_clinic_hours",
        "wrong_room_kind",
        "missing_role",
        "pre_dose_gate",
        "preparation_incomplete",
    }
    assert all(v.message.endswith(".") for v in found)


# --- overrides ---------------------------------------------------------------------------------


def test_an_override_covers_the_rules_it_names_and_no_others():
    found = [
        Violation("weekly_dose_limit", "x"),
        Violation("minimum_notice", "y"),
        Violation("staff_conflict", "z"),
    ]
    decision = booking_rules.decide(found, ["weekly_dose_limit", "staff_conflict"])
    assert codes(list(decision.blocking)) == ["minimum_notice", "staff_conflict"]
    assert decision.overridden_rules == ["weekly_dose_limit"]


def test_without_an_override_everything_blocks():
    found = [Violation("weekly_dose_limit", "x")]
    assert booking_rules.decide(found).blocking == tuple(found)


@pytest.mark.parametrize("code", sorted(booking_rules.NOT_OVERRIDABLE))
def test_nobody_can_override_a_resource_conflict_the_past_or_an_ended_course(code):
    (problem,) = booking_rules.override_problems([code])
    assert problem.startswith(f"Nobody can override {code}:")


def test_overriding_an_unknown_code_is_refused_and_clinical_rules_are_fine():
    assert booking_rules.override_problems(["no_such_rule"]) == [
        "no_such_rule is not a booking rule."
    ]
    overridable = [c for c in booking_rules.BOOKING_RULES if c not in booking_rules.NOT_OVERRIDABLE]
    assert len(overridable) == 14
    assert booking_rules.override_problems(overridable) == []


# --- the status machine ------------------------------------------------------------------------

ALLOWED = {
    (AppointmentStatus.BOOKED, AppointmentStatus.CHECKED_IN),
    (AppointmentStatus.BOOKED, AppointmentStatus.CANCELLED),
    (AppointmentStatus.BOOKED, AppointmentStatus.NO_SHOW),
    (AppointmentStatus.CHECKED_IN, AppointmentStatus.IN_PROGRESS),
    (AppointmentStatus.IN_PROGRESS, AppointmentStatus.COMPLETED),
}


@pytest.mark.parametrize(
    ("current", "wanted"), list(itertools.product(AppointmentStatus, repeat=2))
)
def test_the_status_machine_allows_exactly_its_steps(current, wanted):
    refused = status_rules.transition_violation(current, wanted)
    if (current, wanted) in ALLOWED:
        assert refused is None
    else:
        assert refused is not None
        assert refused.details == {"current_status": current.value, "wanted_status": wanted.value}
        assert current.value.replace("_", " ") in refused.message


def test_a_final_status_says_so():
    refused = status_rules.transition_violation(
        AppointmentStatus.COMPLETED, AppointmentStatus.CANCELLED
    )
    assert refused is not None
    assert "completed is final" in refused.message


def test_a_cancellation_inside_the_notice_window_is_late():
    dosing = IM_KAP.session_type(DOSING)  # 48 hours' cancellation notice
    assert not status_rules.is_late_cancellation(dosing, MONDAY, now=MONDAY - 48 * H)
    assert status_rules.is_late_cancellation(dosing, MONDAY, now=MONDAY - 47 * H)
    assert status_rules.is_late_cancellation(dosing, MONDAY, now=MONDAY + H)


# --- local times and DST ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "day", "wall"),
    [
        (NEW_YORK, date(2026, 3, 8), time(2, 30)),
        (LONDON, date(2026, 3, 29), time(1, 30)),
        (SYDNEY, date(2026, 10, 4), time(2, 30)),
    ],
)
def test_a_local_time_the_clocks_skip_is_refused_as_nonexistent(zone, day, wall):
    found = booking_rules.local_instant(day, wall, zone)
    assert isinstance(found, Violation)
    assert found.rule == "nonexistent_local_time"
    assert "does not exist" in found.message and zone in found.message


@pytest.mark.parametrize(
    ("zone", "day", "wall"),
    [
        (NEW_YORK, date(2026, 11, 1), time(1, 30)),
        (LONDON, date(2026, 10, 25), time(1, 30)),
        (SYDNEY, date(2026, 4, 5), time(2, 30)),
    ],
)
def test_a_local_time_the_clocks_show_twice_is_refused_as_ambiguous(zone, day, wall):
    found = booking_rules.local_instant(day, wall, zone)
    assert isinstance(found, Violation)
    assert found.rule == "ambiguous_local_time"
    assert "twice" in found.message


def test_an_ordinary_local_time_is_one_instant():
    assert booking_rules.local_instant(date(2026, 12, 7), time(10), NEW_YORK) == MONDAY


# Fridays and Mondays around each 2026 transition, per zone.
AROUND_TRANSITIONS = [
    (NEW_YORK, date(2026, 3, 6), date(2026, 3, 9)),
    (NEW_YORK, date(2026, 10, 30), date(2026, 11, 2)),
    (LONDON, date(2026, 3, 27), date(2026, 3, 30)),
    (LONDON, date(2026, 10, 23), date(2026, 10, 26)),
    (SYDNEY, date(2026, 4, 3), date(2026, 4, 6)),
    (SYDNEY, date(2026, 10, 2), date(2026, 10, 5)),
]


def _therapy_at(zone: str, day: date, hour: int, minute: int):
    starts_at = local(day.year, day.month, day.day, hour, minute, zone)
    req = request(PREPARATION, starts_at, room=THERAPY_ROOM, staff=(THERAPIST,))
    course = state()
    cal = calendar(room=THERAPY_ROOM, zone=zone)
    return booking_rules.booking_violations(req, course, cal, now=starts_at - 30 * DAY)


@pytest.mark.parametrize(("zone", "friday", "monday"), AROUND_TRANSITIONS)
def test_a_nine_oclock_start_stays_inside_working_hours_on_both_sides_of_a_transition(
    zone, friday, monday
):
    assert _therapy_at(zone, friday, 9, 0) == []
    assert _therapy_at(zone, monday, 9, 0) == []


@pytest.mark.parametrize(("zone", "friday", "monday"), AROUND_TRANSITIONS)
def test_half_past_eight_is_outside_working_hours_on_both_sides_of_a_transition(
    zone, friday, monday
):
    for day in (friday, monday):
        assert codes(_therapy_at(zone, day, 8, 30)) == ["outside_working_hours"]


def test_working_hours_on_the_transition_day_itself_are_wall_clock_hours():
    sunday_hours = (WeeklyInterval(6, time(9), time(17)),)
    for zone, day in [(NEW_YORK, date(2026, 3, 8)), (NEW_YORK, date(2026, 11, 1))]:
        therapist = person("Sunday Therapist", Role.THERAPIST, hours=sunday_hours)
        cal = calendar(room=THERAPY_ROOM, staff=(therapist,), zone=zone, opening=sunday_hours)
        at_nine = local(day.year, day.month, day.day, 9, 0, zone)
        req = request(PREPARATION, at_nine, room=THERAPY_ROOM, staff=(therapist,))
        assert booking_rules.booking_violations(req, state(), cal, now=at_nine - 30 * DAY) == []
        early = request(
            PREPARATION, at_nine - 30 * timedelta(minutes=1), room=THERAPY_ROOM, staff=(therapist,)
        )
        found = booking_rules.booking_violations(early, state(), cal, now=at_nine - 30 * DAY)
        assert sorted(codes(found)) == ["outside_clinic_hours", "outside_working_hours"]


# --- the care team of a course ------------------------------------------------------------------


def _team(**members):
    return {field: (m.id, m.roles) if m else None for field, m in members.items()}


def test_a_care_team_that_can_staff_every_session_type_is_fine():
    team = _team(prescriber_id=PRESCRIBER, therapist_id=THERAPIST, nurse_id=None)
    assert staffing.care_team_errors(team, IM_KAP) == {}
    assert staffing.care_team_errors(_team(prescriber_id=PRESCRIBER), ESKETAMINE) == {}


def test_a_care_team_member_must_hold_the_role_of_their_field():
    team = _team(prescriber_id=NURSE, therapist_id=THERAPIST)
    errors = staffing.care_team_errors(team, IM_KAP)
    assert errors["care_team.prescriber_id"] == ["This staff member is not a prescriber."]


def test_a_care_team_without_a_therapist_cannot_staff_kap_sessions():
    errors = staffing.care_team_errors(_team(prescriber_id=PRESCRIBER, nurse_id=NURSE), IM_KAP)
    assert any("preparation sessions: they also need a therapist" in m for m in errors["care_team"])
