"""Rules that count days count the clinic's calendar days, across every clock change.

A standard twice-weekly esketamine schedule (Monday and Thursday at 09:00 on the
clinic's clocks) is booked dose by dose through every booking rule for the whole of
2027 in five zones: three whose clocks change by an hour or half an hour
(Australia/Lord_Howe, Europe/Dublin, Pacific/Chatham) and two that keep one offset all
year (America/Sao_Paulo since 2019, Asia/Kathmandu at +05:45). Each dose is accepted,
and the course's progress offers its time. A third dose in the same 7 calendar days
is still refused, in the very weeks the clocks change.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from kapt_api.protocols.definition import Phase
from kapt_api.scheduling.booking import rules
from kapt_api.scheduling.courses.progress import course_progress
from kapt_api.scheduling.courses.rules import schedule_findings
from tests.scheduling.builders import (
    DOSING,
    ESKETAMINE,
    PRESCRIBER,
    calendar,
    request,
    session,
    state,
)

# The esketamine label's induction pace (at most 2 doses in any 7 days, 48 hours apart),
# kept up all year so every week of 2027 is a twice-weekly week.
TWICE_WEEKLY = replace(
    ESKETAMINE,
    sequencing=replace(ESKETAMINE.sequencing, phases=(Phase("Twice weekly", 1, None, 2, 1),)),
)
# The days of 2027 on which each zone's clocks change (tzdata, through zoneinfo).
CLOCK_CHANGES = {
    "Australia/Lord_Howe": [date(2027, 4, 4), date(2027, 10, 3)],
    "Europe/Dublin": [date(2027, 3, 28), date(2027, 10, 31)],
    "Pacific/Chatham": [date(2027, 4, 4), date(2027, 9, 26)],
    "America/Sao_Paulo": [],
    "Asia/Kathmandu": [],
}
DAY = timedelta(days=1)


def _days_of_2027() -> list[date]:
    return [date(2027, 1, 1) + n * DAY for n in range(365)]


def _clock_changes(zone: str) -> list[date]:
    """The days whose UTC offset at their end differs from the one at their start."""
    tz = ZoneInfo(zone)
    return [
        day
        for day in _days_of_2027()
        if datetime.combine(day, time(0), tz).utcoffset()
        != datetime.combine(day + DAY, time(0), tz).utcoffset()
    ]


def _mondays_and_thursdays(zone: str) -> list[datetime]:
    tz = ZoneInfo(zone)
    return [
        datetime.combine(day, time(9), tz).astimezone(UTC)
        for day in _days_of_2027()
        if day.weekday() in (0, 3)
    ]


@pytest.mark.parametrize("zone", sorted(CLOCK_CHANGES))
def test_the_clocks_change_on_the_days_the_schedule_is_tested_across(zone):
    assert _clock_changes(zone) == CLOCK_CHANGES[zone]


@pytest.mark.parametrize("zone", sorted(CLOCK_CHANGES))
def test_a_twice_weekly_schedule_is_accepted_every_week_of_2027(zone):
    booked = []
    for starts_at in _mondays_and_thursdays(zone):
        course = state(*booked, definition=TWICE_WEEKLY)
        asked = request(DOSING, starts_at, staff=(PRESCRIBER,))
        found = rules.booking_violations(asked, course, calendar(zone=zone), now=starts_at - DAY)
        assert found == [], (starts_at.astimezone(ZoneInfo(zone)), found)
        if booked:
            progress = course_progress(TWICE_WEEKLY, booked, now=starts_at - DAY, zone=zone)
            (due,) = [d for d in progress.due if d.kind is DOSING]
            assert due.earliest is not None and due.earliest <= starts_at
        booked.append(session(DOSING, starts_at, TWICE_WEEKLY))
    assert len(booked) == 104
    assert schedule_findings(TWICE_WEEKLY, booked, zone) == []


@pytest.mark.parametrize("zone", sorted(z for z, days in CLOCK_CHANGES.items() if days))
def test_a_third_dose_in_the_week_the_clocks_change_is_still_refused(zone):
    tz = ZoneInfo(zone)
    for change in CLOCK_CHANGES[zone]:
        monday = change - timedelta(days=change.weekday())  # the Monday before the change
        doses = [
            session(DOSING, datetime.combine(monday + n * DAY, time(9), tz), TWICE_WEEKLY)
            for n in (0, 3, 6)  # Monday, Thursday, Sunday
        ]
        found = [f for f in schedule_findings(TWICE_WEEKLY, doses, zone)]
        assert [f.rule for f in found] == ["weekly_dose_limit", "phase_frequency"], change
        assert "in any 7 consecutive calendar days on the clinic's clocks" in found[0].message
