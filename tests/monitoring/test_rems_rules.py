"""The REMS form's checks as plain values: the dose the devices give, each device's
time, the evaluation question, the medicine questions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kapt_api.monitoring import rems_rules

CHECK_IN = datetime(2026, 12, 8, 15, 0, tzinfo=UTC)
NOW = CHECK_IN + timedelta(minutes=30)


def minutes(n: float) -> datetime:
    return CHECK_IN + timedelta(minutes=n)


def problems(**overrides):
    given_values = {
        "first_device_at": minutes(10),
        "device_times": [minutes(10), minutes(15)],
        "devices": 2,
        "dose_mg": 56,
        "checked_in_at": CHECK_IN,
        "now": NOW,
        **overrides,
    }
    return rems_rules.administration_problems(**given_values)


def test_a_two_device_dose_given_five_minutes_apart_is_accepted():
    assert problems() == {}


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"dose_mg": 84}, "dose_mg"),
        ({"first_device_at": minutes(-1), "device_times": None}, "first_device_at"),
        ({"first_device_at": minutes(31), "device_times": None}, "first_device_at"),
        ({"device_times": [minutes(10)]}, "device_times"),
        ({"device_times": [minutes(11), minutes(15)]}, "device_times"),
        ({"device_times": [minutes(15), minutes(10)]}, "device_times"),
        ({"device_times": [minutes(10), minutes(40)]}, "device_times"),
    ],
)
def test_what_cannot_have_happened_is_named_by_field(overrides, field):
    assert list(problems(**overrides)) == [field]


def test_device_times_may_be_left_out_and_a_single_device_keeps_its_time():
    assert problems(device_times=None) == {}
    kept = rems_rules.device_times_of(minutes(10), None, devices=1)
    assert kept == [minutes(10)]
    assert rems_rules.device_times_of(minutes(10), None, devices=2) is None


@given(gaps=st.lists(st.integers(min_value=1, max_value=10), min_size=0, max_size=2))
def test_times_in_order_from_the_first_device_are_accepted(gaps):
    times = [minutes(0)]
    for gap in gaps:
        times.append(times[-1] + timedelta(minutes=gap))
    found = rems_rules.device_time_problems(minutes(0), times, devices=len(times), now=minutes(30))
    assert found == []


@pytest.mark.parametrize(
    ("answer", "refused"), [(0, False), (95, False), (120, False), (121, True)]
)
def test_ready_to_leave_is_within_the_monitoring_so_far(answer, refused):
    found = rems_rules.ready_to_leave_problems(
        answer, first_device_at=minutes(10), now=minutes(130)
    )
    assert bool(found) is refused


def test_the_medicine_questions_are_answered_only_when_each_class_is():
    answered = dict.fromkeys(rems_rules.FORM_MEDICATIONS, False)
    assert not rems_rules.missing_medications(answered)
    assert not rems_rules.missing_medications({**answered, "opioids": True})
    assert rems_rules.missing_medications(None)
    assert rems_rules.missing_medications({"benzodiazepines": True})
