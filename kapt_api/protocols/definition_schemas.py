"""The wire form of a protocol definition.

These schemas load straight into the frozen dataclasses of definition.py and
dump them back, so one description serves requests, answers and the OpenAPI
document. They check shapes and bounds; whether the whole makes sense is rules.py's
question, answered with the same field paths.
"""

from __future__ import annotations

from typing import Any, ClassVar

import marshmallow as ma

from kapt_api import fields
from kapt_api.auth.models import Role
from kapt_api.clinics.models import RoomKind
from kapt_api.fields import Flag, Text
from kapt_api.protocols.checklist import (
    AlertAction,
    ChecklistMeasurement,
    ChecklistTemplate,
    DischargeCriterion,
    Severity,
    Threshold,
    ThresholdPhase,
    Timepoint,
    TimepointKind,
)
from kapt_api.protocols.checklist_rules import (
    KEY,
    MAX_EVERY_MINUTES,
    MAX_MONITORING_MINUTES,
    MAX_TOLERANCE_MINUTES,
)
from kapt_api.protocols.definition import (
    DEFAULT_APPROVAL_NOTE,
    PreparationInstructions,
    ProtocolDefinition,
)
from kapt_api.protocols.measurements import Measurement
from kapt_api.protocols.reminder_policy import (
    Channel,
    MessageTemplates,
    ReminderPolicy,
    ReminderRule,
)
from kapt_api.protocols.reminder_rules import MAX_OFFSET_HOURS, MAX_OFFSETS
from kapt_api.protocols.reminder_text import default_policy, default_templates
from kapt_api.protocols.rules import (
    MAX_BUFFER_MINUTES,
    MAX_DOSES,
    MAX_DOSES_PER_PERIOD,
    MAX_FASTING_MINUTES,
    MAX_HOURS_BETWEEN_DOSES,
    MAX_NOTICE_HOURS,
    MAX_PERIOD_WEEKS,
    MAX_PREPARATION_SESSIONS,
    MAX_SESSION_MINUTES,
    MAX_WEEKS,
    MAX_WINDOW_HOURS,
    MIN_SESSION_MINUTES,
)
from kapt_api.protocols.sequencing import HourWindow, Phase, Sequencing
from kapt_api.protocols.session_types import RoleRequirement, SessionKind, SessionType

Range = ma.validate.Range
Length = ma.validate.Length


class StrictInteger(fields.Integer):
    """A JSON integer as JSON Schema means it: 12 or 12.0 (true, 1.5 and "12" are refused)."""


class Whole(StrictInteger):
    """A JSON integer from low to high."""

    def __init__(self, low: int, high: int, **kwargs: Any) -> None:
        super().__init__(validate=Range(min=low, max=high), **kwargs)


class Number(fields.Number):
    """A JSON number from 0 to 1000 (a numeric string or a boolean is refused)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(validate=Range(min=0, max=1000), **kwargs)


class EnumSet(ma.fields.List):
    """A set of enum values: loaded as a frozenset, written sorted."""

    def __init__(self, enum: Any, **kwargs: Any) -> None:
        super().__init__(ma.fields.Enum(enum, by_value=True), **kwargs)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        out = super()._serialize(value, attr, obj, **kwargs)
        return None if out is None else sorted(out)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        return frozenset(super()._deserialize(value, attr, data, **kwargs))


class Key(Text):
    """A short machine name: lower-case letters, digits and _, starting with a letter."""

    def __init__(self, **kwargs: Any) -> None:
        word = ma.validate.Regexp(KEY, error="Use lower-case letters, digits and _.")
        kwargs.update(min_length=1, max_length=40, pattern=KEY.pattern)
        super().__init__(strip=False, validate=word, **kwargs)


def enum_field(enum: Any, **kwargs: Any) -> ma.fields.Enum:
    return ma.fields.Enum(enum, by_value=True, **kwargs)


def stored_value(enum: Any) -> ma.fields.String:
    """An enum's value as the database keeps it (a plain string)."""
    return ma.fields.String(required=True, validate=ma.validate.OneOf([e.value for e in enum]))


class ValueSchema(ma.Schema):
    """Loads into a frozen dataclass (`value_class`); lists become tuples."""

    value_class: ClassVar[type]

    @ma.post_load
    def _make(self, data: dict[str, Any], **_kwargs: Any) -> Any:
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        return self.value_class(**self.complete(values))

    def complete(self, values: dict[str, Any]) -> dict[str, Any]:
        return values


class RoleRequirementSchema(ValueSchema):
    value_class = RoleRequirement
    any_of = EnumSet(
        Role,
        required=True,
        validate=Length(min=1, max=3),
        metadata={"description": "Any one of these roles (a different person per requirement)"},
    )


