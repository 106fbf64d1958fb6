"""What goes over the wire for monitoring: readings in, checklists, alerts, the REMS
form out. Values travel with their UCUM unit; times carry an offset."""

from __future__ import annotations

import marshmallow as ma

from kapt_api.fields import (
    AwareDateTime,
    Choice,
    Date,
    Flag,
    FreeText,
    FreeTextOut,
    Integer,
    Number,
    SameRecord,
    Text,
    every_field_sent,
)
from kapt_api.monitoring.models import AlertKind, AlertStatus
from kapt_api.monitoring.rems_rules import MG_PER_DEVICE
from kapt_api.monitoring.rules import TimepointState
from kapt_api.protocols.checklist import Severity
from kapt_api.protocols.definition import TimepointKind
from kapt_api.protocols.measurements import Measurement

MAX_REASON = 1000
MAX_VALUES = 20
NUMERIC = [m.value for m in Measurement if m.info.numeric]
MAX_DEVICES = 3
# Esketamine comes in 28 mg devices (DOMAIN.md §1): 28, 56 or 84 mg, nothing between.
DOSES_MG = [MG_PER_DEVICE * devices for devices in range(1, MAX_DEVICES + 1)]
MEASUREMENTS = [m.value for m in Measurement]


# --- in ------------------------------------------------------------------------------------


class ValueIn(ma.Schema):
    measurement = Choice(NUMERIC, required=True)
    value = Number(required=True, validate=ma.validate.Range(min=-1000, max=1000))
    unit = Text(required=True, max_length=20, metadata={"description": "UCUM, e.g. mm[Hg]"})


class ReadingIn(ma.Schema):
    timepoint = Text(
        max_length=60, metadata={"description": "A checklist timepoint key; absent: ad hoc"}
    )
    measured_at = AwareDateTime(required=True)
    values = ma.fields.List(
        ma.fields.Nested(ValueIn), required=True, validate=ma.validate.Length(max=MAX_VALUES)
    )
    note = FreeText(max_length=2000)
    supersedes_id = ma.fields.UUID(metadata={"description": "The reading this corrects"})
    correction_reason = FreeText(min_length=1, max_length=MAX_REASON)


class ReasonIn(ma.Schema):
    reason = FreeText(required=True, min_length=1, max_length=MAX_REASON)


class AdverseEventsIn(ma.Schema):
    sedation = Flag(required=True)
    dissociation = Flag(required=True)
    respiratory_depression = Flag(required=True)
    bp_increase = Flag(required=True)


class DischargeIn(ma.Schema):
    confirmed = ma.fields.List(
        Text(max_length=60),
        required=True,
        validate=ma.validate.Length(max=20),
        metadata={"description": "Discharge criteria confirmed, e.g. escort_present"},
    )
    override_reason = FreeText(
        min_length=1,
        max_length=MAX_REASON,
        metadata={"description": "Prescriber only: discharge with readings out of range"},
    )
    adverse_events = ma.fields.Nested(
        AdverseEventsIn, metadata={"description": "Required for an esketamine session"}
    )
    ready_to_leave_minutes = Integer(
        validate=ma.validate.Range(min=0, max=24 * 60),
        metadata={
            "description": "Required for an esketamine session (the REMS evaluation "
            "question): without the 2-hour minimum, minutes from the first device until "
            "the patient would have been ready to leave"
        },
    )


class ConcomitantMedicationsIn(ma.Schema):
    """Yes or no per class the REMS form asks (rems_rules.FORM_MEDICATIONS); opioids
    when known."""

    benzodiazepines = Flag(required=True)
    non_benzodiazepine_sedative_hypnotics = Flag(required=True)
    psychostimulants = Flag(required=True)
    maois = Flag(required=True, metadata={"description": "Monoamine oxidase inhibitors"})
    opioids = Flag()


