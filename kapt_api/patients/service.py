"""Patient use cases: find, list, register, update. They flush and never commit.

Every look at a patient and every change is audited with the patient's id. The
attempt is recorded before access is decided, so a refusal is kept too (the
audit hook writes it again as denied after the request's rollback).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask_smorest.pagination import PaginationParameters
from sqlalchemy import Select, func, or_, select

from kapt_api.auth import audit
from kapt_api.clinics.models import Clinic, StaffMember
from kapt_api.db import db
from kapt_api.errors import Forbidden, InvalidInput, NotFound, Violation
from kapt_api.openapi import QueryPage
from kapt_api.patients import policy, rules
from kapt_api.patients.models import CareTeamMember, Patient
from kapt_api.patients.policy import Caller

RESOURCE = "patient"
# Columns copied from a request as they are; consent and care team have their own steps.
CONTACT_COLUMNS = tuple(sorted(policy.CONTACT_FIELDS - {"sms_opt_in", "care_team"}))
CLINICAL_COLUMNS = (
    "rems_enrolled",
    "rems_enrolled_on",
    "weight_kg",
    "allergies",
    "concomitant_medications",
    "clinical_notes",
)
CONTACT_CHANGES = frozenset({"email", "phone", "sms_opt_in", "preferred_reminder_channel"})


def find_patient(*, patient_id: uuid.UUID, by: Caller, action: str = "read") -> Patient:
    """The patient with this id if `by` may see them (else 404), the attempt audited."""
    audit.record(action, RESOURCE, patient_id, patient_id=patient_id, actor_id=by.user_id)
    patient = db.session.get(Patient, patient_id)
    if patient is None or not policy.can_see(by, patient):
        raise NotFound("No patient with this id.")
    return patient


def directory(
    *,
    by: Caller,
    clinic_id: uuid.UUID | None = None,
    care_team_staff_id: uuid.UUID | None = None,
    q: str | None = None,
    active: bool | None = None,
) -> Select[tuple[Patient]]:
    """The patients `by` may see that match the filters, by family then given name."""
    stmt = select(Patient)
    if by.clinics is not None:
        stmt = stmt.where(Patient.clinic_id.in_(by.clinics))
    if clinic_id is not None:
        stmt = stmt.where(Patient.clinic_id == clinic_id)
    if care_team_staff_id is not None:
        members = select(CareTeamMember.patient_id).where(
            CareTeamMember.staff_id == care_team_staff_id
        )
        stmt = stmt.where(Patient.id.in_(members))
    if active is not None:
        stmt = stmt.where(Patient.active == active)
    for term in (q or "").lower().split():
        stmt = stmt.where(
            or_(
                func.lower(Patient.given_name).contains(term, autoescape=True),
                func.lower(Patient.family_name).contains(term, autoescape=True),
            )
        )
    return stmt.order_by(
        func.lower(Patient.family_name), func.lower(Patient.given_name), Patient.id
    )


def list_patients(*, by: Caller, page: PaginationParameters, **filters: Any) -> list[Patient]:
    """One page of the directory, each patient on it audited as listed (`page` gets the
    total count)."""
    patients = QueryPage(directory(by=by, **filters), page).items
    for patient in patients:
        audit.record("list", RESOURCE, patient.id, patient_id=patient.id, actor_id=by.user_id)
    return patients


def register_patient(*, data: Mapping[str, Any], by: Caller, now: datetime) -> Patient:
    """Register a patient in a clinic the caller may register in; every broken rule named."""
    clinic = db.session.get(Clinic, data["clinic_id"])
    if clinic is None or not policy.can_register_in(by, clinic.id):
        raise InvalidInput({"clinic_id": ["Not a clinic where you may register patients."]})
    _refuse(policy.change_violations(by, data.keys(), care_team=data.get("care_team", [])))
    patient = Patient(clinic_id=clinic.id)
    before: dict[str, Any] = {
        **dict.fromkeys((*CONTACT_COLUMNS, *CLINICAL_COLUMNS)),
        "time_zone": clinic.time_zone,
        "active": True,
        "rems_enrolled": False,
    }
    changes = dict(data)
    changes.pop("clinic_id")
    if "preferred_reminder_channel" not in changes:
        changes["preferred_reminder_channel"] = rules.default_reminder_channel(
            email=changes.get("email")
        )
    _change(patient, before=before, changes=changes, consent=None, now=now)
    db.session.add(patient)
    db.session.flush()
    audit.record("create", RESOURCE, patient.id, patient_id=patient.id, actor_id=by.user_id)
    return patient


def update_patient(
    *, patient: Patient, changes: Mapping[str, Any], by: Caller, now: datetime
) -> Patient:
    """Change a patient: contact fields by front desk and admins, clinical fields by the
    care team's clinicians; every broken rule named."""
    _refuse(policy.change_violations(by, changes.keys(), care_team=patient.care_team_ids))
    before = {name: getattr(patient, name) for name in (*CONTACT_COLUMNS, *CLINICAL_COLUMNS)}
    consent = rules.Consent(patient.sms_opt_in, patient.sms_opt_in_at, patient.sms_opt_out_at)
    _change(patient, before=before, changes=dict(changes), consent=consent, now=now)
    db.session.flush()
    return patient