class SessionTypeSchema(ValueSchema):
    value_class = SessionType
    kind = enum_field(SessionKind, required=True)
    duration_minutes = Whole(MIN_SESSION_MINUTES, MAX_SESSION_MINUTES, required=True)
    room_kind = enum_field(RoomKind, required=True)
    required_roles = ma.fields.List(
        ma.fields.Nested(RoleRequirementSchema), required=True, validate=Length(max=5)
    )
    buffer_after_minutes = Whole(0, MAX_BUFFER_MINUTES, load_default=0)
    min_notice_hours = Whole(0, MAX_NOTICE_HOURS, load_default=0)
    cancellation_notice_hours = Whole(0, MAX_NOTICE_HOURS, load_default=0)


class PhaseSchema(ValueSchema):
    value_class = Phase
    name = Text(min_length=1, max_length=80, required=True)
    first_week = Whole(1, MAX_WEEKS, required=True)
    last_week = Whole(
        1,
        MAX_WEEKS,
        required=True,
        allow_none=True,
        metadata={
            "description": "The phase's last course week; null on the last phase makes it "
            "open-ended (maintenance: it runs until the course is ended)."
        },
    )
    doses_per_period = Whole(1, MAX_DOSES_PER_PERIOD, required=True)
    period_weeks = Whole(1, MAX_PERIOD_WEEKS, load_default=1)


class HourWindowSchema(ValueSchema):
    value_class = HourWindow
    start = Whole(0, MAX_WINDOW_HOURS, required=True)
    end = Whole(1, MAX_WINDOW_HOURS, required=True)


class SequencingSchema(ValueSchema):
    value_class = Sequencing
    preparation_sessions_required = Whole(0, MAX_PREPARATION_SESSIONS, required=True)
    dose_count = StrictInteger(
        required=True,
        validate=Range(min=1, max=MAX_DOSES, error=f"A course has 1 to {MAX_DOSES} doses."),
    )
    phases = ma.fields.List(
        ma.fields.Nested(PhaseSchema), load_default=list, validate=Length(max=12)
    )
    min_hours_between_doses = Whole(0, MAX_HOURS_BETWEEN_DOSES, required=True)
    max_doses_per_7_days = Whole(1, 7, required=True)
    integration_required = Flag(required=True)
    integration_window_hours = ma.fields.Nested(
        HourWindowSchema, allow_none=True, load_default=None
    )
    next_dose_requires_integration_done = Flag(load_default=False)


class ChecklistMeasurementSchema(ValueSchema):
    value_class = ChecklistMeasurement
    measurement = enum_field(Measurement, required=True)
    plausible_low = Number(allow_none=True, load_default=None)
    plausible_high = Number(allow_none=True, load_default=None)

    def complete(self, values: dict[str, Any]) -> dict[str, Any]:
        plausible = values["measurement"].info.plausible
        if plausible and values["plausible_low"] is None and values["plausible_high"] is None:
            values["plausible_low"], values["plausible_high"] = plausible
        return values


class TimepointSchema(ValueSchema):
    value_class = Timepoint
    key = Key(required=True)
    label = Text(min_length=1, max_length=200, required=True)
    kind = enum_field(TimepointKind, required=True)
    measurements = ma.fields.List(
        enum_field(Measurement), required=True, validate=Length(min=1, max=len(Measurement))
    )
    offset_minutes = Whole(0, MAX_MONITORING_MINUTES, allow_none=True, load_default=None)
    every_minutes = Whole(1, MAX_EVERY_MINUTES, allow_none=True, load_default=None)
    until_minutes = Whole(1, MAX_MONITORING_MINUTES, allow_none=True, load_default=None)
    tolerance_minutes = Whole(0, MAX_TOLERANCE_MINUTES, load_default=5)


class ThresholdSchema(ValueSchema):
    value_class = Threshold
    measurement = enum_field(Measurement, required=True)
    low = Number(allow_none=True, load_default=None, metadata={"description": "Alert below"})
    high = Number(allow_none=True, load_default=None, metadata={"description": "Alert above"})
    severity = enum_field(Severity, required=True)
    action = enum_field(AlertAction, load_default=AlertAction.NOTIFY_PRESCRIBER)
    phase = enum_field(ThresholdPhase, load_default=ThresholdPhase.ANY)
    message = Text(max_length=300, load_default="")


class DischargeCriterionSchema(ValueSchema):
    value_class = DischargeCriterion
    key = Key(required=True)
    label = Text(min_length=1, max_length=200, required=True)


