"""A dose's readiness flags, from the course rules' findings on the current schedule: the
first dose without its preparations, a dose after one left without its integration
session; only doses not yet given, only counted sessions (issue 12 item 3)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from kapt_api.scheduling.courses.readiness_flags import (
    check_in_refusal,
    flag_findings,
    flags_left_by,
    flags_of,
)
from kapt_api.scheduling.courses.values import AppointmentStatus, CourseSession
from tests.scheduling.builders import (
    DOSING,
    ESKETAMINE,
    IM_KAP,
    INTEGRATION,
    MONDAY,
    ZONE,
    ready_course,
    session,
)

DAY = timedelta(days=1)
CANCELLED, NO_SHOW = AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW


def gone(s: CourseSession, status: AppointmentStatus = CANCELLED) -> CourseSession:
    return replace(s, status=status)


def two_doses_with_integration() -> tuple[CourseSession, CourseSession, CourseSession]:
    """A dose on Monday, its integration on Wednesday, the next dose a week later."""
    return (
        session(DOSING, MONDAY),
        session(INTEGRATION, MONDAY + 2 * DAY),
        session(DOSING, MONDAY + 7 * DAY),
    )


def test_a_course_with_everything_in_place_has_no_flags():
    assert flags_of(IM_KAP, [*ready_course(), *two_doses_with_integration()], ZONE) == {}


def test_a_cancelled_preparation_flags_the_first_dose_only():
    first, prep = session(DOSING, MONDAY), ready_course()
    later = session(DOSING, MONDAY + 7 * DAY)
    integration = session(INTEGRATION, MONDAY + 2 * DAY)
    found = flags_of(IM_KAP, [gone(prep[0]), prep[1], first, integration, later], ZONE)
    assert found == {first.id: ["preparation_incomplete"]}


def test_a_preparation_marked_no_show_flags_the_first_dose():
    first, prep = session(DOSING, MONDAY), ready_course()
    found = flags_of(IM_KAP, [prep[0], gone(prep[1], NO_SHOW), first], ZONE)
    assert found == {first.id: ["preparation_incomplete"]}


def test_a_cancelled_integration_flags_the_next_dose_not_the_one_before():
    first, integration, second = two_doses_with_integration()
    found = flags_of(IM_KAP, [*ready_course(), first, gone(integration), second], ZONE)
    assert found == {second.id: ["integration_missing"]}


def test_an_integration_marked_no_show_flags_the_next_dose():
    first, integration, second = two_doses_with_integration()
    found = flags_of(IM_KAP, [*ready_course(), first, gone(integration, NO_SHOW), second], ZONE)
    assert found == {second.id: ["integration_missing"]}


def test_a_no_show_dose_needs_no_integration():
    first, _integration, second = two_doses_with_integration()
    assert flags_of(IM_KAP, [*ready_course(), gone(first, NO_SHOW), second], ZONE) == {}


def test_a_dose_can_carry_both_flags_in_rule_order():
    prep = ready_course()
    first, _integration, second = two_doses_with_integration()
    # The second dose becomes the first counted one when the first is missed: with no
    # preparations left it is flagged for them, and the third for the integration.
    third = session(DOSING, MONDAY + 14 * DAY)
    sessions = [gone(prep[0]), gone(prep[1]), gone(first, NO_SHOW), second, third]
    assert flags_of(IM_KAP, sessions, ZONE) == {
        second.id: ["preparation_incomplete"],
        third.id: ["integration_missing"],
    }


def test_only_doses_not_yet_given_are_flagged():
    first, integration, second = two_doses_with_integration()
    for status, flagged in (
        (AppointmentStatus.BOOKED, True),
        (AppointmentStatus.CHECKED_IN, True),
        (AppointmentStatus.IN_PROGRESS, False),
        (AppointmentStatus.COMPLETED, False),
    ):
        sessions = [*ready_course(), first, gone(integration), replace(second, status=status)]
        assert bool(flags_of(IM_KAP, sessions, ZONE)) is flagged, status


def test_a_protocol_without_preparation_or_integration_never_flags():
    doses = [session(DOSING, MONDAY + d * DAY, ESKETAMINE) for d in (0, 3, 7)]
    assert flags_of(ESKETAMINE, doses, ZONE) == {}


def test_flags_are_course_rules_findings_with_their_subjects():
    first, integration, second = two_doses_with_integration()
    (finding,) = flag_findings(IM_KAP, [*ready_course(), first, gone(integration), second], ZONE)[
        second.id
    ]
    assert finding.rule == "integration_missing"
    assert finding.subjects == frozenset({first.id, second.id})


def test_flags_left_by_names_only_what_the_session_gone_brought():
    prep = ready_course()
    first, integration, second = two_doses_with_integration()
    after = [gone(prep[0]), prep[1], first, gone(integration), second]
    # The integration cancelled now: only the second dose's flag is its doing.
    found = flags_left_by(IM_KAP, after, gone=integration.id, zone=ZONE)
    assert {dose: [f.rule for f in fs] for dose, fs in found.items()} == {
        second.id: ["integration_missing"]
    }
    # A dose cancelled brings no flag.
    assert flags_left_by(IM_KAP, [*prep, gone(first)], gone=first.id, zone=ZONE) == {}


def test_the_check_in_refusal_says_what_is_missing_and_who_may_override():
    prep = ready_course()
    first, integration, second = two_doses_with_integration()
    sessions = [gone(prep[0]), prep[1], first, gone(integration), second]
    found = flag_findings(IM_KAP, sessions, ZONE)
    preparation = check_in_refusal(found[first.id][0], IM_KAP, sessions, ZONE)
    assert preparation.rule == "preparation_incomplete"
    assert "needs 2 preparation session(s)" in preparation.message
    assert "1 are booked or done" in preparation.message
    assert "prescriber or administrator may" in preparation.message
    assert preparation.details["overridable"] is True
    missing = check_in_refusal(found[second.id][0], IM_KAP, sessions, ZONE)
    assert missing.rule == "integration_missing"
    assert "The previous dose, on Mon 7 Dec 2026 10:00" in missing.message
    assert "no integration session finished before this dose" in missing.message
    assert missing.details["appointment_ids"] == sorted([str(first.id), str(second.id)])