def _refuse(violations: Sequence[Violation]) -> None:
    if violations:
        raise Forbidden(
            " ".join(v.message for v in violations),
            code="fields_not_allowed",
            violations=violations,
        )


def _change(
    patient: Patient,
    *,
    before: Mapping[str, Any],
    changes: dict[str, Any],
    consent: rules.Consent | None,
    now: datetime,
) -> None:
    """Check the record as it would be after `changes`, then write it (`consent` is
    None for a patient being registered)."""
    after = {**before, **{k: v for k, v in changes.items() if k != "clinical"}}
    after.update(changes.get("clinical", {}))
    opted_in = changes.get("sms_opt_in", consent.opted_in if consent else False)
    if not opted_in and "preferred_reminder_channel" not in changes:
        after["preferred_reminder_channel"] = rules.channel_after_sms_opt_out(
            channel=after["preferred_reminder_channel"], email=after["email"]
        )
    errors = _errors(
        after,
        changes=changes,
        opted_in=opted_in,
        clinic_id=patient.clinic_id,
        now=now,
        new=consent is None,
    )
    if errors:
        raise InvalidInput(errors)
    for name in (*CONTACT_COLUMNS, *CLINICAL_COLUMNS):
        setattr(patient, name, after[name])
    stamped = rules.consent_after(consent, opted_in=opted_in, now=now)
    patient.sms_opt_in = stamped.opted_in
    patient.sms_opt_in_at = stamped.opted_in_at
    patient.sms_opt_out_at = stamped.opted_out_at
    if "care_team" in changes:
        _set_care_team(patient, changes["care_team"])


def _errors(
    after: Mapping[str, Any],
    *,
    changes: Mapping[str, Any],
    opted_in: bool,
    clinic_id: uuid.UUID,
    now: datetime,
    new: bool,
) -> rules.FieldErrors:
    today = now.astimezone(ZoneInfo(after["time_zone"])).date()
    parts: list[rules.FieldErrors] = []
    if new or "date_of_birth" in changes:
        born = rules.date_of_birth_errors(after["date_of_birth"], today=today)
        parts.append({"date_of_birth": born} if born else {})
    if new or CONTACT_CHANGES & changes.keys():
        parts.append(
            rules.reminder_channel_errors(
                channel=after["preferred_reminder_channel"],
                email=after["email"],
                phone=after["phone"],
                sms_opt_in=opted_in,
                changed=changes.keys(),
            )
        )
    if "care_team" in changes:
        requested = changes["care_team"]
        parts.append(
            rules.care_team_errors(requested, clinic_id=clinic_id, staff=_staff_facts(requested))
        )
    if "clinical" in changes:
        parts.append(
            rules.rems_errors(
                enrolled=after["rems_enrolled"],
                enrolled_on=after["rems_enrolled_on"],
                today=today,
                date_of_birth=after["date_of_birth"],
            )
        )
    return rules.merge_errors(*parts)


def _staff_facts(ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, rules.StaffFacts]:
    if not ids:
        return {}
    members = db.session.scalars(select(StaffMember).where(StaffMember.id.in_(set(ids))))
    return {
        member.id: rules.StaffFacts(
            clinic_id=member.clinic_id,
            active=member.active and member.user.active,
            roles=member.user.roles,
        )
        for member in members
    }


def _set_care_team(patient: Patient, staff_ids: Sequence[uuid.UUID]) -> None:
    # Members who stay keep their rows: re-adding the same key would collide in one flush.
    wanted = set(staff_ids)
    kept = [member for member in patient.care_team if member.staff_id in wanted]
    present = {member.staff_id for member in kept}
    patient.care_team = kept + [
        CareTeamMember(staff_id=staff_id) for staff_id in staff_ids if staff_id not in present
    ]
