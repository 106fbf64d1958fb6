"""The stored document and the wire schema agree with the typed definition: any
definition the schema accepts round-trips, and measurements carry DOMAIN.md §4's codes."""

from __future__ import annotations

import json
import string
from typing import Any

import marshmallow as ma
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kapt_api.auth.models import Role
from kapt_api.clinics.models import RoomKind
from kapt_api.protocols.definition import (
    AlertAction,
    Channel,
    ChecklistMeasurement,
    ChecklistTemplate,
    DischargeCriterion,
    HourWindow,
    MessageTemplates,
    Phase,
    PreparationInstructions,
    ProtocolDefinition,
    ReminderPolicy,
    ReminderRule,
    RoleRequirement,
    Sequencing,
    SessionKind,
    SessionType,
    Severity,
    Threshold,
    ThresholdPhase,
    Timepoint,
    TimepointKind,
    from_document,
    to_document,
)
from kapt_api.protocols.definition_schemas import DefinitionSchema, ReminderPolicySchema
from kapt_api.protocols.measurements import LOINC, Measurement
from kapt_api.protocols.reminder_text import DEFAULT_SMS
from tests.protocols.conftest import IM_KAP

WORDS = (
    st.text(string.ascii_letters + string.digits + " .,-()/", min_size=1, max_size=30)
    .map(str.strip)
    .filter(bool)
)
KEYS = st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True)
MINUTES = st.integers(0, 720)
NUMBERS = st.floats(0, 1000, allow_nan=False, allow_infinity=False)


def _tuples(elements: st.SearchStrategy[Any], low: int = 0, high: int = 5) -> Any:
    return st.lists(elements, min_size=low, max_size=high).map(tuple)


def _enums(enum: Any, low: int, high: int) -> Any:
    return st.frozensets(st.sampled_from(list(enum)), min_size=low, max_size=high)


@st.composite
def measured(draw: st.DrawFn) -> ChecklistMeasurement:
    measurement = draw(st.sampled_from(list(Measurement)))
    low = draw(st.none() | NUMBERS)
    high = (
        draw(st.none() | NUMBERS)
        if low is not None or not measurement.info.numeric
        else draw(NUMBERS)
    )
    return ChecklistMeasurement(measurement, low, high)


SESSIONS = st.builds(
    SessionType,
    kind=st.sampled_from(list(SessionKind)),
    duration_minutes=st.integers(5, 720),
    room_kind=st.sampled_from(list(RoomKind)),
    required_roles=_tuples(st.builds(RoleRequirement, any_of=_enums(Role, 1, 3))),
    buffer_after_minutes=st.integers(0, 240),
    min_notice_hours=MINUTES,
    cancellation_notice_hours=MINUTES,
)
SEQUENCING = st.builds(
    Sequencing,
    preparation_sessions_required=st.integers(0, 10),
    dose_count=st.integers(1, 100),
    phases=_tuples(
        st.builds(
            Phase,
            name=WORDS,
            first_week=st.integers(1, 104),
            last_week=st.integers(1, 104),
            doses_per_period=st.integers(1, 14),
            period_weeks=st.integers(1, 8),
        ),
        high=4,
    ),
    min_hours_between_doses=MINUTES,
    max_doses_per_7_days=st.integers(1, 7),
    integration_required=st.booleans(),
    integration_window_hours=st.none()
    | st.builds(HourWindow, start=MINUTES, end=st.integers(1, 720)),
    next_dose_requires_integration_done=st.booleans(),
)
CHECKLIST = st.builds(
    ChecklistTemplate,
    min_monitoring_minutes=st.integers(1, 720),
    measurements=_tuples(measured(), 1, 9),
    timepoints=_tuples(
        st.builds(
            Timepoint,
            key=KEYS,
            label=WORDS,
            kind=st.sampled_from(list(TimepointKind)),
            measurements=_tuples(st.sampled_from(list(Measurement)), 1, 9),
            offset_minutes=st.none() | MINUTES,
            every_minutes=st.none() | st.integers(1, 240),
            until_minutes=st.none() | st.integers(1, 720),
            tolerance_minutes=st.integers(0, 60),
        ),
        1,
        6,
    ),
    thresholds=_tuples(
        st.builds(
            Threshold,
            measurement=st.sampled_from(list(Measurement)),
            low=st.none() | NUMBERS,
            high=st.none() | NUMBERS,
            severity=st.sampled_from(list(Severity)),
            action=st.sampled_from(list(AlertAction)),
            phase=st.sampled_from(list(ThresholdPhase)),
            message=st.just("") | WORDS,
        )
    ),
    discharge_criteria=_tuples(st.builds(DischargeCriterion, key=KEYS, label=WORDS), 1, 5),
)
POLICY = st.builds(
    ReminderPolicy,
    rules=_tuples(
        st.builds(
            ReminderRule,
            session_kind=st.sampled_from(list(SessionKind)),
            offsets_hours=_tuples(st.integers(1, 720), 1, 5),
            channels=_enums(Channel, 1, 2),
            templates=st.builds(
                MessageTemplates,
                sms_body=WORDS | st.just(DEFAULT_SMS),
                email_subject=WORDS,
                email_body=st.text(string.ascii_letters + " \n{}.", min_size=1, max_size=80).filter(
                    str.strip
                ),
            ),
            include_preparation_instructions=st.booleans(),
            allow_clinical_terms=st.booleans(),
        ),
        high=5,
    ),
)
DEFINITIONS = st.builds(
    ProtocolDefinition,
    session_types=_tuples(SESSIONS, 1, 5),
    sequencing=SEQUENCING,
    checklist=CHECKLIST,
    reminder_policy=POLICY,
    preparation=st.builds(
        PreparationInstructions,
        fasting_solids_minutes=st.none() | st.integers(0, 1440),
        fasting_liquids_minutes=st.none() | st.integers(0, 1440),
        driver_required=st.booleans(),
        other_instructions=st.just("") | WORDS,
    ),
    sources=_tuples(WORDS, 0, 4),
    approval_note=WORDS,
)


