"""What goes over the wire for patients.

Two Out schemas: the contact view every staff member of the clinic gets, and the
same with the `clinical` object for clinicians on the patient's care team
(patients/policy.py picks one per caller and patient). Clients never send the
consent timestamps: the server sets them, and an In schema refuses them as
unknown fields.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from kapt_api.fields import (
    AwareDateTime,
    Choice,
    Date,
    Email,
    Flag,
    FreeText,
    FreeTextOut,
    Phone,
    Quantity,
    SameRecord,
    Text,
    TimeZoneName,
)
from kapt_api.patients.models import ReminderChannel, Sex
from kapt_api.patients.policy import PatientView
from kapt_api.patients.rules import MAX_CARE_TEAM, MAX_WEIGHT_KG, MIN_WEIGHT_KG

CHANNELS = [channel.value for channel in ReminderChannel]
SEXES = [sex.value for sex in Sex]


class Kilograms(Quantity):
    """A JSON number of kilograms with at most one decimal, as the column keeps it (a
    numeric string is refused; 70.25 is refused, not rounded)."""

    def __init__(self, **kwargs: Any) -> None:
        bounds = ma.validate.Range(
            min=MIN_WEIGHT_KG,
            max=MAX_WEIGHT_KG,
            error=f"Must be between {MIN_WEIGHT_KG} and {MAX_WEIGHT_KG} kg.",
        )
        super().__init__(places=1, validate=bounds, **kwargs)


class ClinicalIn(ma.Schema):
    """Clinical fields a clinician on the care team records."""

    rems_enrolled = Flag(metadata={"description": "Enrolled in the esketamine REMS"})
    rems_enrolled_on = Date(allow_none=True)
    weight_kg = Kilograms(allow_none=True)
    allergies = FreeText(max_length=2000, allow_none=True)
    concomitant_medications = FreeText(max_length=2000, allow_none=True)
    clinical_notes = FreeText(max_length=10000, allow_none=True)


class PatientFields(ma.Schema):
    """The fields a patient is registered and changed with."""

    given_name = Text(required=True, min_length=1, max_length=100)
    family_name = Text(required=True, min_length=1, max_length=100)
    date_of_birth = Date(required=True, metadata={"description": "In the past, YYYY-MM-DD"})
    sex = Choice(
        SEXES,
        allow_none=True,
        metadata={"description": "As the esketamine REMS Patient Monitoring Form asks it"},
    )
    email = Email(allow_none=True)
    phone = Phone(allow_none=True)
    time_zone = TimeZoneName(metadata={"description": "Defaults to the clinic's time zone"})
    preferred_reminder_channel = Choice(
        CHANNELS,
        metadata={
            "description": "sms needs a phone and sms_opt_in; email needs an email. "
            "Defaults to email when an email is given, else none."
        },
    )
    sms_opt_in = Flag(
        metadata={
            "description": "Consent to texts; the server records when it is given and "
            "withdrawn. Withdrawing it while SMS is the reminder channel moves reminders to "
            "email when there is an address, else to none."
        }
    )
    care_team = ma.fields.List(
        ma.fields.UUID(),
        validate=ma.validate.Length(max=MAX_CARE_TEAM),
        metadata={"description": "Staff ids of prescribers, nurses, therapists of the clinic"},
    )
    clinical = ma.fields.Nested(
        ClinicalIn, metadata={"description": "Only clinicians on the care team may send it"}
    )


class PatientIn(PatientFields):
    clinic_id = ma.fields.UUID(
        required=True, metadata={"description": "Front desk: their own clinic only"}
    )


class PatientPatch(PatientFields):
    """Any subset of the fields; loaded with partial=True."""

    active = Flag()


class PatientQuery(ma.Schema):
    clinic_id = ma.fields.UUID()
    care_team_staff_id = ma.fields.UUID()
    q = Text(
        min_length=1,
        max_length=100,
        metadata={"description": "Part of the given or family name, any case"},
    )
    active = Flag()


class ClinicalOut(ma.Schema):
    rems_enrolled = ma.fields.Boolean(required=True)
    rems_enrolled_on = ma.fields.Date(allow_none=True, required=True)
    weight_kg = ma.fields.Float(allow_none=True, required=True)
    allergies = FreeTextOut(allow_none=True, required=True)
    concomitant_medications = FreeTextOut(allow_none=True, required=True)
    clinical_notes = FreeTextOut(allow_none=True, required=True)


class PatientContactOut(ma.Schema):
    """Directory and contact fields, and the care team."""

    id = ma.fields.UUID(required=True)
    clinic_id = ma.fields.UUID(required=True)
    given_name = ma.fields.String(required=True)
    family_name = ma.fields.String(required=True)
    date_of_birth = ma.fields.Date(required=True)
    sex = ma.fields.String(allow_none=True, required=True, validate=ma.validate.OneOf(SEXES))
    email = ma.fields.String(allow_none=True, required=True)
    phone = ma.fields.String(allow_none=True, required=True)
    time_zone = TimeZoneName(required=True)
    preferred_reminder_channel = ma.fields.String(
        required=True, validate=ma.validate.OneOf(CHANNELS)
    )
    sms_opt_in = ma.fields.Boolean(required=True)
    sms_opt_in_at = AwareDateTime(allow_none=True, required=True)
    sms_opt_out_at = AwareDateTime(allow_none=True, required=True)
    active = ma.fields.Boolean(required=True)
    care_team = ma.fields.List(ma.fields.UUID(), attribute="care_team_ids", required=True)
    created_at = AwareDateTime(required=True)


class PatientClinicalOut(PatientContactOut):
    """The contact view plus the clinical object (care team clinicians only)."""

    clinical = SameRecord(ClinicalOut, required=True)


OUT_SCHEMAS: dict[PatientView, ma.Schema] = {
    PatientView.CONTACT: PatientContactOut(),
    PatientView.CLINICAL: PatientClinicalOut(),
}


class Patient(PatientContactOut):
    """A patient, one schema for every view: clinicians on the care team also see
    `clinical`, absent from the answer for others."""

    clinical = ma.fields.Nested(
        ClinicalOut, metadata={"description": "The care team only: absent for others"}
    )


# For the OpenAPI document: what a caller gets of it is decided per patient.
PATIENT_OUT_DOC = Patient
