"""Who may read a clinic's day and a staff member's day."""

from __future__ import annotations

import uuid

from kapt_api.clinics.models import StaffMember
from kapt_api.patients.policy import Caller
from kapt_api.scheduling.booking import policy


def can_see_clinic_day(who: Caller, clinic_id: uuid.UUID) -> bool:
    """The whole clinic's day: its front desk and administrators."""
    return who.works_in(clinic_id) and bool(who.roles & policy.DESK)


def can_see_staff_day(who: Caller, staff: StaffMember) -> bool:
    """One person's day: themselves, administrators, their clinic's front desk."""
    return who.staff_id == staff.id or can_see_clinic_day(who, staff.clinic_id)
