"""A course's progress: what is done, what is booked, and the window in which each next
session may be booked."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from kapt_api.protocols.definition import Phase
from kapt_api.scheduling.courses.progress import course_finished, course_progress
from kapt_api.scheduling.courses.values import AppointmentStatus
from tests.scheduling.builders import (
    DOSING,
    ESKETAMINE,
    ESKETAMINE_12,
    IM_KAP,
    INTEGRATION,
    MONDAY,
    NOW,
    PREPARATION,
    ZONE,
    midnight,
    ready_course,
    session,
)

H = timedelta(hours=1)
DAY = timedelta(days=1)
DOSE_END = timedelta(minutes=150)
DONE = AppointmentStatus.COMPLETED
# IM KAP dosed twice a week: the next dose waits only for spacing and integration.
TWICE_WEEKLY_KAP = replace(
    IM_KAP, sequencing=replace(IM_KAP.sequencing, phases=(Phase("Twice weekly", 1, 3, 2),))
)


def due_of(progress, kind):
    return [d for d in progress.due if d.kind is kind]


def test_a_new_kap_course_needs_its_preparations_before_a_first_dose():
    progress = course_progress(IM_KAP, [], now=NOW, zone=ZONE)

    preparations = due_of(progress, PREPARATION)
    assert [d.number for d in preparations] == [1, 2]
    assert all(d.earliest == NOW + 24 * H and d.latest is None for d in preparations)
    (dose,) = due_of(progress, DOSING)
    assert dose.number == 1 and dose.latest is None
    assert "Book the 2 preparation session(s) first." in dose.note
    assert (progress.doses_booked, progress.dose_count, progress.preparations_required) == (0, 6, 2)


def test_the_first_dose_may_start_once_the_second_preparation_has_ended():
    preparations = [session(PREPARATION, MONDAY), session(PREPARATION, MONDAY + 2 * DAY)]
    (dose,) = due_of(course_progress(IM_KAP, preparations, now=NOW, zone=ZONE), DOSING)
    assert dose.earliest == MONDAY + 2 * DAY + H
    assert dose.note == "Dose 1 of 6."


def test_a_missing_preparation_must_end_before_the_booked_first_dose():
    sessions = [session(PREPARATION, MONDAY - DAY), session(DOSING, MONDAY + 3 * DAY)]
    (preparation,) = due_of(course_progress(IM_KAP, sessions, now=NOW, zone=ZONE), PREPARATION)
    assert preparation.number == 2
    assert preparation.latest == MONDAY + 3 * DAY - H


def test_after_a_dose_its_integration_is_due_in_its_window_and_the_next_dose_waits_for_it():
    dose = session(DOSING, MONDAY)
    progress = course_progress(IM_KAP, [*ready_course(), dose], now=NOW, zone=ZONE)

    (integration,) = due_of(progress, INTEGRATION)
    assert integration.number == 1
    assert integration.earliest == MONDAY + DOSE_END + 24 * H
    assert integration.latest == MONDAY + DOSE_END + 72 * H
    (next_dose,) = due_of(progress, DOSING)
    assert next_dose.number == 2
    # Weekly phase: dose 2 falls in course week 2, from the clinic's midnight a week on.
    assert next_dose.earliest == midnight(MONDAY + 7 * DAY)
    assert next_dose.latest == midnight(MONDAY + 14 * DAY)
    assert "integration session after dose 1 first" in next_dose.note
    assert next_dose.phase == "Weekly dosing, integration between doses"


def test_once_the_integration_is_booked_the_next_dose_may_follow_it():
    dose = session(DOSING, MONDAY)
    integration = session(INTEGRATION, MONDAY + 2 * DAY)
    progress = course_progress(
        TWICE_WEEKLY_KAP, [*ready_course(), dose, integration], now=NOW, zone=ZONE
    )
    assert due_of(progress, INTEGRATION) == []
    (next_dose,) = due_of(progress, DOSING)
    assert next_dose.earliest == MONDAY + 2 * DAY + H  # after 48 h, once the integration ended


def test_a_weekly_phase_holds_the_next_dose_until_the_next_course_week():
    dose = session(DOSING, MONDAY)
    integration = session(INTEGRATION, MONDAY + 2 * DAY)
    progress = course_progress(IM_KAP, [*ready_course(), dose, integration], now=NOW, zone=ZONE)
    (next_dose,) = due_of(progress, DOSING)
    # 48 h and the integration's end have passed by Wednesday, but week 1 has its dose.
    assert next_dose.earliest == midnight(MONDAY + 7 * DAY)


def test_the_rolling_limit_pushes_the_next_esketamine_dose_a_week_past_the_earlier_one():
    doses = [session(DOSING, MONDAY, ESKETAMINE), session(DOSING, MONDAY + 2 * DAY, ESKETAMINE)]
    (dose,) = due_of(course_progress(ESKETAMINE, doses, now=NOW, zone=ZONE), DOSING)
    assert dose.number == 3
    # The start of the 8th clinic calendar day from the first dose's day.
    assert dose.earliest == midnight(MONDAY + 7 * DAY)
    assert dose.latest == midnight(MONDAY + 14 * DAY)  # twice weekly: doses 3 and 4 in week 2
    assert dose.phase == "Induction, twice weekly"


def test_a_course_behind_its_phase_says_so():
    doses = [session(DOSING, MONDAY, ESKETAMINE)]
    (dose,) = due_of(course_progress(ESKETAMINE, doses, now=MONDAY + 10 * DAY, zone=ZONE), DOSING)
    assert dose.earliest > dose.latest
    assert "Behind the protocol's schedule" in dose.note


def test_no_dose_is_due_once_every_dose_is_booked_and_cancelled_ones_do_not_count():
    doses = [session(DOSING, MONDAY + 3.5 * i * DAY, ESKETAMINE) for i in range(12)]
    assert due_of(course_progress(ESKETAMINE_12, doses, now=NOW, zone=ZONE), DOSING) == []
    doses[5] = session(DOSING, doses[5].starts_at, ESKETAMINE, AppointmentStatus.CANCELLED)
    (dose,) = due_of(course_progress(ESKETAMINE_12, doses, now=NOW, zone=ZONE), DOSING)
    assert dose.number == 12


def test_a_maintenance_phase_always_has_a_next_dose_at_its_frequency():
    # The label's schedule: Monday and Thursday in weeks 1-4, Monday in weeks 5-8.
    days = [*(d + 7 * w for w in range(4) for d in (0, 3)), *(7 * w for w in range(4, 8))]
    doses = [session(DOSING, MONDAY + d * DAY, ESKETAMINE) for d in days]
    (dose,) = due_of(course_progress(ESKETAMINE, doses, now=NOW, zone=ZONE), DOSING)
    assert dose.number == 13
    assert dose.phase == "Maintenance, weekly or every 2 weeks"
    assert dose.note == "Maintenance dose 1: at most 1 dose a week."
    # Week 8 has its dose, so the first maintenance dose waits for week 9's first day.
    assert dose.earliest == midnight(MONDAY + 8 * 7 * DAY)
    assert dose.latest is None  # at most weekly, never due by a date
    booked = [*doses, session(DOSING, MONDAY + 8 * 7 * DAY + 2 * H, ESKETAMINE)]
    (dose,) = due_of(course_progress(ESKETAMINE, booked, now=NOW, zone=ZONE), DOSING)
    assert (dose.number, dose.earliest) == (14, midnight(MONDAY + 9 * 7 * DAY))


def test_done_and_booked_are_kept_apart_in_time_order():
    done = session(PREPARATION, MONDAY - 2 * DAY, status=DONE)
    booked = session(PREPARATION, MONDAY + DAY)
    cancelled = session(PREPARATION, MONDAY, status=AppointmentStatus.CANCELLED)
    progress = course_progress(IM_KAP, [booked, cancelled, done], now=NOW, zone=ZONE)
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
    assert not course_finished(ESKETAMINE_12, doses)
    twelve = [*doses, session(DOSING, MONDAY + 60 * DAY, ESKETAMINE, DONE)]
    assert course_finished(ESKETAMINE_12, twelve)
    # With its maintenance phase the course has no last dose: it ends when discontinued.
    assert not course_finished(ESKETAMINE, twelve)