class AdministrationIn(ma.Schema):
    first_device_at = AwareDateTime(required=True)
    devices = Integer(required=True, validate=ma.validate.Range(min=1, max=MAX_DEVICES))
    device_times = ma.fields.List(
        AwareDateTime(),
        validate=ma.validate.Length(min=1, max=3),
        metadata={
            "description": "Each device's time in order, the first at first_device_at; "
            "may be left out for a single device"
        },
    )
    dose_mg = Integer(
        required=True,
        validate=ma.validate.OneOf(
            DOSES_MG, error=f"Give the dose in whole {MG_PER_DEVICE} mg devices: 28, 56 or 84."
        ),
    )
    lot_number = Text(required=True, min_length=1, max_length=60)
    concomitant_medications = ma.fields.Nested(
        ConcomitantMedicationsIn,
        metadata={
            "description": "Is the patient taking medicines that may cause sedation or "
            "blood pressure changes: yes or no per class, as the REMS form asks"
        },
    )


class AlertQuery(ma.Schema):
    clinic_id = ma.fields.UUID()
    status = Choice([s.value for s in AlertStatus])


class AcknowledgeIn(ma.Schema):
    note = FreeText(required=True, min_length=1, max_length=MAX_REASON)


# --- out -----------------------------------------------------------------------------------


@every_field_sent
class ReadingOut(ma.Schema):
    id = ma.fields.UUID()
    timepoint = ma.fields.String(allow_none=True)
    slot_minutes = ma.fields.Integer(allow_none=True)
    measured_at = ma.fields.AwareDateTime()
    values = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Float())
    note = FreeTextOut(allow_none=True)
    recorded_by = ma.fields.UUID()
    recorded_at = ma.fields.AwareDateTime()
    supersedes_id = ma.fields.UUID(allow_none=True)
    correction_reason = FreeTextOut(allow_none=True)


@every_field_sent
class OccurrenceOut(ma.Schema):
    timepoint = ma.fields.Function(lambda o: o.timepoint.key, metadata={"type": "string"})
    label = ma.fields.Function(lambda o: o.timepoint.label, metadata={"type": "string"})
    kind = ma.fields.Function(
        lambda o: o.timepoint.kind.value,
        metadata={"type": "string", "enum": [k.value for k in TimepointKind]},
    )
    measurements = ma.fields.Function(
        lambda o: [m.value for m in o.timepoint.measurements],
        metadata={"type": "array", "items": {"type": "string", "enum": MEASUREMENTS}},
    )
    slot_minutes = ma.fields.Integer(allow_none=True)
    due_at = ma.fields.AwareDateTime(allow_none=True)
    state = ma.fields.Enum(TimepointState, by_value=True)
    reading_id = ma.fields.UUID(allow_none=True)


@every_field_sent
class HoldOut(ma.Schema):
    held = ma.fields.Boolean()
    reason = ma.fields.String(
        attribute="hold_reason",
        allow_none=True,
        metadata={"description": "The reading that holds the dose, in words"},
    )
    override_reason = FreeTextOut(attribute="hold_override_reason", allow_none=True)
    override_by = ma.fields.UUID(attribute="hold_override_by", allow_none=True)
    override_at = ma.fields.AwareDateTime(attribute="hold_override_at", allow_none=True)


@every_field_sent
class SessionOut(ma.Schema):
    id = ma.fields.UUID()
    appointment_id = ma.fields.UUID()
    course_id = ma.fields.UUID()
    patient_id = ma.fields.UUID()
    protocol_version_id = ma.fields.UUID()
    rems_required = ma.fields.Boolean()
    checked_in_at = ma.fields.AwareDateTime()
    dose_started_at = ma.fields.AwareDateTime(allow_none=True)
    hold = SameRecord(HoldOut)
    discharged_at = ma.fields.AwareDateTime(allow_none=True)
    discharged_by = ma.fields.UUID(allow_none=True)
    discharge_confirmed = ma.fields.List(ma.fields.String(), allow_none=True)
    discharge_override_reason = FreeTextOut(allow_none=True)


@every_field_sent
class ChecklistOut(ma.Schema):
    session = ma.fields.Nested(SessionOut)
    min_monitoring_minutes = ma.fields.Integer()
    timepoints = ma.fields.List(ma.fields.Nested(OccurrenceOut), attribute="occurrences")
    readings = ma.fields.List(ma.fields.Nested(ReadingOut))


