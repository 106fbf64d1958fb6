"""Monitoring discharge rules over plain values: the minimum time, the required
timepoints, the last readings and the discharge criteria."""

from __future__ import annotations

from kapt_api.monitoring import checklist_rules, discharge_rules, reading_rules
from kapt_api.monitoring.checklist_rules import ReadingFact
from kapt_api.protocols.definition import (
    ALERT_AND_ORIENTED,
    ESCORT_PRESENT,
    NO_DRIVING_ACKNOWLEDGED,
)
from tests.monitoring.test_checklist_rules import CHECK_IN, DOSE, IM_KAP, minutes, reading

ALL_CONFIRMED = frozenset({ALERT_AND_ORIENTED, ESCORT_PRESENT, NO_DRIVING_ACKNOWLEDGED})


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
    occurrences = checklist_rules.checklist_status(
        IM_KAP,
        checked_in_at=CHECK_IN,
        dose_started_at=dose,
        discharged_at=None,
        readings=readings,
        now=now,
    )
    facts = discharge_rules.DischargeFacts(
        dose, occurrences, reading_rules.latest_values(readings), frozenset(confirmed), overridden
    )
    return discharge_rules.discharge_violations(IM_KAP, facts, now=now)


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
