"""The waitlist's pure rules: what a patient accepts, who is offered first, and when an
offer can no longer be accepted."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kapt_api.scheduling.waitlist import rules
from kapt_api.scheduling.waitlist.rules import Candidate, Preferences, Window
from tests.scheduling.builders import local

ZONE = "America/New_York"
NOW = local(2026, 12, 5, 10)  # Saturday
WEDNESDAY_10 = local(2026, 12, 9, 10)
STAFF = uuid.uuid4()


def prefs(**overrides) -> Preferences:
    values = {
        "earliest": date(2026, 12, 7),
        "latest": date(2026, 12, 18),
        "weekdays": frozenset(),
        "windows": (),
        "staff": frozenset(),
        "notice": timedelta(0),
    }
    values.update(overrides)
    return Preferences(**values)


def fits(wanted: Preferences, starts_at: datetime = WEDNESDAY_10, hours: int = 2,
         staff=(STAFF,), now: datetime = NOW) -> bool:  # fmt: skip
    return rules.fits(wanted, starts_at=starts_at, ends_at=starts_at + timedelta(hours=hours),
                      staff_ids=staff, zone=ZONE, now=now)  # fmt: skip


# --- what the patient accepts -----------------------------------------------------------------


def test_anything_inside_the_dates_fits_when_nothing_else_is_asked():
    assert fits(prefs())


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"earliest": date(2026, 12, 10)}, False),
        ({"latest": date(2026, 12, 8)}, False),
        ({"latest": date(2026, 12, 9)}, True),  # the last day counts, on the clinic's calendar
        ({"weekdays": frozenset({2})}, True),  # Wednesday
        ({"weekdays": frozenset({0, 4})}, False),
        ({"windows": (Window(time(9), time(12)),)}, True),
        ({"windows": (Window(time(9), time(11)),)}, False),  # the session ends at 12
        ({"windows": (Window(time(14), time(18)), Window(time(10), time(12)))}, True),
        ({"staff": frozenset({uuid.uuid4()})}, False),
        ({"staff": frozenset({STAFF, uuid.uuid4()})}, True),
        ({"notice": timedelta(hours=96)}, True),  # Saturday 10:00 to Wednesday 10:00
        ({"notice": timedelta(hours=97)}, False),
    ],
)
def test_each_preference_is_honoured(overrides, expected):
    assert fits(prefs(**overrides)) is expected


def test_dates_are_the_clinics_calendar_not_utc():
    late_evening = local(2026, 12, 9, 21)  # 02:00 UTC on the 10th
    assert fits(prefs(latest=date(2026, 12, 9)), starts_at=late_evening, hours=1)
    assert not fits(prefs(earliest=date(2026, 12, 10)), starts_at=late_evening, hours=1)


def test_a_window_never_covers_a_session_past_midnight():
    late = local(2026, 12, 9, 23)
    assert not fits(prefs(windows=(Window(time(0), time(23, 59)),)), starts_at=late)


# --- a request to wait --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("earliest", "latest", "windows", "field"),
    [
        (date(2026, 12, 9), date(2026, 12, 8), (), "latest_date"),
        (date(2026, 12, 1), date(2026, 12, 4), (), "latest_date"),  # all in the past
        (date(2026, 12, 7), date(2027, 12, 7), (), "latest_date"),  # more than half a year
        (date(2026, 12, 7), date(2026, 12, 8), (Window(time(12), time(9)),), "time_windows"),
        (date(2026, 12, 7), date(2026, 12, 8), (Window(time(9), time(9)),), "time_windows"),
    ],
)
def test_a_malformed_request_names_its_field(earliest, latest, windows, field):
    errors = rules.request_errors(earliest=earliest, latest=latest, windows=windows,
                                  today=date(2026, 12, 5))  # fmt: skip
    assert list(errors) == [field]


def test_a_well_formed_request_has_no_errors():
    today = date(2026, 12, 5)
    windows = (Window(time(9), time(12)),)
    assert rules.request_errors(earliest=today, latest=today, windows=windows, today=today) == {}


# --- who is first ------------------------------------------------------------------------------


def candidate(closes_hours: float | None, waited_hours: float) -> Candidate:
    closes = None if closes_hours is None else NOW + timedelta(hours=closes_hours)
    return Candidate(uuid.uuid4(), closes, NOW - timedelta(hours=waited_hours))


def test_a_closing_window_comes_before_any_waiting_time():
    patient = candidate(None, waited_hours=1000)
    urgent = candidate(48, waited_hours=1)
    assert rules.rank([patient, urgent]) == [urgent, patient]


def test_the_window_closing_soonest_comes_first():
    later, sooner = candidate(72, 10), candidate(24, 1)
    assert rules.rank([later, sooner]) == [sooner, later]


def test_equal_need_goes_to_the_longest_waiting():
    newer, older = candidate(48, 1), candidate(48, 5)
    assert rules.rank([newer, older]) == [older, newer]
    plain_new, plain_old = candidate(None, 1), candidate(None, 5)
    assert rules.rank([plain_new, plain_old]) == [plain_old, plain_new]


instants = st.integers(min_value=-1000, max_value=1000)


@given(st.lists(st.tuples(st.one_of(st.none(), instants), instants), max_size=12))
def test_ranking_is_a_total_order_independent_of_input_order(specs):
    found = [candidate(c, w) for c, w in specs]
    ranked = rules.rank(found)
    assert rules.rank(list(reversed(found))) == ranked
    assert sorted(map(id, ranked)) == sorted(map(id, found))
    keys = [rules.need_key(c) for c in ranked]
    assert keys == sorted(keys)
    bounded = [c.closes_at is not None for c in ranked]
    assert bounded == sorted(bounded, reverse=True)  # every bounded one first


# --- answering an offer ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "minutes_left", "rule"),
    [
        ("offered", 1, None),
        ("offered", 0, "offer_expired"),
        ("expired", 10, "offer_expired"),
        ("accepted", 10, "offer_taken"),
        ("taken", 10, "offer_taken"),
        ("declined", 10, "offer_declined"),
    ],
)
def test_an_offer_can_be_accepted_only_while_it_is_open(status, minutes_left, rule):
    found = rules.acceptance_violation(status, NOW + timedelta(minutes=minutes_left), now=NOW)
    assert (found.rule if found else None) == rule


def test_times_are_compared_as_instants():
    utc_now = NOW.astimezone(UTC)
    assert rules.acceptance_violation("offered", NOW + timedelta(seconds=1), now=utc_now) is None