@settings(max_examples=40, deadline=None)
@given(DEFINITIONS)
def test_any_definition_the_schema_accepts_round_trips(definition):
    document = to_document(definition)
    stored = json.loads(json.dumps(document))
    assert from_document(stored) == definition
    wire = DefinitionSchema().dump(definition)
    assert wire == {k: v for k, v in document.items() if k != "schema_version"}
    assert DefinitionSchema().load(json.loads(json.dumps(wire))) == definition


@settings(max_examples=15, deadline=None)
@given(DEFINITIONS)
def test_equal_definitions_give_equal_documents(definition):
    """Sets are written sorted: the document (and so an ETag) does not depend on order."""
    assert json.dumps(to_document(definition)) == json.dumps(
        to_document(from_document(json.loads(json.dumps(to_document(definition)))))
    )


def test_a_document_of_an_unknown_schema_version_is_not_guessed_at():
    document = {**to_document(IM_KAP.definition), "schema_version": 99}
    with pytest.raises(ValueError, match="schema_version"):
        from_document(document)


def test_omitted_parts_take_their_defaults():
    wire = DefinitionSchema().dump(IM_KAP.definition)
    for name in ("reminder_policy", "preparation", "sources", "approval_note"):
        wire.pop(name)
    for item in wire["checklist"]["measurements"]:
        item.pop("plausible_low")
        item.pop("plausible_high")
    loaded = DefinitionSchema().load(wire)
    assert [r.session_kind for r in loaded.reminder_policy.rules] == [
        s.kind for s in loaded.session_types
    ]
    dosing = loaded.reminder_policy.rule_for(SessionKind.DOSING)
    assert dosing is not None and dosing.offsets_hours == (72, 24)
    assert loaded.checklist.plausible_range(Measurement.SYSTOLIC_BP) == (40, 300)
    assert "medical director" in loaded.approval_note
    assert loaded.preparation.empty


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("sequencing", "dose_count"), 0),
        (("sequencing", "dose_count"), True),
        (("sequencing", "dose_count"), "6"),
        (("sequencing", "dose_count"), 2.5),
        (("checklist", "thresholds", 0, "measurement"), "blood_sugar"),
        (("checklist", "thresholds", 0, "low"), "90"),
        (("checklist", "timepoints", 0, "key"), "Before Dose"),
        (("session_types", 0, "kind"), "consultation"),
        (("session_types", 0, "required_roles", 0, "any_of"), ["janitor"]),
        (("reminder_policy", "rules", 0, "channels"), ["fax"]),
    ],
)
def test_the_schema_names_the_field_it_refuses(path, value):
    wire = DefinitionSchema().dump(IM_KAP.definition)
    node = wire
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    with pytest.raises(ma.ValidationError) as refused:
        DefinitionSchema().load(wire)
    node = refused.value.messages
    for part in path:
        assert part in node, (part, refused.value.messages)
        node = node[part]


def test_unknown_fields_are_refused():
    wire = ReminderPolicySchema().dump(IM_KAP.definition.reminder_policy)
    wire["rules"][0]["send_at_midnight"] = True
    with pytest.raises(ma.ValidationError, match="Unknown field"):
        ReminderPolicySchema().load(wire)


# --- measurements: DOMAIN.md §4.2 -----------------------------------------------------------

CODES = {
    Measurement.SYSTOLIC_BP: ("8480-6", "mm[Hg]"),
    Measurement.DIASTOLIC_BP: ("8462-4", "mm[Hg]"),
    Measurement.HEART_RATE: ("8867-4", "/min"),
    Measurement.RESPIRATORY_RATE: ("9279-1", "/min"),
    Measurement.SPO2: ("2708-6", "%"),
    Measurement.TEMPERATURE: ("8310-5", "Cel"),
}


@pytest.mark.parametrize(("measurement", "expected"), CODES.items())
def test_vital_signs_carry_their_loinc_code_and_ucum_unit(measurement, expected):
    info = measurement.info
    assert (info.code_system, info.code, info.unit) == (LOINC, *expected)


def test_blood_pressure_is_one_panel_and_pulse_oximetry_has_its_extra_code():
    assert Measurement.SYSTOLIC_BP.info.panel_code == "85354-9"
    assert Measurement.DIASTOLIC_BP.info.panel_code == "85354-9"
    assert Measurement.SPO2.info.extra_codes == ("59408-5",)


def test_scores_without_a_verified_loinc_code_use_a_local_code():
    assert Measurement.MOAA_S.info.code_system != LOINC
    assert Measurement.MOAA_S.info.limits == (0, 5)
    assert Measurement.DISSOCIATION.info.code_system != LOINC


@pytest.mark.parametrize("measurement", [m for m in Measurement if m.info.numeric])
def test_default_plausible_ranges_lie_inside_the_physical_limits(measurement):
    info = measurement.info
    assert info.limits is not None and info.plausible is not None
    assert info.limits[0] <= info.plausible[0] < info.plausible[1] <= info.limits[1]
