"""Monitoring checklist rules over plain values: which timepoints are due, done or
overdue, and which occurrence a reading belongs to."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from kapt_api.monitoring import checklist_rules as rules
from kapt_api.monitoring.checklist_rules import ReadingFact, TimepointState
from kapt_api.protocols.definition import TimepointKind
from kapt_api.protocols.templates import TEMPLATES

IM_KAP = TEMPLATES["im-kap"].definition.checklist
CHECK_IN = datetime(2026, 12, 8, 15, 0, tzinfo=UTC)
DOSE = CHECK_IN + timedelta(minutes=20)


def minutes(n: float) -> datetime:
    return DOSE + timedelta(minutes=n)


def reading(timepoint: str | None, slot: int | None, at: datetime, **values: float) -> ReadingFact:
    return ReadingFact(uuid.uuid4(), timepoint, slot, at, values)


def status(readings=(), *, now: datetime, dose: datetime | None = DOSE, discharged=None):
    found = rules.checklist_status(
        IM_KAP,
        checked_in_at=CHECK_IN,
        dose_started_at=dose,
        discharged_at=discharged,
        readings=list(readings),
        now=now,
    )
    return {(o.timepoint.key, o.slot_minutes): o for o in found}


# --- due, done, overdue ---------------------------------------------------------------------


def test_before_the_dose_only_the_baseline_has_a_time_and_nothing_is_overdue():
    found = status(now=CHECK_IN + timedelta(minutes=5), dose=None)
    assert found[("baseline", None)].due_at == CHECK_IN
    assert {o.state for o in found.values()} == {TimepointState.DUE}
    assert found[("bp_40_min", 40)].due_at is None


def test_timepoints_fall_due_from_the_dose_start_and_repeat_until_the_minimum_time():
    found = status(now=minutes(1))
    assert found[("bp_40_min", 40)].due_at == minutes(40)
    repeats = sorted(slot for key, slot in found if key == "every_15_min")
    assert repeats == [15, 30, 45, 60, 75, 90, 105, 120]
    assert found[("discharge", None)].due_at == minutes(120)


def test_a_timepoint_is_overdue_once_its_tolerance_has_passed():
    assert status(now=minutes(20))[("every_15_min", 15)].state is TimepointState.DUE
    assert status(
        now=minutes(
            20,
        )
        + timedelta(seconds=1)
    )[("every_15_min", 15)].state is (TimepointState.OVERDUE)
    assert status(now=minutes(20))[("every_15_min", 30)].state is TimepointState.DUE


def test_a_recorded_timepoint_is_done_and_names_its_reading():
    done = reading("every_15_min", 15, minutes(16), heart_rate=70, spo2=98, moaa_s=5)
    found = status([done], now=minutes(50))
    assert found[("every_15_min", 15)].state is TimepointState.DONE
    assert found[("every_15_min", 15)].reading_id == done.id
    assert found[("every_15_min", 30)].state is TimepointState.OVERDUE


def test_the_baseline_is_overdue_once_the_dose_started_without_it():
    assert status(now=minutes(1))[("baseline", None)].state is TimepointState.OVERDUE
    assert status(now=CHECK_IN + timedelta(hours=3), dose=None)[("baseline", None)].state is (
        TimepointState.DUE
    )


def test_the_before_discharge_check_is_never_overdue_discharge_waits_for_it():
    assert status(now=minutes(300))[("discharge", None)].state is TimepointState.DUE


def test_a_later_discharge_extends_the_repeating_timepoints():
    found = status(now=minutes(200), discharged=minutes(150))
    assert max(slot for key, slot in found if key == "every_15_min") == 150


def filed(key: str, taken: float | None, *, dose: datetime | None = DOSE, end: int = 120):
    point = next(t for t in IM_KAP.timepoints if t.key == key)
    at = minutes(taken) if taken is not None else CHECK_IN
    found = rules.filing(IM_KAP, point, dose_started_at=dose, measured_at=at, end=end)
    return (found.timepoint, found.slot_minutes)


@pytest.mark.parametrize(
    ("taken", "slot"), [(14, 15), (20, 15), (25, 30), (120, 120), (124, 120), (10, 15)]
)
def test_a_reading_inside_the_tolerance_is_filed_at_the_nearest_occurrence(taken, slot):
    assert filed("every_15_min", taken) == ("every_15_min", slot)


@pytest.mark.parametrize("taken", [22, 23, 200, -5, 9])
def test_a_reading_outside_every_occurrences_tolerance_is_unscheduled(taken):
    assert filed("every_15_min", taken) == (None, None)


def test_a_reading_at_minute_0_is_not_the_40_minute_blood_pressure():
    # The fault this guards against: a reading right after the dose marked the 40-minute
    # check done. The blood-pressure peak check takes 30 to 50 minutes (±10).
    assert filed("bp_40_min", 0) == (None, None)
    assert filed("bp_40_min", 29) == (None, None)
    assert filed("bp_40_min", 30) == ("bp_40_min", 40)
    assert filed("bp_40_min", 50) == ("bp_40_min", 40)
    assert filed("bp_40_min", 51) == (None, None)
    assert filed("bp_40_min", 40, dose=None) == (None, None)


def test_the_baseline_is_before_the_dose_and_the_final_check_near_its_end():
    assert filed("baseline", None) == ("baseline", None)
    assert filed("baseline", None, dose=None) == ("baseline", None)
    assert filed("baseline", 1) == (None, None)
    final = next(t for t in IM_KAP.timepoints if t.kind is TimepointKind.BEFORE_DISCHARGE)
    early = IM_KAP.min_monitoring_minutes - final.tolerance_minutes
    assert filed(final.key, early - 1) == (None, None)
    assert filed(final.key, early) == (final.key, None)


def test_an_unscheduled_reading_leaves_its_timepoint_due():
    found = status([reading(None, None, minutes(0), systolic_bp=120)], now=minutes(41))
    assert found[("bp_40_min", 40)].state is TimepointState.DUE
