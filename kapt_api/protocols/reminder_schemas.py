"""The wire form of a reminder policy (reminder_policy.py's values); omitted wording is
the default PHI-safe wording."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from kapt_api.fields import Flag, Text
from kapt_api.protocols.definition_fields import EnumSet, Length, ValueSchema, Whole, enum_field
from kapt_api.protocols.reminder_policy import (
    Channel,
    MessageTemplates,
    ReminderPolicy,
    ReminderRule,
)
from kapt_api.protocols.reminder_rules import MAX_OFFSET_HOURS, MAX_OFFSETS
from kapt_api.protocols.reminder_text import default_templates
from kapt_api.protocols.session_types import SessionKind


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
