"""PHQ-9 and GAD-7 scoring and the trend, over plain values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kapt_api.outcomes import rules
from kapt_api.outcomes.rules import Instrument, Score

DAY = datetime(2026, 12, 1, tzinfo=UTC)


@given(st.lists(st.integers(0, 3), min_size=9, max_size=9))
def test_a_phq9_total_is_the_sum_of_its_items_within_0_to_27(items):
    assert rules.item_problems(Instrument.PHQ9, items) == []
    assert 0 <= rules.total(items) == sum(items) <= 27


@given(st.lists(st.integers(0, 3), min_size=7, max_size=7))
def test_a_gad7_total_is_within_0_to_21(items):
    assert rules.item_problems(Instrument.GAD7, items) == []
    assert 0 <= rules.total(items) <= 21


def test_a_wrong_number_of_items_or_an_answer_out_of_range_is_named():
    assert rules.item_problems(Instrument.GAD7, [0] * 9) == ["GAD-7 has 7 items; 9 were given."]
    assert rules.item_problems(Instrument.PHQ9, [0] * 8 + [4]) == ["Item 9 must be 0-3."]


@pytest.mark.parametrize(
    ("instrument", "total", "band"),
    [
        (Instrument.PHQ9, 0, "minimal"),
        (Instrument.PHQ9, 9, "mild"),
        (Instrument.PHQ9, 10, "moderate"),
        (Instrument.PHQ9, 19, "moderately severe"),
        (Instrument.PHQ9, 27, "severe"),
        (Instrument.GAD7, 15, "severe"),
        (Instrument.GAD7, 4, "minimal"),
    ],
)
def test_severity_bands(instrument, total, band):
    assert rules.severity(instrument, total) == band


def test_only_phq9_item_9_above_0_is_a_self_harm_answer():
    assert rules.self_harm_answered(Instrument.PHQ9, [0] * 8 + [1])
    assert not rules.self_harm_answered(Instrument.PHQ9, [3] * 8 + [0])
    assert not rules.self_harm_answered(Instrument.GAD7, [3] * 7)


def test_the_trend_runs_from_the_first_to_the_latest_score_by_time():
    scores = [
        Score(DAY + timedelta(days=7), 12),
        Score(DAY, 20),
        Score(DAY + timedelta(days=14), 8),
    ]
    trend = rules.trend(Instrument.PHQ9, scores)
    assert (trend.first, trend.latest, trend.change, trend.percent_change) == (20, 8, -12, -60.0)
    assert trend.severity == "mild"
    assert [s.total for s in trend.points] == [20, 12, 8]
    assert rules.trend(Instrument.GAD7, []).latest is None
