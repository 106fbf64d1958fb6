"""The wire form of a dosing session's monitoring checklist (checklist.py's values)."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from kapt_api.fields import Text
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
    MAX_EVERY_MINUTES,
    MAX_MONITORING_MINUTES,
    MAX_TOLERANCE_MINUTES,
)
from kapt_api.protocols.definition_fields import (
    Key,
    Length,
    Number,
    ValueSchema,
    Whole,
    enum_field,
)
from kapt_api.protocols.measurements import Measurement


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
