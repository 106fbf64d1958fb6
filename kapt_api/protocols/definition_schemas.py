"""The wire form of a protocol definition.

These schemas load straight into the frozen dataclasses of definition.py and
dump them back, so one description serves requests, answers and the OpenAPI
document. They check shapes and bounds; whether the whole makes sense is rules.py's
question, answered with the same field paths. The checklist's and the reminder
policy's schemas live in checklist_schemas.py and reminder_schemas.py, the field
types in definition_fields.py.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from kapt_api.auth.models import Role
from kapt_api.clinics.models import RoomKind
from kapt_api.fields import Flag, Text
from kapt_api.protocols.checklist_schemas import ChecklistSchema
from kapt_api.protocols.definition import (
    DEFAULT_APPROVAL_NOTE,
    PreparationInstructions,
    ProtocolDefinition,
)
from kapt_api.protocols.definition_fields import (
    EnumSet,
    Length,
    Range,
    StrictInteger,
    ValueSchema,
    Whole,
    enum_field,
)
from kapt_api.protocols.reminder_schemas import ReminderPolicySchema
from kapt_api.protocols.reminder_text import default_policy
from kapt_api.protocols.rules import (
    MAX_BUFFER_MINUTES,
    MAX_FASTING_MINUTES,
    MAX_NOTICE_HOURS,
    MAX_SESSION_MINUTES,
    MIN_SESSION_MINUTES,
)
from kapt_api.protocols.sequencing import HourWindow, Phase, Sequencing
from kapt_api.protocols.sequencing_rules import (
    MAX_DOSES,
    MAX_DOSES_PER_PERIOD,
    MAX_HOURS_BETWEEN_DOSES,
    MAX_PERIOD_WEEKS,
    MAX_PREPARATION_SESSIONS,
    MAX_WEEKS,
    MAX_WINDOW_HOURS,
)
from kapt_api.protocols.session_types import RoleRequirement, SessionKind, SessionType

__all__ = ["DefinitionSchema", "DefinitionSections", "ReminderPolicySchema"]


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
