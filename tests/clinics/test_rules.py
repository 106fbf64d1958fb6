"""The clinics rules: weekly hours, time off, and wall-clock time to UTC across DST."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kapt_api.clinics.rules import (
    MAX_TIME_OFF,
    LocalTimeProblem,
    WeeklyInterval,
    covers,
    first_instant_at,
    local_day_to_utc,
    local_intervals_to_utc,
    merge_ranges,
    overlaps,
    strict_local_to_utc,
    time_off_errors,
    utc_ranges_between,
    weekly_hours_errors,
)

NEW_YORK, LONDON, SYDNEY = "America/New_York", "Europe/London", "Australia/Sydney"
MON, TUE, SUN = 0, 1, 6


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def span(weekday: int, start: str, end: str) -> WeeklyInterval:
    return WeeklyInterval(weekday, time.fromisoformat(start), time.fromisoformat(end))


EVERY_DAY_9_TO_5 = [span(d, "09:00", "17:00") for d in range(7)]


# --- weekly hours ---------------------------------------------------------------------------


def test_an_empty_week_is_valid():
    assert weekly_hours_errors([], field="opening_hours") == {}


def test_a_normal_week_with_a_lunch_break_is_valid():
    week = [span(d, "08:00", "12:00") for d in range(5)]
    week += [span(d, "13:00", "18:00") for d in range(5)]
    assert weekly_hours_errors(week, field="opening_hours") == {}


def test_touching_intervals_do_not_overlap():
    week = [span(MON, "09:00", "12:00"), span(MON, "12:00", "17:00")]
    assert weekly_hours_errors(week, field="opening_hours") == {}


def test_the_same_hours_on_different_days_do_not_overlap():
    week = [span(MON, "09:00", "17:00"), span(TUE, "09:00", "17:00")]
    assert weekly_hours_errors(week, field="opening_hours") == {}


@pytest.mark.parametrize(("start", "end"), [("09:00", "09:00"), ("17:00", "09:00")])
def test_an_interval_must_end_after_it_starts(start, end):
    week = [span(MON, "08:00", "09:00"), span(TUE, start, end)]
    errors = weekly_hours_errors(week, field="opening_hours")
    assert list(errors) == ["opening_hours.1"]
    assert "Must end after it starts (tuesday" in errors["opening_hours.1"][0]
    assert "cannot cross midnight" in errors["opening_hours.1"][0]


def test_an_overlap_is_named_on_the_later_entry_and_names_the_earlier():
    week = [span(MON, "10:00", "11:00"), span(TUE, "09:00", "17:00"), span(MON, "09:00", "17:00")]
    errors = weekly_hours_errors(week, field="opening_hours")
    assert errors == {"opening_hours.2": ["Overlaps opening_hours.0 (monday 10:00-11:00)."]}


def test_an_exact_duplicate_overlaps():
    week = [span(MON, "09:00", "17:00"), span(MON, "09:00", "17:00")]
    assert list(weekly_hours_errors(week, field="working_hours")) == ["working_hours.1"]


def test_every_overlapping_pair_is_reported():
    week = [span(MON, "09:00", "12:00"), span(MON, "10:00", "13:00"), span(MON, "11:00", "14:00")]
    errors = weekly_hours_errors(week, field="working_hours")
    assert errors == {
        "working_hours.1": ["Overlaps working_hours.0 (monday 09:00-12:00)."],
        "working_hours.2": [
            "Overlaps working_hours.0 (monday 09:00-12:00).",
            "Overlaps working_hours.1 (monday 10:00-13:00).",
        ],
    }


def test_an_inverted_interval_is_not_also_reported_as_overlapping():
    week = [span(MON, "09:00", "17:00"), span(MON, "12:00", "10:00")]
    errors = weekly_hours_errors(week, field="opening_hours")
    assert list(errors) == ["opening_hours.1"]
    assert errors["opening_hours.1"][0].startswith("Must end after it starts")


def test_a_weekday_out_of_range_is_refused():
    errors = weekly_hours_errors([span(7, "09:00", "10:00")], field="opening_hours")
    assert errors == {"opening_hours.0": ["The weekday must be monday to sunday."]}


minutes_of_day = st.integers(min_value=0, max_value=24 * 60 - 1)


@st.composite
def intervals(draw: st.DrawFn) -> WeeklyInterval:
    start, end = draw(minutes_of_day), draw(minutes_of_day)
    return WeeklyInterval(
        draw(st.integers(0, 2)), time(start // 60, start % 60), time(end // 60, end % 60)
    )


def minutes(item: WeeklyInterval) -> set[int]:
    first = item.start.hour * 60 + item.start.minute
    last = item.end.hour * 60 + item.end.minute
    return set(range(first, last))


@settings(max_examples=300)
@given(st.lists(intervals(), max_size=8))
def test_errors_name_exactly_the_invalid_and_overlapping_entries(week):
    """Oracle: an entry is flagged iff it is empty or shares a minute with an earlier valid one."""
    errors = weekly_hours_errors(week, field="hours")
    expected = set()
    for index, item in enumerate(week):
        if not minutes(item):
            expected.add(index)
            continue
        for earlier in week[:index]:
            if earlier.weekday == item.weekday and minutes(earlier) & minutes(item):
                expected.add(index)
    assert set(errors) == {f"hours.{i}" for i in expected}


@given(st.lists(intervals(), max_size=6), st.randoms(use_true_random=False))
def test_whether_a_week_is_valid_does_not_depend_on_the_order(week, random):
    shuffled = list(week)
    random.shuffle(shuffled)
    assert bool(weekly_hours_errors(week, field="h")) == bool(
        weekly_hours_errors(shuffled, field="h")
    )


# --- time off -------------------------------------------------------------------------------


def test_time_off_within_a_year_is_valid():
    assert time_off_errors(utc(2026, 7, 1, 9), utc(2026, 7, 14, 17)) == {}


@pytest.mark.parametrize("ends", [utc(2026, 7, 1, 9), utc(2026, 6, 30)])
def test_time_off_must_end_after_it_starts(ends):
    assert time_off_errors(utc(2026, 7, 1, 9), ends) == {"ends_at": ["Must be after starts_at."]}


def test_time_off_of_exactly_366_days_is_accepted_and_a_second_more_is_not():
    start = utc(2026, 1, 1)
    assert time_off_errors(start, start + MAX_TIME_OFF) == {}
    errors = time_off_errors(start, start + MAX_TIME_OFF + timedelta(seconds=1))
    assert errors == {"ends_at": ["Time off may last at most 366 days; check the dates."]}


def test_time_off_compares_instants_not_wall_times():
    new_york = ZoneInfo(NEW_YORK)
    starts = datetime(2026, 7, 1, 9, tzinfo=new_york)  # 13:00 UTC
    ends = datetime(2026, 7, 1, 14, tzinfo=UTC)  # later, though 14 < 9 + 5 on paper
    assert time_off_errors(starts, ends) == {}
    assert time_off_errors(starts, datetime(2026, 7, 1, 12, tzinfo=UTC)) != {}


def test_time_off_refuses_naive_datetimes():
    with pytest.raises(ValueError, match="aware"):
        time_off_errors(datetime(2026, 1, 1), utc(2026, 1, 2))  # noqa: DTZ001


# hypothesis bounds are naive by its API; the drawn values carry UTC.
aware = st.datetimes(
    min_value=datetime(2000, 1, 1),  # noqa: DTZ001
    max_value=datetime(2100, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
)


@given(aware, aware)
def test_time_off_is_valid_exactly_when_it_ends_after_it_starts_within_a_year(starts, ends):
    valid = starts < ends <= starts + MAX_TIME_OFF
    assert (time_off_errors(starts, ends) == {}) is valid


# --- wall-clock hours to UTC, across both DST changes ----------------------------------------

# (zone, weekday before, UTC of 09:00 that day, weekday after, UTC of 09:00 that day)
NINE_O_CLOCK = [
    (NEW_YORK, date(2026, 3, 7), utc(2026, 3, 7, 14), date(2026, 3, 9), utc(2026, 3, 9, 13)),
    (NEW_YORK, date(2026, 10, 31), utc(2026, 10, 31, 13), date(2026, 11, 2), utc(2026, 11, 2, 14)),
    (LONDON, date(2026, 3, 28), utc(2026, 3, 28, 9), date(2026, 3, 30), utc(2026, 3, 30, 8)),
    (LONDON, date(2026, 10, 24), utc(2026, 10, 24, 8), date(2026, 10, 26), utc(2026, 10, 26, 9)),
    (SYDNEY, date(2026, 4, 4), utc(2026, 4, 3, 22), date(2026, 4, 6), utc(2026, 4, 5, 23)),
    (SYDNEY, date(2026, 10, 3), utc(2026, 10, 2, 23), date(2026, 10, 5), utc(2026, 10, 4, 22)),
]


@pytest.mark.parametrize(("zone", "before", "before_utc", "after", "after_utc"), NINE_O_CLOCK)
def test_nine_o_clock_stays_nine_o_clock_local_on_both_sides_of_a_change(
    zone, before, before_utc, after, after_utc
):
    assert local_intervals_to_utc(before, EVERY_DAY_9_TO_5, zone) == [
        (before_utc, before_utc + timedelta(hours=8))
    ]
    assert local_intervals_to_utc(after, EVERY_DAY_9_TO_5, zone) == [
        (after_utc, after_utc + timedelta(hours=8))
    ]
    assert abs(after_utc - before_utc - (after - before)) == timedelta(hours=1)


# (zone, day of the change, hours that 00:00-06:00 local really lasts, UTC of local midnight)
CHANGE_DAYS = [
    (NEW_YORK, date(2026, 3, 8), 5, utc(2026, 3, 8, 5)),
    (NEW_YORK, date(2026, 11, 1), 7, utc(2026, 11, 1, 4)),
    (LONDON, date(2026, 3, 29), 5, utc(2026, 3, 29, 0)),
    (LONDON, date(2026, 10, 25), 7, utc(2026, 10, 24, 23)),
    (SYDNEY, date(2026, 4, 5), 7, utc(2026, 4, 4, 13)),
    (SYDNEY, date(2026, 10, 4), 5, utc(2026, 10, 3, 14)),
]


@pytest.mark.parametrize(("zone", "day", "hours", "midnight"), CHANGE_DAYS)
def test_an_interval_spanning_the_change_lasts_an_hour_more_or_less(zone, day, hours, midnight):
    night = [span(SUN, "00:00", "06:00")]
    assert local_intervals_to_utc(day, night, zone) == [
        (midnight, midnight + timedelta(hours=hours))
    ]
    assert local_day_to_utc(day, zone) == (midnight, midnight + timedelta(hours=24 + hours - 6))


@pytest.mark.parametrize(("zone", "day", "hours", "midnight"), CHANGE_DAYS)
def test_day_hours_on_the_change_day_stay_local(zone, day, hours, midnight):
    ((start, end),) = local_intervals_to_utc(day, EVERY_DAY_9_TO_5, zone)
    assert start.astimezone(ZoneInfo(zone)).time() == time(9)
    assert end.astimezone(ZoneInfo(zone)).time() == time(17)
    assert end - start == timedelta(hours=8)


# Spring-forward gaps: New York 02:00->03:00 (07:00Z), London 01:00->02:00 (01:00Z),
# Sydney 02:00->03:00 (16:00Z the day before).
GAPS = [
    (NEW_YORK, date(2026, 3, 8), "02:30", "04:00", utc(2026, 3, 8, 7), utc(2026, 3, 8, 8)),
    (NEW_YORK, date(2026, 3, 8), "01:00", "02:30", utc(2026, 3, 8, 6), utc(2026, 3, 8, 7)),
    (LONDON, date(2026, 3, 29), "01:30", "03:00", utc(2026, 3, 29, 1), utc(2026, 3, 29, 2)),
    (SYDNEY, date(2026, 10, 4), "02:15", "09:00", utc(2026, 10, 3, 16), utc(2026, 10, 3, 22)),
]


@pytest.mark.parametrize(("zone", "day", "start", "end", "start_utc", "end_utc"), GAPS)
def test_a_skipped_time_is_reached_when_the_clocks_jump_past_it(
    zone, day, start, end, start_utc, end_utc
):
    assert local_intervals_to_utc(day, [span(SUN, start, end)], zone) == [(start_utc, end_utc)]


@pytest.mark.parametrize(
    ("zone", "day", "start", "end"),
    [
        (NEW_YORK, date(2026, 3, 8), "02:00", "03:00"),
        (LONDON, date(2026, 3, 29), "01:15", "01:45"),
        (SYDNEY, date(2026, 10, 4), "02:00", "02:59"),
    ],
)
def test_an_interval_wholly_inside_a_gap_covers_nothing(zone, day, start, end):
    assert local_intervals_to_utc(day, [span(SUN, start, end)], zone) == []


# Fall-back folds: the repeated hour counts from its first occurrence.
FOLDS = [
    (
        NEW_YORK,
        date(2026, 11, 1),
        "01:15",
        "01:45",
        utc(2026, 11, 1, 5, 15),
        utc(2026, 11, 1, 5, 45),
    ),
    (NEW_YORK, date(2026, 11, 1), "01:00", "02:00", utc(2026, 11, 1, 5), utc(2026, 11, 1, 7)),
    (LONDON, date(2026, 10, 25), "01:30", "03:00", utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 3)),
    (SYDNEY, date(2026, 4, 5), "02:30", "03:00", utc(2026, 4, 4, 15, 30), utc(2026, 4, 4, 17)),
]


@pytest.mark.parametrize(("zone", "day", "start", "end", "start_utc", "end_utc"), FOLDS)
def test_a_repeated_time_counts_from_its_first_occurrence(
    zone, day, start, end, start_utc, end_utc
):
    assert local_intervals_to_utc(day, [span(SUN, start, end)], zone) == [(start_utc, end_utc)]


def test_only_the_intervals_of_that_weekday_count_and_come_out_in_order():
    week = [span(TUE, "14:00", "18:00"), span(MON, "09:00", "10:00"), span(TUE, "08:00", "12:00")]
    tuesday = date(2026, 1, 6)
    assert local_intervals_to_utc(tuesday, week, ZoneInfo(NEW_YORK)) == [
        (utc(2026, 1, 6, 13), utc(2026, 1, 6, 17)),
        (utc(2026, 1, 6, 19), utc(2026, 1, 6, 23)),
    ]
    assert local_intervals_to_utc(date(2026, 1, 7), week, NEW_YORK) == []


def test_a_midnight_that_is_skipped_starts_the_day_at_one():
    # Chile moves its clocks from 24:00 to 01:00.
    assert local_day_to_utc(date(2026, 9, 6), "America/Santiago") == (
        utc(2026, 9, 6, 4),
        utc(2026, 9, 7, 3),
    )


def test_a_day_the_zone_skipped_entirely_covers_nothing():
    # Samoa crossed the date line: 2011-12-30 never happened in Apia.
    day = date(2011, 12, 30)
    start, end = local_day_to_utc(day, "Pacific/Apia")
    assert start == end == utc(2011, 12, 30, 10)
    assert local_intervals_to_utc(day, EVERY_DAY_9_TO_5, "Pacific/Apia") == []


# --- strict conversion (a single moment the client named by its local time) -------------------


def test_strict_conversion_of_an_ordinary_time():
    assert strict_local_to_utc(date(2026, 7, 1), time(9), NEW_YORK) == utc(2026, 7, 1, 13)


@pytest.mark.parametrize(
    ("zone", "day", "wall", "reason", "phrase"),
    [
        (NEW_YORK, date(2026, 3, 8), time(2, 30), "nonexistent", "does not exist"),
        (SYDNEY, date(2026, 10, 4), time(2, 0), "nonexistent", "does not exist"),
        (NEW_YORK, date(2026, 11, 1), time(1, 30), "ambiguous", "happens twice"),
        (LONDON, date(2026, 10, 25), time(1, 0), "ambiguous", "happens twice"),
    ],
)
def test_strict_conversion_refuses_skipped_and_repeated_times(zone, day, wall, reason, phrase):
    with pytest.raises(LocalTimeProblem) as refused:
        strict_local_to_utc(day, wall, zone)
    assert refused.value.reason == reason
    assert phrase in str(refused.value)
    assert zone in str(refused.value)


# --- ranges ---------------------------------------------------------------------------------


def test_ranges_between_two_moments_follow_the_local_pattern_and_are_clipped():
    weekdays = [span(d, "09:00", "12:00") for d in range(5)]
    weekdays += [span(d, "12:00", "17:00") for d in range(5)]
    ranges = utc_ranges_between(
        datetime.fromisoformat("2026-03-06T12:00:00-05:00"),
        datetime.fromisoformat("2026-03-10T10:00:00-04:00"),
        weekdays,
        NEW_YORK,
    )
    assert ranges == [
        (utc(2026, 3, 6, 17), utc(2026, 3, 6, 22)),  # Friday, from noon EST
        (utc(2026, 3, 9, 13), utc(2026, 3, 9, 21)),  # Monday, now EDT
        (utc(2026, 3, 10, 13), utc(2026, 3, 10, 14)),  # Tuesday, until 10:00
    ]


def test_merge_joins_overlapping_and_touching_ranges():
    ranges = [
        (utc(2026, 1, 1, 12), utc(2026, 1, 1, 17)),
        (utc(2026, 1, 1, 9), utc(2026, 1, 1, 12)),
        (utc(2026, 1, 1, 10), utc(2026, 1, 1, 11)),
        (utc(2026, 1, 1, 18), utc(2026, 1, 1, 19)),
    ]
    assert merge_ranges(ranges) == [
        (utc(2026, 1, 1, 9), utc(2026, 1, 1, 17)),
        (utc(2026, 1, 1, 18), utc(2026, 1, 1, 19)),
    ]


def test_covers_spans_touching_ranges_but_not_a_gap_between_them():
    ranges = [
        (utc(2026, 1, 1, 9), utc(2026, 1, 1, 12)),
        (utc(2026, 1, 1, 12), utc(2026, 1, 1, 17)),
        (utc(2026, 1, 1, 18), utc(2026, 1, 1, 20)),
    ]
    assert covers(ranges, utc(2026, 1, 1, 11), utc(2026, 1, 1, 13))
    assert covers(ranges, utc(2026, 1, 1, 9), utc(2026, 1, 1, 17))
    assert not covers(ranges, utc(2026, 1, 1, 16), utc(2026, 1, 1, 18, 30))
    assert not covers(ranges, utc(2026, 1, 1, 8, 59), utc(2026, 1, 1, 10))
    assert not covers([], utc(2026, 1, 1, 9), utc(2026, 1, 1, 10))


def test_overlaps_is_half_open():
    nine_to_ten = (utc(2026, 1, 1, 9), utc(2026, 1, 1, 10))
    assert overlaps(nine_to_ten, (utc(2026, 1, 1, 9, 59), utc(2026, 1, 1, 11)))
    assert not overlaps(nine_to_ten, (utc(2026, 1, 1, 10), utc(2026, 1, 1, 11)))
    assert not overlaps((utc(2026, 1, 1, 8), utc(2026, 1, 1, 9)), nine_to_ten)


hours_ranges = st.lists(
    st.tuples(st.integers(0, 47), st.integers(1, 6)).map(
        lambda p: (
            utc(2026, 1, 1) + timedelta(hours=p[0]),
            utc(2026, 1, 1) + timedelta(hours=sum(p)),
        )
    ),
    max_size=8,
)


@given(hours_ranges)
def test_merged_ranges_are_ordered_apart_and_cover_the_same_hours(ranges):
    merged = merge_ranges(ranges)
    assert all(a[1] < b[0] for a, b in itertools.pairwise(merged))

    def hours(rs):
        return {
            s + timedelta(hours=h)
            for s, e in rs
            for h in range(int((e - s).total_seconds() // 3600))
        }

    assert hours(merged) == hours(ranges)


# --- the wall-clock mapping against a brute-force oracle ---------------------------------------

ZONES = [NEW_YORK, LONDON, SYDNEY, "Australia/Lord_Howe", "America/Santiago", "Asia/Kolkata"]
CHANGE_DATES = [day for _, day, _, _ in CHANGE_DAYS] + [
    date(2026, 4, 4),
    date(2026, 4, 5),
    date(2026, 9, 6),
    date(2026, 10, 4),
]
days = st.one_of(st.sampled_from(CHANGE_DATES), st.dates(date(1990, 1, 1), date(2090, 12, 31)))
walls = st.builds(time, st.integers(0, 23), st.sampled_from([0, 1, 15, 30, 45, 59]))


def oracle_first_instant(day: date, wall: time, zone: ZoneInfo) -> datetime:
    """Walk minute by minute from well before until the clocks show `wall` or later."""
    local = datetime.combine(day, wall)
    instant = local.replace(tzinfo=UTC) - timedelta(hours=15)
    while instant.astimezone(zone).replace(tzinfo=None) < local:
        instant += timedelta(minutes=1)
    return instant


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(ZONES), days, walls)
def test_first_instant_matches_a_minute_by_minute_walk(zone, day, wall):
    tz = ZoneInfo(zone)
    assert first_instant_at(day, wall, tz) == oracle_first_instant(day, wall, tz)


@given(st.sampled_from(ZONES), days, st.lists(intervals(), max_size=6))
def test_utc_ranges_of_a_day_are_ordered_non_empty_and_apart(zone, day, week):
    week = [WeeklyInterval(day.weekday(), i.start, i.end) for i in week]
    valid = [
        i
        for index, i in enumerate(week)
        if f"h.{index}" not in weekly_hours_errors(week, field="h")
    ]
    ranges = local_intervals_to_utc(day, valid, zone)
    assert all(start < end for start, end in ranges)
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(ranges))
    day_start, day_end = local_day_to_utc(day, zone)
    assert all(day_start <= start and end <= day_end for start, end in ranges)


@given(st.sampled_from(ZONES), days, walls)
def test_a_time_that_exists_maps_to_that_wall_time(zone, day, wall):
    tz = ZoneInfo(zone)
    try:
        strict_local_to_utc(day, wall, tz)
    except LocalTimeProblem as problem:
        if problem.reason == "nonexistent":
            return
    instant = first_instant_at(day, wall, tz)
    assert instant.astimezone(tz).replace(tzinfo=None) == datetime.combine(day, wall)
