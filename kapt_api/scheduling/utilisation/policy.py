"""Who may read a clinic's chair utilisation: its front desk and administrators (the
figures name no patient, but they are the clinic's business figures)."""

from __future__ import annotations

import uuid

from kapt_api.patients.policy import Caller
from kapt_api.scheduling.booking.policy import DESK


def can_see(who: Caller, clinic_id: uuid.UUID) -> bool:
    return who.works_in(clinic_id) and bool(who.roles & DESK)
