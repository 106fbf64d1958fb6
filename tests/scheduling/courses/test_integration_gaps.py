"""Integration gaps: a dose given with no integration session booked in its window is
found once less than a day is left to book one with the session's notice, and until
a week after the window closed."""

from __future__ import annotations

from datetime import timedelta

from kapt_api.scheduling.courses.integration_gaps import Gap, integration_gaps
from kapt_api.scheduling.courses.values import AppointmentStatus
from tests.scheduling.builders import (
    DOSING,
    IM_KAP,
    INTEGRATION,
    MONDAY,
    ZONE,
    ready_course,
    session,
)

H = timedelta(hours=1)
DAY = timedelta(days=1)
DONE = AppointmentStatus.COMPLETED
# IM KAP: the dose lasts 150 min; integration 24-72 h after it ends, booked 24 h ahead.
DOSE = session(DOSING, MONDAY, status=DONE)
LATEST = DOSE.ends_at + 72 * H


def gaps(*sessions, now):
    return integration_gaps(IM_KAP, [*ready_course(), *sessions], now=now, zone=ZONE)


def test_a_given_dose_without_integration_is_a_gap_a_day_before_booking_closes():
    booking_closes = LATEST - 24 * H

    assert gaps(DOSE, now=booking_closes - DAY - timedelta(minutes=1)) == []
    assert gaps(DOSE, now=booking_closes - DAY) == [Gap(DOSE.id, 1, LATEST)]
    assert gaps(DOSE, now=LATEST + H) == [Gap(DOSE.id, 1, LATEST)]


def test_a_window_closed_more_than_a_week_ago_is_history():
    assert gaps(DOSE, now=LATEST + 7 * DAY) == [Gap(DOSE.id, 1, LATEST)]
    assert gaps(DOSE, now=LATEST + 7 * DAY + timedelta(minutes=1)) == []


def test_an_integration_booked_in_the_window_closes_the_gap():
    integration = session(INTEGRATION, DOSE.ends_at + 30 * H)

    assert gaps(DOSE, integration, now=LATEST) == []


def test_an_integration_after_the_window_does_not():
    late = session(INTEGRATION, LATEST + H)

    assert gaps(DOSE, late, now=LATEST) == [Gap(DOSE.id, 1, LATEST)]


def test_a_dose_not_given_yet_is_no_gap():
    booked = session(DOSING, MONDAY)

    assert gaps(booked, now=LATEST) == []
