"""Monitoring reading rules over plain values: impossible values, thresholds and the
latest value of each measurement."""

from __future__ import annotations

import pytest

from kapt_api.monitoring import reading_rules as rules
from kapt_api.monitoring.reading_rules import Value
from kapt_api.protocols.definition import AlertAction, Severity
from kapt_api.protocols.templates import TEMPLATES
from tests.monitoring.test_checklist_rules import IM_KAP, minutes, reading

ESKETAMINE = TEMPLATES["esketamine-rems-induction"].definition.checklist


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