class ChecklistSchema(ValueSchema):
    value_class = ChecklistTemplate
    min_monitoring_minutes = Whole(1, MAX_MONITORING_MINUTES, required=True)
    measurements = ma.fields.List(
        ma.fields.Nested(ChecklistMeasurementSchema),
        required=True,
        validate=Length(min=1, max=len(Measurement)),
    )
    timepoints = ma.fields.List(
        ma.fields.Nested(TimepointSchema), required=True, validate=Length(min=1, max=30)
    )
    thresholds = ma.fields.List(
        ma.fields.Nested(ThresholdSchema), load_default=list, validate=Length(max=50)
    )
    discharge_criteria = ma.fields.List(
        ma.fields.Nested(DischargeCriterionSchema), required=True, validate=Length(min=1, max=20)
    )


class MessageTemplatesSchema(ValueSchema):
    value_class = MessageTemplates
    sms_body = Text(min_length=1, max_length=320, required=True)
    email_subject = Text(min_length=1, max_length=200, required=True)
    email_body = Text(min_length=1, max_length=5000, strip=False, required=True)


class ReminderRuleSchema(ValueSchema):
    value_class = ReminderRule
    session_kind = enum_field(SessionKind, required=True)
    offsets_hours = ma.fields.List(
        Whole(1, MAX_OFFSET_HOURS),
        required=True,
        validate=Length(min=1, max=MAX_OFFSETS),
        metadata={"description": "Hours before the session"},
    )
    channels = EnumSet(Channel, required=True, validate=Length(min=1, max=len(Channel)))
    templates = ma.fields.Nested(
        MessageTemplatesSchema,
        load_default=None,
        metadata={"description": "Omit for the default PHI-safe wording"},
    )
    include_preparation_instructions = Flag(load_default=False)
    allow_clinical_terms = Flag(load_default=False)

    def complete(self, values: dict[str, Any]) -> dict[str, Any]:
        if values["templates"] is None:
            values["templates"] = default_templates(values["session_kind"])
        return values


class ReminderPolicySchema(ValueSchema):
    value_class = ReminderPolicy
    rules = ma.fields.List(
        ma.fields.Nested(ReminderRuleSchema),
        required=True,
        validate=Length(max=len(SessionKind)),
    )


class PreparationSchema(ValueSchema):
    value_class = PreparationInstructions
    fasting_solids_minutes = Whole(0, MAX_FASTING_MINUTES, allow_none=True, load_default=None)
    fasting_liquids_minutes = Whole(0, MAX_FASTING_MINUTES, allow_none=True, load_default=None)
    driver_required = Flag(load_default=False)
    other_instructions = Text(max_length=1000, load_default="")


NO_PREPARATION = PreparationInstructions(None, None, False, "")


class DefinitionSections(ma.Schema):
    """The sections of a definition; a PATCH sends any of them, each whole."""

    session_types = ma.fields.List(
        ma.fields.Nested(SessionTypeSchema), validate=Length(min=1, max=len(SessionKind))
    )
    sequencing = ma.fields.Nested(SequencingSchema)
    checklist = ma.fields.Nested(ChecklistSchema)
    reminder_policy = ma.fields.Nested(ReminderPolicySchema)
    preparation = ma.fields.Nested(PreparationSchema)
    sources = ma.fields.List(Text(min_length=1, max_length=1000), validate=Length(max=30))
    approval_note = Text(min_length=1, max_length=1000)


class DefinitionSchema(DefinitionSections, ValueSchema):
    value_class = ProtocolDefinition
    session_types = ma.fields.List(
        ma.fields.Nested(SessionTypeSchema),
        required=True,
        validate=Length(min=1, max=len(SessionKind)),
    )
    sequencing = ma.fields.Nested(SequencingSchema, required=True)
    checklist = ma.fields.Nested(ChecklistSchema, required=True)
    reminder_policy = ma.fields.Nested(
        ReminderPolicySchema,
        metadata={"description": "Omit for default reminders for every session type"},
    )
    preparation = ma.fields.Nested(PreparationSchema, load_default=NO_PREPARATION)
    sources = ma.fields.List(
        Text(min_length=1, max_length=1000), load_default=list, validate=Length(max=30)
    )
    approval_note = Text(min_length=1, max_length=1000, load_default=DEFAULT_APPROVAL_NOTE)

    def complete(self, values: dict[str, Any]) -> dict[str, Any]:
        if values.get("reminder_policy") is None:
            kinds = [session.kind for session in values["session_types"]]
            values["reminder_policy"] = default_policy(dict.fromkeys(kinds))
        return values
