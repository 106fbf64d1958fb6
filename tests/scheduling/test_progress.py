"""A course's progress: what is done, what is booked, and the window in which each next
session may be booked."""

from __future__ import annotations

from datetime import timedelta

from kapt_api.scheduling.facts import AppointmentStatus
from kapt_api.scheduling.progress import course_finished, course_progress
from tests.scheduling.builders import (
    DOSING,
    ESKETAMINE,
    IM_KAP,
    INTEGRATION,
    MONDAY,
    NOW,
    PREPARATION,
    ready_course,
    session,
)

H = timedelta(hours=1)
DAY = timedelta(days=1)
DOSE_END = timedelta(minutes=150)
DONE = AppointmentStatus.COMPLETED


def due_of(progress, kind):
    return [d for d in progress.due if d.kind is kind]


def test_a_new_kap_course_needs_its_preparations_before_a_first_dose():
    progress = course_progress(IM_KAP, [], now=NOW)

    preparations = due_of(progress, PREPARATION)
    assert [d.number for d in preparations] == [1, 2]
    assert all(d.earliest == NOW + 24 * H and d.latest is None for d in preparations)
    (dose,) = due_of(progress, DOSING)
    assert dose.number == 1 and dose.latest is None
    assert "Book the 2 preparation session(s) first." in dose.note
    assert (progress.doses_booked, progress.dose_count, progress.preparations_required) == (0, 6, 2)


def test_the_first_dose_may_start_once_the_second_preparation_has_ended():
    preparations = [session(PREPARATION, MONDAY), session(PREPARATION, MONDAY + 2 * DAY)]
    (dose,) = due_of(course_progress(IM_KAP, preparations, now=NOW), DOSING)
    assert dose.earliest == MONDAY + 2 * DAY + H
    assert dose.note == "Dose 1 of 6."


def test_a_missing_preparation_must_end_before_the_booked_first_dose():
    sessions = [session(PREPARATION, MONDAY - DAY), session(DOSING, MONDAY + 3 * DAY)]
    (preparation,) = due_of(course_progress(IM_KAP, sessions, now=NOW), PREPARATION)
    assert preparation.number == 2
    assert preparation.latest == MONDAY + 3 * DAY - H


def test_after_a_dose_its_integration_is_due_in_its_window_and_the_next_dose_waits_for_it():
    dose = session(DOSING, MONDAY)
    progress = course_progress(IM_KAP, [*ready_course(), dose], now=NOW)

    (integration,) = due_of(progress, INTEGRATION)
    assert integration.number == 1
    assert integration.earliest == MONDAY + DOSE_END + 24 * H
    assert integration.latest == MONDAY + DOSE_END + 72 * H
    (next_dose,) = due_of(progress, DOSING)
    assert next_dose.number == 2
    assert next_dose.earliest == MONDAY + 48 * H
    assert next_dose.latest == MONDAY + 14 * DAY  # weekly phase: dose 2 is due in week 2
    assert "integration session after dose 1 first" in next_dose.note
    assert next_dose.phase == "Weekly dosing, integration between doses"


def test_once_the_integration_is_booked_the_next_dose_may_follow_it():
    dose = session(DOSING, MONDAY)
    integration = session(INTEGRATION, MONDAY + 2 * DAY)
    progress = course_progress(IM_KAP, [*ready_course(), dose, integration], now=NOW)
    assert due_of(progress, INTEGRATION) == []
    (next_dose,) = due_of(progress, DOSING)
    assert next_dose.earliest == MONDAY + 2 * DAY + H  # after 48 h, once the integration ended


def test_the_rolling_limit_pushes_the_next_esketamine_dose_a_week_past_the_earlier_one():
    doses = [session(DOSING, MONDAY, ESKETAMINE), session(DOSING, MONDAY + 2 * DAY, ESKETAMINE)]
    (dose,) = due_of(course_progress(ESKETAMINE, doses, now=NOW), DOSING)
    assert dose.number == 3
    assert dose.earliest == MONDAY + 7 * DAY
    assert dose.latest == MONDAY + 14 * DAY  # twice weekly: doses 3 and 4 in week 2
    assert dose.phase == "Induction, twice weekly"


def test_a_course_behind_its_phase_says_so():
    doses = [session(DOSING, MONDAY, ESKETAMINE)]
    (dose,) = due_of(course_progress(ESKETAMINE, doses, now=MONDAY + 10 * DAY), DOSING)
    assert dose.earliest > dose.latest
    assert "Behind the protocol's schedule" in dose.note


def test_no_dose_is_due_once_every_dose_is_booked_and_cancelled_ones_do_not_count():
    doses = [session(DOSING, MONDAY + 3.5 * i * DAY, ESKETAMINE) for i in range(12)]
    assert due_of(course_progress(ESKETAMINE, doses, now=NOW), DOSING) == []
    doses[5] = session(DOSING, doses[5].starts_at, ESKETAMINE, AppointmentStatus.CANCELLED)
    (dose,) = due_of(course_progress(ESKETAMINE, doses, now=NOW), DOSING)
    assert dose.number == 12


def test_done_and_booked_are_kept_apart_in_time_order():
    done = session(PREPARATION, MONDAY - 2 * DAY, status=DONE)
    booked = session(PREPARATION, MONDAY + DAY)
    cancelled = session(PREPARATION, MONDAY, status=AppointmentStatus.CANCELLED)
    progress = course_progress(IM_KAP, [booked, cancelled, done], now=NOW)
    assert progress.done == (done,)
    assert progress.booked == (booked,)
    assert progress.preparations_scheduled == 2


def test_a_course_is_finished_when_every_dose_and_the_last_integration_are_done():
    sessions = list(ready_course())
    for week in range(6):
        start = MONDAY + week * 7 * DAY
        sessions.append(session(DOSING, start, status=DONE))
        if week < 5:
            sessions.append(session(INTEGRATION, start + 2 * DAY, status=DONE))
    assert not course_finished(IM_KAP, sessions)
    sessions.append(session(INTEGRATION, MONDAY + 37 * DAY))
    assert not course_finished(IM_KAP, sessions)
    sessions[-1] = session(INTEGRATION, MONDAY + 37 * DAY, status=DONE)
    assert course_finished(IM_KAP, sessions)


def test_an_esketamine_course_is_finished_with_its_last_dose():
    doses = [session(DOSING, MONDAY + 3.5 * i * DAY, ESKETAMINE, DONE) for i in range(11)]
    assert not course_finished(ESKETAMINE, doses)
    assert course_finished(
        ESKETAMINE, [*doses, session(DOSING, MONDAY + 60 * DAY, ESKETAMINE, DONE)]
    )
