"""The built-in templates carry DOMAIN.md's numbers, their sources and the approval note."""

from __future__ import annotations

import pytest

from kapt_api.auth.models import Role
from kapt_api.clinics.models import RoomKind
from kapt_api.protocols.definition import (
    AlertAction,
    Medication,
    Route,
    SessionKind,
    Severity,
    ThresholdPhase,
    TimepointKind,
)
from kapt_api.protocols.measurements import Measurement
from kapt_api.protocols.templates import TEMPLATES

ESK = TEMPLATES["esketamine-rems-induction"]
IV = TEMPLATES["iv-racemic-series"]
IM = TEMPLATES["im-kap"]
SL = TEMPLATES["sublingual-kap"]
BP = {Measurement.SYSTOLIC_BP, Measurement.DIASTOLIC_BP}


def test_the_four_built_ins_by_name():
    assert [(t.name, t.medication, t.route) for t in TEMPLATES.values()] == [
        ("Esketamine nasal spray (REMS) induction", Medication.ESKETAMINE, Route.INTRANASAL),
        (
            "IV racemic ketamine series (6 infusions over 3 weeks)",
            Medication.RACEMIC_KETAMINE,
            Route.INTRAVENOUS,
        ),
        ("IM KAP", Medication.RACEMIC_KETAMINE, Route.INTRAMUSCULAR),
        ("Sublingual KAP", Medication.RACEMIC_KETAMINE, Route.SUBLINGUAL),
    ]


@pytest.mark.parametrize("key", sorted(TEMPLATES))
def test_each_template_says_where_its_numbers_come_from_and_who_approves_them(key):
    definition = TEMPLATES[key].definition
    assert len(definition.sources) >= 5
    assert all("http" in s or "DOMAIN.md" in s or "et al" in s for s in definition.sources)
    assert "medical director must approve" in definition.approval_note


def test_esketamine_follows_the_label_and_rems():
    definition = ESK.definition
    dosing = definition.session_type(SessionKind.DOSING)
    assert dosing is not None
    assert [r.any_of for r in dosing.required_roles] == [{Role.PRESCRIBER}]
    assert dosing.room_kind is RoomKind.DOSING
    checklist = definition.checklist
    assert checklist.min_monitoring_minutes == 120
    points = {t.kind: t for t in checklist.timepoints}
    assert set(points[TimepointKind.PRE_DOSE].measurements) >= BP
    assert set(points[TimepointKind.BEFORE_DISCHARGE].measurements) >= BP
    at_40 = [t for t in checklist.timepoints if t.offset_minutes == 40]
    assert at_40 and set(at_40[0].measurements) >= BP
    assert all(Measurement.SPO2 in t.measurements for t in checklist.timepoints)


def test_esketamine_flags_a_pre_dose_bp_over_140_90_for_the_prescriber_not_a_cancellation():
    holds = [
        t for t in ESK.definition.checklist.thresholds if t.action is AlertAction.PRE_DOSE_HOLD
    ]
    assert {(t.measurement, t.high, t.phase) for t in holds} == {
        (Measurement.SYSTOLIC_BP, 140, ThresholdPhase.PRE_DOSE),
        (Measurement.DIASTOLIC_BP, 90, ThresholdPhase.PRE_DOSE),
    }
    assert holds[0].breached_by(141) and not holds[0].breached_by(140)


def test_esketamine_is_twice_weekly_for_four_weeks_then_weekly_then_maintenance():
    sequencing = ESK.definition.sequencing
    assert [(p.first_week, p.last_week, p.doses_per_period) for p in sequencing.phases] == [
        (1, 4, 2),
        (5, 8, 1),
        (9, None, 1),  # the label's week 9 on: weekly or every 2 weeks, no end
    ]
    assert sequencing.maintenance is sequencing.phases[-1]
    assert sequencing.phases[0].dose_count == 8  # induction
    assert sequencing.dose_count == 12
    assert sequencing.max_doses_per_7_days == 2


def test_esketamine_preparation_follows_the_label():
    preparation = ESK.definition.preparation
    assert (preparation.fasting_solids_minutes, preparation.fasting_liquids_minutes) == (120, 30)
    assert preparation.driver_required


def test_the_alert_thresholds_are_the_mayo_set():
    expected = {
        (Measurement.SPO2, 95, None),
        (Measurement.SYSTOLIC_BP, 90, 180),
        (Measurement.HEART_RATE, 50, 120),
        (Measurement.RESPIRATORY_RATE, 10, 30),
    }
    for found in TEMPLATES.values():
        notify = {
            (t.measurement, t.low, t.high)
            for t in found.definition.checklist.thresholds
            if t.action is AlertAction.NOTIFY_PRESCRIBER and t.phase is ThresholdPhase.ANY
        }
        assert notify == expected


def test_deep_sedation_escalates_as_critical():
    moaa_s = [t for t in IM.definition.checklist.thresholds if t.measurement is Measurement.MOAA_S]
    assert len(moaa_s) == 1
    assert moaa_s[0].severity is Severity.CRITICAL
    assert moaa_s[0].breached_by(2) and not moaa_s[0].breached_by(3)


def test_the_iv_series_is_six_infusions_over_three_weeks_given_by_medical_staff():
    definition = IV.definition
    assert definition.sequencing.dose_count == 6
    assert [(p.first_week, p.last_week) for p in definition.sequencing.phases] == [(1, 3)]
    dosing = definition.session_type(SessionKind.DOSING)
    assert dosing is not None
    assert [r.any_of for r in dosing.required_roles] == [{Role.NURSE, Role.PRESCRIBER}]
    during = next(t for t in definition.checklist.timepoints if t.key == "during_infusion")
    assert during.due_offsets(90) == (10, 20, 30, 40)


@pytest.mark.parametrize(("template", "window_end"), [(IM, 72), (SL, 168)])
def test_kap_templates_have_preparation_a_therapist_and_integration_after_each_dose(
    template, window_end
):
    definition = template.definition
    assert definition.sequencing.preparation_sessions_required == 2
    assert definition.sequencing.dose_count == 6
    assert definition.sequencing.integration_required
    assert definition.sequencing.next_dose_requires_integration_done
    window = definition.sequencing.integration_window_hours
    assert window is not None and (window.start, window.end) == (24, window_end)
    dosing = definition.session_type(SessionKind.DOSING)
    assert dosing is not None
    assert any(r.any_of == {Role.THERAPIST} for r in dosing.required_roles)


def test_im_kap_also_needs_a_nurse_or_prescriber_while_sublingual_has_a_remote_prescriber():
    im_dosing = IM.definition.session_type(SessionKind.DOSING)
    sl_dosing = SL.definition.session_type(SessionKind.DOSING)
    assert im_dosing is not None and sl_dosing is not None
    assert {Role.NURSE, Role.PRESCRIBER} in [r.any_of for r in im_dosing.required_roles]
    assert [r.any_of for r in sl_dosing.required_roles] == [{Role.THERAPIST}]
    intake = SL.definition.session_type(SessionKind.INTAKE)
    assert intake is not None and intake.room_kind is RoomKind.TELEHEALTH


@pytest.mark.parametrize("key", sorted(TEMPLATES))
def test_dosing_reminders_come_72_and_24_hours_before_and_do_not_send_preparation(key):
    policy = TEMPLATES[key].definition.reminder_policy
    dosing = policy.rule_for(SessionKind.DOSING)
    assert dosing is not None and dosing.offsets_hours == (72, 24)
    assert not any(rule.include_preparation_instructions for rule in policy.rules)
    assert not any(rule.allow_clinical_terms for rule in policy.rules)
