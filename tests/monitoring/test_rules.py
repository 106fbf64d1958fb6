"""Monitoring rules over plain values: due/done/overdue, impossible values, thresholds,
discharge criteria."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from kapt_api.monitoring import rules
from kapt_api.monitoring.rules import ReadingFact, TimepointState, Value
from kapt_api.protocols.definition import (
    ALERT_AND_ORIENTED,
    ESCORT_PRESENT,
    NO_DRIVING_ACKNOWLEDGED,
    AlertAction,
    Severity,
)
from kapt_api.protocols.templates import TEMPLATES

IM_KAP = TEMPLATES["im-kap"].definition.checklist
ESKETAMINE = TEMPLATES["esketamine-rems-induction"].definition.checklist
CHECK_IN = datetime(2026, 12, 8, 15, 0, tzinfo=UTC)
DOSE = CHECK_IN + timedelta(minutes=20)
ALL_CONFIRMED = frozenset({ALERT_AND_ORIENTED, ESCORT_PRESENT, NO_DRIVING_ACKNOWLEDGED})


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


@pytest.mark.parametrize(("taken", "slot"), [(14, 15), (22, 15), (23, 30), (200, 120), (-5, 15)])
def test_a_reading_belongs_to_the_nearest_occurrence(taken, slot):
    every = next(t for t in IM_KAP.timepoints if t.key == "every_15_min")
    assert rules.slot_for(every, dose_started_at=DOSE, measured_at=minutes(taken), end=120) == slot


# --- values -----------------------------------------------------------------------------------


def test_impossible_values_wrong_units_and_missing_measurements_are_named():
    baseline = next(t for t in IM_KAP.timepoints if t.key == "baseline")
    problems = rules.value_problems(
        IM_KAP,
        baseline,
        [
            Value("systolic_bp", 420, "mm[Hg]"),
            Value("diastolic_bp", 80, "mmHg"),
            Value("heart_rate", 72.5, "/min"),
            Value("spo2", 98, "%"),
        ],
    )
    assert set(problems) == {
        "values.systolic_bp",
        "values.diastolic_bp",
        "values.heart_rate",
        "values.respiratory_rate",
    }
    assert "not a plausible" in problems["values.systolic_bp"][0]
    assert "mm[Hg]" in problems["values.diastolic_bp"][0]
    assert "whole number" in problems["values.heart_rate"][0]
    assert "Required" in problems["values.respiratory_rate"][0]


def test_an_ad_hoc_reading_may_carry_any_measured_value_alone():
    assert rules.value_problems(IM_KAP, None, [Value("spo2", 97, "%")]) == {}
    assert "values.note" in rules.value_problems(IM_KAP, None, [Value("note", 1, "")])
    repeated = rules.value_problems(IM_KAP, None, [Value("spo2", 97, "%")] * 2)
    assert repeated == {"values.spo2": ["Give each measurement once."]}


# --- thresholds -------------------------------------------------------------------------------


def test_a_baseline_beyond_the_hold_threshold_holds_the_dose():
    found = rules.breaches(ESKETAMINE, {"systolic_bp": 150, "diastolic_bp": 85}, pre_dose=True)
    assert [(b.measurement.value, b.holds_dose) for b in found] == [("systolic_bp", True)]
    assert found[0].threshold.action is AlertAction.PRE_DOSE_HOLD
    assert "150" in found[0].sentence()


def test_the_hold_threshold_does_not_apply_after_the_dose():
    assert rules.breaches(ESKETAMINE, {"systolic_bp": 150}, pre_dose=False) == []


@pytest.mark.parametrize(
    ("values", "severity"),
    [
        ({"systolic_bp": 185}, Severity.CRITICAL),
        ({"systolic_bp": 85}, Severity.CRITICAL),
        ({"heart_rate": 130}, Severity.WARNING),
        ({"spo2": 93}, Severity.WARNING),
        ({"respiratory_rate": 8}, Severity.CRITICAL),
        ({"moaa_s": 2}, Severity.CRITICAL),
    ],
)
def test_in_session_thresholds_carry_their_severity(values, severity):
    (breach,) = rules.breaches(IM_KAP, values, pre_dose=False)
    assert breach.threshold.severity is severity


def test_values_inside_every_threshold_raise_nothing():
    calm = {"systolic_bp": 130, "diastolic_bp": 80, "heart_rate": 70, "spo2": 98, "moaa_s": 5}
    assert rules.breaches(IM_KAP, calm, pre_dose=False) == []


def test_the_latest_value_of_each_measurement_wins():
    early = reading(None, None, minutes(10), spo2=91, heart_rate=80)
    late = reading(None, None, minutes(30), spo2=97)
    assert rules.latest_values([late, early]) == {"spo2": 97, "heart_rate": 80}


# --- discharge --------------------------------------------------------------------------------


def complete_readings() -> list[ReadingFact]:
    found = [reading("baseline", None, CHECK_IN, systolic_bp=120, diastolic_bp=80)]
    found.append(reading("bp_40_min", 40, minutes(40), systolic_bp=130, diastolic_bp=85))
    found += [
        reading("every_15_min", slot, minutes(slot), heart_rate=70, spo2=98, moaa_s=5)
        for slot in range(15, 121, 15)
    ]
    found.append(reading("discharge", None, minutes(121), systolic_bp=125, spo2=98, moaa_s=5))
    return found


def discharge(readings, *, now, confirmed=ALL_CONFIRMED, overridden=False, dose=DOSE):
    occurrences = rules.checklist_status(
        IM_KAP,
        checked_in_at=CHECK_IN,
        dose_started_at=dose,
        discharged_at=None,
        readings=readings,
        now=now,
    )
    facts = rules.DischargeFacts(
        dose, occurrences, rules.latest_values(readings), frozenset(confirmed), overridden
    )
    return rules.discharge_violations(IM_KAP, facts, now=now)


def test_discharge_with_everything_in_place_is_allowed():
    assert discharge(complete_readings(), now=minutes(125)) == []


def test_a_refused_discharge_lists_everything_still_missing():
    readings = [reading("baseline", None, CHECK_IN, systolic_bp=120, diastolic_bp=80)]
    readings.append(reading(None, None, minutes(50), spo2=90))
    found = discharge(readings, now=minutes(60), confirmed={ESCORT_PRESENT})
    codes = [v.rule for v in found]
    assert codes.count("minimum_monitoring_time") == 1
    assert found[0].details == {"minutes_remaining": 60}
    missing = {
        (v.details["timepoint"], v.details["slot_minutes"])
        for v in found
        if v.rule == "timepoint_missing"
    }
    assert missing == {
        ("bp_40_min", 40),
        ("every_15_min", 15),
        ("every_15_min", 30),
        ("every_15_min", 45),
        ("every_15_min", 60),
        ("discharge", None),
    }
    assert [v.details["measurement"] for v in found if v.rule == "readings_out_of_range"] == [
        "spo2"
    ]
    unconfirmed = {
        v.details["criterion"] for v in found if v.rule == "discharge_criterion_unconfirmed"
    }
    assert unconfirmed == {ALERT_AND_ORIENTED, NO_DRIVING_ACKNOWLEDGED}


def test_a_prescriber_override_lifts_only_the_out_of_range_readings():
    readings = [*complete_readings(), reading(None, None, minutes(122), spo2=93)]
    assert [v.rule for v in discharge(readings, now=minutes(125))] == ["readings_out_of_range"]
    assert discharge(readings, now=minutes(125), overridden=True) == []
    short = discharge(readings, now=minutes(100), overridden=True)
    assert "minimum_monitoring_time" in [v.rule for v in short]


def test_no_discharge_before_the_dose_started():
    assert [v.rule for v in discharge([], now=minutes(300), dose=None)] == ["dose_not_started"]
