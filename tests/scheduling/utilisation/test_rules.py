"""The arithmetic of chair utilisation over plain values."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from kapt_api.scheduling.utilisation.rules import (
    MAX_DAYS,
    Held,
    chair_hours,
    range_violations,
    within,
)

T0 = datetime(2026, 12, 7, 5, tzinfo=UTC)
H = timedelta(hours=1)
ROOM, OTHER = uuid.uuid4(), uuid.uuid4()


def held(start_h: float, end_h: float, room: uuid.UUID = ROOM) -> Held:
    return Held(room, T0 + start_h * H, T0 + end_h * H)


def test_only_the_part_inside_the_range_counts():
    assert within(held(-1, 2), T0, T0 + 24 * H) == 2 * H
    assert within(held(23, 26), T0, T0 + 24 * H) == H
    assert within(held(24, 26), T0, T0 + 24 * H) == timedelta()
    assert within(held(-3, -1), T0, T0 + 24 * H) == timedelta()


def test_figures_in_all_and_per_room_with_idle_rooms_listed():
    idle = uuid.uuid4()
    found = chair_hours(
        booked=[held(1, 3.5), held(4, 6, OTHER)],
        freed=[held(8, 10.5), held(9, 10)],  # freed twice: counted twice
        backfilled=[held(4, 6, OTHER)],
        since=T0,
        until=T0 + 24 * H,
        rooms=[idle, ROOM],
    )
    assert found.total.hours() == {"booked_hours": 4.5, "freed_hours": 3.5, "backfilled_hours": 2}
    assert found.rooms[ROOM].hours() == {
        "booked_hours": 2.5, "freed_hours": 3.5, "backfilled_hours": 0.0
    }  # fmt: skip
    assert found.rooms[OTHER].hours()["backfilled_hours"] == 2
    assert found.rooms[idle].hours() == {"booked_hours": 0, "freed_hours": 0, "backfilled_hours": 0}


def test_a_room_with_nothing_in_the_range_is_not_added():
    found = chair_hours(booked=[held(30, 32, OTHER)], freed=[], backfilled=[], since=T0,
                        until=T0 + 24 * H)  # fmt: skip
    assert found.rooms == {} and found.total.hours()["booked_hours"] == 0


def test_hours_are_rounded_to_the_hundredth():
    found = chair_hours(booked=[held(0, 1 / 3)], freed=[], backfilled=[], since=T0, until=T0 + H)
    assert found.total.hours()["booked_hours"] == 0.33


def test_a_range_is_at_most_366_days_both_included_and_in_order():
    first = date(2026, 1, 1)
    assert range_violations(first, first) == {}
    assert range_violations(first, first + timedelta(days=MAX_DAYS - 1)) == {}
    assert "to" in range_violations(first, first + timedelta(days=MAX_DAYS))
    assert range_violations(first, first - timedelta(days=1)) == {
        "to": ["Must be on or after `from`."]
    }


SPANS = st.lists(
    st.tuples(st.integers(-48, 72), st.integers(1, 30)).map(lambda t: held(t[0], t[0] + t[1])),
    max_size=8,
)


@given(booked=SPANS, cut=st.integers(0, 24))
def test_splitting_the_range_splits_the_hours(booked, cut):
    def total(since, until):
        return chair_hours(booked=booked, freed=booked, backfilled=[], since=since, until=until)

    whole = total(T0, T0 + 24 * H).total
    first, second = total(T0, T0 + cut * H).total, total(T0 + cut * H, T0 + 24 * H).total
    assert first.booked + second.booked == whole.booked == whole.freed
    assert whole.booked <= len(booked) * 24 * H
