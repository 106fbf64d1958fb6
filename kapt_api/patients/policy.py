"""Who may see and change which part of a patient's record.

- Staff of the patient's clinic (admins: every clinic) see the directory and
  contact fields and the care team. Anyone else is answered 404, as if the
  patient did not exist.
- The clinical fields are seen and changed only by prescribers, nurses and
  therapists on the patient's own care team (API.md: "a therapist sees the
  clinical detail of patients in their own care team"). For everybody else
  the `clinical` object is absent, and sending it is refused naming the rule.
- Front desk and admins register patients and change contact details, reminder
  channel, consent and care team; clinicians change clinical fields only.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum

from kapt_api.auth.models import CLINICAL_ROLES, Role, User
from kapt_api.clinics.policy import StaffPost, clinic_scope, staff_post
from kapt_api.errors import Violation, register_rules
from kapt_api.patients.models import Patient

CLINICAL_KEY = "clinical"
CONTACT_FIELDS = frozenset(
    {
        "given_name",
        "family_name",
        "date_of_birth",
        "sex",
        "email",
        "phone",
        "time_zone",
        "preferred_reminder_channel",
        "sms_opt_in",
        "care_team",
        "active",
    }
)
CONTACT_EDITORS = frozenset({Role.FRONT_DESK, Role.ADMIN})

register_rules("clinical_fields_care_team_only", "contact_fields_front_desk_or_admin")
CLINICAL_RULE = Violation(
    "clinical_fields_care_team_only",
    "Only prescribers, nurses and therapists on this patient's care team may see or "
    "change the clinical fields.",
)
CONTACT_RULE = Violation(
    "contact_fields_front_desk_or_admin",
    "Only front desk staff and administrators may change contact details, reminder "
    "channel, consent and care team.",
)


class PatientView(StrEnum):
    """How much of a patient's record a caller is shown."""

    CONTACT = "contact"
    CLINICAL = "clinical"


@dataclass(frozen=True)
class Caller:
    """What the patient rules need about the caller, looked up once per request."""

    user_id: uuid.UUID
    roles: frozenset[Role]
    clinics: frozenset[uuid.UUID] | None  # None: every clinic (admins)
    staff_id: uuid.UUID | None  # their active staff record, if any
    # A patient acting through their own link (scheduling/links): `user_id` is the
    # link's id, audited as the actor, and never written where a user is referenced.
    patient_link: bool = False
    # A patient link for one waitlist offer: the one offer it may accept (and book).
    offer_id: uuid.UUID | None = None

    @property
    def user_row(self) -> uuid.UUID | None:
        """The user to record in a column referencing users (none for a patient link)."""
        return None if self.patient_link else self.user_id

    def works_in(self, clinic_id: uuid.UUID) -> bool:
        return self.clinics is None or clinic_id in self.clinics


def caller(user: User) -> Caller:
    """The caller's roles, clinics and staff record."""
    return caller_at(user, staff_post(user))


def caller_at(user: User, staff: StaffPost | None) -> Caller:
    """The caller, their staff record (None: they have none) already read with something
    else the request needed (a day schedule reads it with the clinic's version)."""
    return Caller(
        user_id=user.id,
        roles=user.roles,
        clinics=clinic_scope(user, staff),
        staff_id=staff.id if staff is not None and staff.active else None,
    )


def can_see(who: Caller, patient: Patient) -> bool:
    """Directory, contact fields and care team: staff of the patient's clinic, admins."""
    return who.works_in(patient.clinic_id)


def is_on_care_team(who: Caller, care_team: Collection[uuid.UUID]) -> bool:
    return who.staff_id is not None and who.staff_id in care_team


def clinician_of(who: Caller, care_team: Collection[uuid.UUID]) -> bool:
    """A prescriber, nurse or therapist on this care team."""
    return bool(who.roles & CLINICAL_ROLES) and is_on_care_team(who, care_team)


def can_view_clinical(who: Caller, patient: Patient) -> bool:
    """The clinical fields: clinicians on the patient's own care team only."""
    return can_see(who, patient) and clinician_of(who, patient.care_team_ids)


def view_of(who: Caller, patient: Patient) -> PatientView:
    """Which Out schema this caller gets for this patient."""
    return PatientView.CLINICAL if can_view_clinical(who, patient) else PatientView.CONTACT


def can_register_in(who: Caller, clinic_id: uuid.UUID) -> bool:
    """Admins register patients in any clinic, front desk in their own."""
    return bool(who.roles & CONTACT_EDITORS) and who.works_in(clinic_id)


def change_violations(
    who: Caller, fields: Collection[str], *, care_team: Collection[uuid.UUID]
) -> list[Violation]:
    """The rules broken by `who` sending these top-level fields for a patient with
    this care team (the current one; on registration, the one being set)."""
    violations = []
    if CONTACT_FIELDS & set(fields) and not who.roles & CONTACT_EDITORS:
        violations.append(CONTACT_RULE)
    if CLINICAL_KEY in fields and not clinician_of(who, care_team):
        violations.append(CLINICAL_RULE)
    return violations