@every_field_sent
class AlertOut(ma.Schema):
    id = ma.fields.UUID()
    clinic_id = ma.fields.UUID()
    patient_id = ma.fields.UUID()
    course_id = ma.fields.UUID(allow_none=True)
    session_id = ma.fields.UUID(allow_none=True)
    reading_id = ma.fields.UUID(allow_none=True)
    kind = ma.fields.String(
        validate=ma.validate.OneOf([kind.value for kind in AlertKind]),
        metadata={
            "description": "dose_not_ready: a booked dose flagged (preparation_incomplete, "
            "integration_missing) because a session it depended on was cancelled or marked "
            "a no-show"
        },
    )
    severity = ma.fields.String(validate=ma.validate.OneOf([s.value for s in Severity]))
    measurement = ma.fields.String(
        allow_none=True, validate=ma.validate.OneOf([m.value for m in Measurement])
    )
    message = ma.fields.String()
    raised_at = ma.fields.AwareDateTime()
    status = ma.fields.String(validate=ma.validate.OneOf([s.value for s in AlertStatus]))
    acknowledged_by = ma.fields.UUID(allow_none=True)
    acknowledged_at = ma.fields.AwareDateTime(allow_none=True)
    acknowledgement_note = FreeTextOut(allow_none=True)


@every_field_sent
class BloodPressureOut(ma.Schema):
    systolic = ma.fields.Float()
    diastolic = ma.fields.Float()
    measured_at = ma.fields.AwareDateTime()


@every_field_sent
class ConcomitantMedicationsOut(ma.Schema):
    benzodiazepines = ma.fields.Boolean()
    non_benzodiazepine_sedative_hypnotics = ma.fields.Boolean()
    psychostimulants = ma.fields.Boolean()
    maois = ma.fields.Boolean()
    opioids = ma.fields.Boolean(allow_none=True)


@every_field_sent
class RemsFormOut(ma.Schema):
    patient_name = ma.fields.String()
    date_of_birth = Date(allow_none=True)
    sex = ma.fields.String(allow_none=True)
    rems_enrolled = ma.fields.Boolean()
    concomitant_medications = ma.fields.Nested(ConcomitantMedicationsOut, allow_none=True)
    setting_name = ma.fields.String()
    setting_address = ma.fields.String(allow_none=True)
    monitoring_clinician = ma.fields.String(allow_none=True)
    treatment_date = Date()
    first_treatment = ma.fields.Boolean()
    dose_mg = ma.fields.Integer(allow_none=True)
    devices = ma.fields.Integer(allow_none=True)
    lot_number = ma.fields.String(allow_none=True)
    first_device_at = ma.fields.AwareDateTime(allow_none=True)
    device_times = ma.fields.List(ma.fields.AwareDateTime(), allow_none=True)
    discharged_at = ma.fields.AwareDateTime(allow_none=True)
    total_monitoring_minutes = ma.fields.Integer(allow_none=True)
    ready_to_leave_minutes = Integer(allow_none=True)
    bp_before_administration = ma.fields.Nested(BloodPressureOut, allow_none=True)
    bp_40_minutes = ma.fields.Nested(BloodPressureOut, allow_none=True)
    bp_before_discharge = ma.fields.Nested(BloodPressureOut, allow_none=True)
    vitals_in_range_before_administration = ma.fields.Boolean(allow_none=True)
    vitals_in_range_before_discharge = ma.fields.Boolean(allow_none=True)
    sedation = ma.fields.Boolean(allow_none=True)
    dissociation = ma.fields.Boolean(allow_none=True)
    respiratory_depression = ma.fields.Boolean(allow_none=True)
    bp_increase = ma.fields.Boolean(allow_none=True)
    submit_by = Date()
    submitted_at = ma.fields.AwareDateTime(allow_none=True)
    complete = ma.fields.Boolean()
    missing = ma.fields.List(ma.fields.String())
