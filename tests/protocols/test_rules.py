"""Does a definition make sense? Each case breaks one thing and expects the field named."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kapt_api.auth.models import Role
from kapt_api.clinics.models import RoomKind
from kapt_api.protocols.definition import (
    NO_DRIVING_ACKNOWLEDGED,
    AlertAction,
    Channel,
    DischargeCriterion,
    HourWindow,
    Medication,
    PreparationInstructions,
    RoleRequirement,
    Route,
    SessionKind,
    ThresholdPhase,
)
from kapt_api.protocols.measurements import Measurement
from kapt_api.protocols.rules import errors_by_field, route_problems
from kapt_api.protocols.templates import TEMPLATES
from tests.protocols.conftest import ESKETAMINE, IM_KAP
from tests.protocols.shapes import (
    problems,
    with_checklist,
    with_rule,
    with_sequencing,
    with_session,
    with_templates,
    with_threshold,
    with_timepoint,
)

KAP = IM_KAP.definition
DOSING = 2  # index of the dosing session type in the IM KAP template
ESK = ESKETAMINE.definition


def esketamine_problems(definition=ESK):
    return problems(definition, Medication.ESKETAMINE, Route.INTRANASAL)


# --- the templates --------------------------------------------------------------------------


@pytest.mark.parametrize("key", sorted(TEMPLATES))
def test_every_built_in_template_makes_sense(key):
    found = TEMPLATES[key]
    assert problems(found.definition, found.medication, found.route) == {}


def test_a_refusal_lists_every_problem_not_only_the_first():
    broken = with_sequencing(KAP, dose_count=0, integration_window_hours=HourWindow(72, 24))
    broken = with_threshold(broken, 2, low=200.0, high=100.0)
    assert {
        "sequencing.dose_count",
        "sequencing.integration_window_hours.end",
        "checklist.thresholds.2.low",
    } <= set(problems(broken))


def test_errors_by_field_prefixes_each_path():
    found = route_problems(medication=Medication.ESKETAMINE, route=Route.INTRAVENOUS)
    assert list(errors_by_field(found, "definition")) == ["definition.route"]


# --- medication and route -------------------------------------------------------------------


@pytest.mark.parametrize("route", [r for r in Route if r is not Route.INTRANASAL])
def test_esketamine_is_only_a_nasal_spray(route):
    found = route_problems(medication=Medication.ESKETAMINE, route=route)
    assert [p.path for p in found] == ["route"]


@pytest.mark.parametrize("route", list(Route))
def test_racemic_ketamine_may_take_any_route(route):
    assert route_problems(medication=Medication.RACEMIC_KETAMINE, route=route) == []


# --- session types --------------------------------------------------------------------------


def test_a_duplicated_session_type_is_named_where_it_repeats():
    repeated = replace(KAP, session_types=(*KAP.session_types, KAP.session_types[1]))
    found = problems(repeated)
    assert "session_types.4.kind" in found
    assert "session_types.1" in found["session_types.4.kind"][0]


def test_a_protocol_without_dosing_is_refused():
    no_dosing = replace(KAP, session_types=KAP.session_types[:2] + KAP.session_types[3:])
    assert "session_types" in problems(no_dosing)


def test_only_clinical_roles_can_be_required():
    admin_needed = with_session(
        KAP, SessionKind.DOSING, required_roles=(RoleRequirement(frozenset({Role.ADMIN})),)
    )
    assert "session_types.2.required_roles.0.any_of" in problems(admin_needed)


def test_an_empty_role_requirement_is_refused():
    empty = with_session(KAP, SessionKind.DOSING, required_roles=(RoleRequirement(frozenset()),))
    assert "session_types.2.required_roles.0.any_of" in problems(empty)


@pytest.mark.parametrize("route", [Route.INTRAMUSCULAR, Route.INTRAVENOUS])
def test_an_injected_dose_needs_a_nurse_or_prescriber(route):
    therapist_only = with_session(
        KAP,
        SessionKind.DOSING,
        required_roles=(RoleRequirement(frozenset({Role.THERAPIST})),),
    )
    assert "session_types.2.required_roles" in problems(therapist_only, route=route)


def test_a_sublingual_dose_may_have_only_a_therapist_present():
    therapist_only = with_session(
        KAP,
        SessionKind.DOSING,
        required_roles=(RoleRequirement(frozenset({Role.THERAPIST})),),
    )
    assert problems(therapist_only, route=Route.SUBLINGUAL) == {}


def test_an_injected_dose_is_given_in_a_dosing_room():
    at_home = with_session(KAP, SessionKind.DOSING, room_kind=RoomKind.TELEHEALTH)
    assert "session_types.2.room_kind" in problems(at_home)


def test_a_dosing_session_shorter_than_the_monitoring_is_refused():
    short = with_session(KAP, SessionKind.DOSING, duration_minutes=90)
    assert "session_types.2.duration_minutes" in problems(short)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("duration_minutes", 4),
        ("duration_minutes", 721),
        ("buffer_after_minutes", -1),
        ("min_notice_hours", 721),
        ("cancellation_notice_hours", -5),
    ],
)
def test_session_numbers_out_of_range_are_named(field, value):
    assert f"session_types.1.{field}" in problems(
        with_session(KAP, SessionKind.PREPARATION, **{field: value})
    )


# --- checklist -----------------------------------------------------------------------------


def test_a_timepoint_after_the_end_of_monitoring_is_refused():
    found = problems(with_timepoint(KAP, 1, offset_minutes=121))
    assert list(found) == ["checklist.timepoints.1.offset_minutes"]
    assert problems(with_timepoint(KAP, 1, offset_minutes=120)) == {}


def test_a_repeat_ending_after_the_monitoring_is_refused():
    found = problems(with_timepoint(KAP, 2, until_minutes=150))
    assert list(found) == ["checklist.timepoints.2.until_minutes"]


def test_a_repeat_ending_before_it_starts_is_refused():
    found = problems(with_timepoint(KAP, 2, offset_minutes=30, until_minutes=30))
    assert list(found) == ["checklist.timepoints.2.until_minutes"]


def test_a_fixed_timepoint_needs_its_offset():
    found = problems(with_timepoint(KAP, 1, offset_minutes=None))
    assert "checklist.timepoints.1.offset_minutes" in found


def test_a_repeat_needs_its_interval():
    assert "checklist.timepoints.2.every_minutes" in problems(
        with_timepoint(KAP, 2, every_minutes=None)
    )


def test_a_baseline_takes_no_offset():
    assert "checklist.timepoints.0.offset_minutes" in problems(
        with_timepoint(KAP, 0, offset_minutes=10)
    )


def test_one_baseline_only():
    second = replace(KAP.checklist.timepoints[0], key="baseline_again")
    found = problems(with_checklist(KAP, timepoints=(*KAP.checklist.timepoints, second)))
    assert list(found) == ["checklist.timepoints.4.kind"]


def test_a_duplicated_timepoint_key_is_refused():
    found = problems(with_timepoint(KAP, 2, key="bp_40_min"))
    assert list(found) == ["checklist.timepoints.2.key"]


def test_a_timepoint_key_is_a_machine_name():
    assert "checklist.timepoints.0.key" in problems(with_timepoint(KAP, 0, key="Before dose"))


def test_a_measurement_the_checklist_does_not_list_is_unknown_to_it():
    only_bp = with_checklist(KAP, measurements=KAP.checklist.measurements[:2])
    found = problems(only_bp)
    assert "checklist.timepoints.0.measurements.2" in found
    assert "checklist.thresholds.3.measurement" in found


def test_a_measurement_listed_twice_in_a_timepoint_is_refused():
    twice = with_timepoint(KAP, 0, measurements=(Measurement.SPO2, Measurement.SPO2))
    assert "checklist.timepoints.0.measurements.1" in problems(twice)


def test_a_threshold_whose_low_is_above_its_high_is_refused():
    found = problems(with_threshold(KAP, 2, low=180.0, high=90.0))
    assert found == {"checklist.thresholds.2.low": ["Must be below high (90)."]}


def test_a_threshold_with_neither_bound_is_refused():
    assert "checklist.thresholds.3" in problems(with_threshold(KAP, 3, low=None, high=None))


def test_a_threshold_that_can_never_fire_is_refused():
    assert "checklist.thresholds.4.low" in problems(with_threshold(KAP, 4, low=50.0))
    assert "checklist.thresholds.3.high" in problems(with_threshold(KAP, 3, high=250.0))


def test_a_note_cannot_have_a_threshold():
    found = problems(with_threshold(KAP, 3, measurement=Measurement.NOTE))
    assert "checklist.thresholds.3.measurement" in found


def test_a_pre_dose_hold_applies_before_the_dose_only():
    found = problems(with_threshold(KAP, 0, phase=ThresholdPhase.ANY))
    assert list(found) == ["checklist.thresholds.0.phase"]


def test_a_threshold_on_a_reading_never_taken_in_its_phase_is_refused():
    no_baseline_bp = with_timepoint(KAP, 0, measurements=(Measurement.HEART_RATE,))
    found = problems(no_baseline_bp)
    assert "checklist.thresholds.0.measurement" in found


def test_a_plausible_range_upside_down_is_refused():
    items = list(KAP.checklist.measurements)
    items[0] = replace(items[0], plausible_low=200.0, plausible_high=100.0)
    found = problems(with_checklist(KAP, measurements=tuple(items)))
    assert "checklist.measurements.0.plausible_low" in found


def test_a_plausible_range_past_the_physical_limits_is_refused():
    items = list(KAP.checklist.measurements)
    items[3] = replace(items[3], plausible_high=120.0)  # SpO2 above 100 %
    assert "checklist.measurements.3.plausible_high" in problems(
        with_checklist(KAP, measurements=tuple(items))
    )


def test_a_measurement_listed_twice_is_refused():
    items = (*KAP.checklist.measurements, KAP.checklist.measurements[0])
    assert "checklist.measurements.8.measurement" in problems(
        with_checklist(KAP, measurements=items)
    )


def test_discharge_criteria_are_needed_and_distinct():
    assert "checklist.discharge_criteria" in problems(with_checklist(KAP, discharge_criteria=()))
    twice = (*KAP.checklist.discharge_criteria, DischargeCriterion("escort_present", "Again"))
    assert "checklist.discharge_criteria.4.key" in problems(
        with_checklist(KAP, discharge_criteria=twice)
    )


@given(st.floats(0, 400, allow_nan=False))
def test_a_threshold_fires_exactly_outside_its_band(value):
    threshold = KAP.checklist.thresholds[2]  # systolic < 90 or > 180
    assert threshold.breached_by(value) == (value < 90 or value > 180)


@given(st.integers(0, 60), st.integers(1, 30), st.integers(0, 240))
def test_repeats_fall_due_from_their_start_at_their_interval(first, every, end):
    point = replace(KAP.checklist.timepoints[2], offset_minutes=first, every_minutes=every)
    due = point.due_offsets(end)
    assert all(first <= minute <= end for minute in due)
    assert all(b - a == every for a, b in itertools.pairwise(due))
    assert (len(due) > 0) == (first <= end)


def test_thresholds_that_apply_before_and_after_the_dose():
    checklist = KAP.checklist
    before = checklist.thresholds_for(Measurement.SYSTOLIC_BP, pre_dose=True)
    after = checklist.thresholds_for(Measurement.SYSTOLIC_BP, pre_dose=False)
    assert [t.action for t in before] == [AlertAction.PRE_DOSE_HOLD, AlertAction.NOTIFY_PRESCRIBER]
    assert [t.action for t in after] == [AlertAction.NOTIFY_PRESCRIBER]
    assert checklist.plausible_range(Measurement.SPO2) == (50, 100)
    assert checklist.plausible_range(Measurement.NOTE) is None


# --- esketamine label and REMS -------------------------------------------------------------


def test_esketamine_monitoring_is_at_least_two_hours():
    found = esketamine_problems(with_checklist(ESK, min_monitoring_minutes=90))
    assert "checklist.min_monitoring_minutes" in found


def test_esketamine_may_monitor_longer():
    longer = with_checklist(ESK, min_monitoring_minutes=150)
    longer = with_session(longer, SessionKind.DOSING, duration_minutes=180)
    assert esketamine_problems(longer) == {}


def test_esketamine_needs_a_prescriber_on_site():
    nurse = with_session(
        ESK,
        SessionKind.DOSING,
        required_roles=(RoleRequirement(frozenset({Role.NURSE, Role.PRESCRIBER})),),
    )
    assert list(esketamine_problems(nurse)) == ["session_types.1.required_roles"]


def test_esketamine_is_at_most_twice_weekly():
    found = esketamine_problems(with_sequencing(ESK, max_doses_per_7_days=3))
    assert list(found) == ["sequencing.max_doses_per_7_days"]


def test_esketamine_needs_blood_pressure_at_forty_minutes():
    found = esketamine_problems(with_timepoint(ESK, 1, offset_minutes=60))
    assert "checklist.timepoints" in found


def test_esketamine_needs_pulse_oximetry():
    points = tuple(
        replace(t, measurements=tuple(m for m in t.measurements if m is not Measurement.SPO2))
        for t in ESK.checklist.timepoints
    )
    thresholds = tuple(t for t in ESK.checklist.thresholds if t.measurement is not Measurement.SPO2)
    found = esketamine_problems(with_checklist(ESK, timepoints=points, thresholds=thresholds))
    assert "checklist.timepoints" in found
    assert "pulse oximetry" in " ".join(found["checklist.timepoints"])


def test_esketamine_pre_dose_flag_is_no_looser_than_140_over_90():
    found = esketamine_problems(with_threshold(ESK, 0, high=160.0))
    assert list(found) == ["checklist.thresholds"]
    assert esketamine_problems(with_threshold(ESK, 0, high=130.0)) == {}


def test_esketamine_discharge_asks_about_driving():
    criteria = tuple(
        c for c in ESK.checklist.discharge_criteria if c.key != NO_DRIVING_ACKNOWLEDGED
    )
    found = esketamine_problems(with_checklist(ESK, discharge_criteria=criteria))
    assert list(found) == ["checklist.discharge_criteria"]


def test_racemic_protocols_are_not_held_to_the_esketamine_label():
    relaxed = with_checklist(
        with_sequencing(KAP, max_doses_per_7_days=3), min_monitoring_minutes=90
    )
    relaxed = with_timepoint(relaxed, 1, offset_minutes=60)
    assert problems(relaxed) == {}


# --- reminder policy ------------------------------------------------------------------------


def test_reminders_for_a_session_type_the_version_lacks_are_refused():
    found = problems(with_rule(KAP, 0, session_kind=SessionKind.FOLLOW_UP))
    assert list(found) == ["reminder_policy.rules.0.session_kind"]


def test_two_rules_for_one_session_kind_are_refused():
    found = problems(with_rule(KAP, 1, session_kind=SessionKind.INTAKE))
    assert list(found) == ["reminder_policy.rules.1.session_kind"]


def test_a_repeated_reminder_time_is_named():
    assert list(problems(with_rule(KAP, 2, offsets_hours=(72, 24, 72)))) == [
        "reminder_policy.rules.2.offsets_hours.2"
    ]


def test_reminders_need_a_time_and_a_channel():
    found = problems(with_rule(KAP, 2, offsets_hours=(), channels=frozenset()))
    assert set(found) == {
        "reminder_policy.rules.2.offsets_hours",
        "reminder_policy.rules.2.channels",
    }


def test_an_unknown_placeholder_is_named():
    found = problems(with_templates(KAP, 0, email_subject="See {doctor} on {date}"))
    assert list(found) == ["reminder_policy.rules.0.templates.email_subject"]
    assert "{doctor}" in found["reminder_policy.rules.0.templates.email_subject"][0]


def test_a_template_naming_the_patient_is_refused():
    found = problems(with_templates(KAP, 0, email_body="Hello {patient_first_name}, {clinic_name}"))
    assert list(found) == ["reminder_policy.rules.0.templates.email_body"]
    assert found["reminder_policy.rules.0.templates.email_body"] == [
        "Reminders never name the patient: remove {patient_first_name} (a text or an email "
        "may be read by someone else)."
    ]


@pytest.mark.parametrize("template", ["{clinic_name", "{clinic_name.upper}", "{0}", "{date:%Y}"])
def test_placeholders_are_plain_names(template):
    found = problems(with_templates(KAP, 0, email_body=template))
    assert list(found) == ["reminder_policy.rules.0.templates.email_body"]


@pytest.mark.parametrize(
    "subject",
    ["Your ketamine session on {date}", "Treatment reminder {date}", "Dosing day at {clinic_name}"],
)
def test_a_subject_naming_the_treatment_is_refused(subject):
    found = problems(with_templates(KAP, 2, email_subject=subject))
    assert list(found) == ["reminder_policy.rules.2.templates.email_subject"]


def test_a_clinic_may_allow_clinical_words_explicitly():
    naming = with_templates(KAP, 2, email_subject="Your ketamine session on {date}")
    assert problems(with_rule(naming, 2, allow_clinical_terms=True)) == {}


def test_a_text_naming_the_drug_is_refused():
    sms = "{clinic_name}: your Spravato dose is {date} {time}. Call {clinic_phone}. Reply STOP"
    found = problems(with_templates(KAP, 2, sms_body=sms))
    message = found["reminder_policy.rules.2.templates.sms_body"][0]
    assert "dose" in message and "spravato" in message


def test_a_text_too_long_with_a_long_clinic_name_is_refused():
    sms = (
        "{clinic_name} looks forward to seeing you on {date} at {time} at {location}. "
        "If you cannot come please call {clinic_phone}. Reply STOP to opt out."
    )
    found = problems(with_templates(KAP, 0, sms_body=sms))
    assert list(found) == ["reminder_policy.rules.0.templates.sms_body"]
    assert "characters" in found["reminder_policy.rules.0.templates.sms_body"][0]


def test_a_text_names_the_clinic_gives_its_number_and_offers_stop():
    found = problems(with_templates(KAP, 0, sms_body="Appointment {date} at {time}."))
    messages = " ".join(found["reminder_policy.rules.0.templates.sms_body"])
    assert "{clinic_name}" in messages and "{clinic_phone}" in messages and "STOP" in messages


def test_preparation_instructions_never_go_in_a_text_or_subject():
    sms = "{clinic_name} {date}: {preparation_instructions} Call {clinic_phone}. Reply STOP"
    found = problems(
        with_templates(KAP, 2, sms_body=sms, email_subject="{preparation_instructions}")
    )
    assert set(found) == {
        "reminder_policy.rules.2.templates.sms_body",
        "reminder_policy.rules.2.templates.email_subject",
    }


def test_a_subject_is_one_line():
    found = problems(with_templates(KAP, 0, email_subject="Reminder\nBcc: someone@else.test"))
    assert list(found) == ["reminder_policy.rules.0.templates.email_subject"]


def test_opting_in_to_preparation_instructions_needs_email_and_the_placeholder():
    sms_only = with_rule(
        KAP, 2, include_preparation_instructions=True, channels=frozenset({Channel.SMS})
    )
    assert list(problems(sms_only)) == ["reminder_policy.rules.2.include_preparation_instructions"]
    no_place = with_templates(
        with_rule(KAP, 2, include_preparation_instructions=True), 2, email_body="See you {date}."
    )
    assert list(problems(no_place)) == ["reminder_policy.rules.2.include_preparation_instructions"]
    assert problems(with_rule(KAP, 2, include_preparation_instructions=True)) == {}


def test_opting_in_needs_instructions_to_send():
    nothing = replace(
        with_rule(KAP, 2, include_preparation_instructions=True),
        preparation=PreparationInstructions(None, None, False, ""),
    )
    assert list(problems(nothing)) == ["reminder_policy.rules.2.include_preparation_instructions"]


def test_fasting_times_are_bounded():
    found = problems(
        replace(KAP, preparation=replace(KAP.preparation, fasting_solids_minutes=2000))
    )
    assert list(found) == ["preparation.fasting_solids_minutes"]


def test_an_approval_note_is_kept():
    assert list(problems(replace(KAP, approval_note="  "))) == ["approval_note"]


@given(st.sampled_from(sorted(TEMPLATES)), st.integers(-50, 1500), st.sampled_from(range(6)))
def test_every_problem_names_a_field_that_exists(key, number, which):
    """Whatever number lands where, a refusal names a path present in the document."""
    from kapt_api.protocols.definition import to_document

    found = TEMPLATES[key]
    definition = found.definition
    edits = [
        lambda d: with_sequencing(d, dose_count=number),
        lambda d: with_sequencing(d, min_hours_between_doses=number),
        lambda d: with_checklist(d, min_monitoring_minutes=number),
        lambda d: with_timepoint(d, 1, offset_minutes=number),
        lambda d: with_threshold(d, 2, high=float(number)),
        lambda d: with_session(d, SessionKind.DOSING, duration_minutes=number),
    ]
    broken = edits[which](definition)
    document = to_document(broken)
    for path in problems(broken, found.medication, found.route):
        node = document
        for part in path.split("."):
            node = node[int(part)] if isinstance(node, list) else node[part]
