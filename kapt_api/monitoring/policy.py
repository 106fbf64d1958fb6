"""Who may see and record a patient's monitoring.

- Readings, checklists, alerts, the REMS form, the FHIR export and the chart are seen
  and recorded only by prescribers, nurses and therapists on the patient's care team
  (API.md: front desk never sees vital signs). Staff of another clinic get 404; staff
  of the patient's clinic who are not clinicians on the care team get 403.
- A pre-dose hold, and a discharge whose last readings are out of range, are
  overridden only by a prescriber on the care team, with a reason.
- Administrators configure protocols; they do not chart.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from typing import Any

from sqlalchemy import false, select

from kapt_api.auth.models import CLINICAL_ROLES, Role
from kapt_api.errors import Forbidden, NotFound
from kapt_api.monitoring.models import Alert
from kapt_api.patients.models import CareTeamMember
from kapt_api.patients.policy import Caller, clinician_of, is_on_care_team

CLINICAL_ONLY = (
    "Only prescribers, nurses and therapists on this patient's care team see and record monitoring."
)


def ensure_clinician(
    who: Caller, *, clinic_id: uuid.UUID, care_team: Collection[uuid.UUID], what: str
) -> None:
    """404 outside the caller's clinics; 403 unless a clinician on the care team."""
    if not who.works_in(clinic_id):
        raise NotFound(f"No {what} with this id.")
    if not clinician_of(who, care_team):
        raise Forbidden(CLINICAL_ONLY)


def ensure_prescriber(who: Caller, care_team: Collection[uuid.UUID], action: str) -> None:
    if not (Role.PRESCRIBER in who.roles and is_on_care_team(who, care_team)):
        raise Forbidden(f"Only a prescriber on this patient's care team may {action}.")


def visible_alerts(who: Caller) -> Any:
    """SQL condition: alerts of patients whose care team the caller is a clinician on."""
    if who.staff_id is None or not who.roles & CLINICAL_ROLES:
        return false()
    teams = select(CareTeamMember.patient_id).where(CareTeamMember.staff_id == who.staff_id)
    return Alert.patient_id.in_(teams)


def sees_alert(who: Caller, alert: Alert, care_team: Collection[uuid.UUID]) -> bool:
    return who.works_in(alert.clinic_id) and clinician_of(who, care_team)
