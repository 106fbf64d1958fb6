"""Who may see and change the waitlist.

- Everyone sees only their own clinic's entries and offers (admins: every clinic);
  anything else answers 404, as courses do (courses/policy.can_see).
- Front desk and administrators put courses on the waitlist, take them off, and accept
  or decline offers on the patient's behalf; clinicians may read both.
- A patient accepts their own offer through its link (a Caller with `patient_link` and
  `offer_id` that offer's id), and nothing else.
"""

from __future__ import annotations

import uuid

from kapt_api.auth.models import CLINICAL_ROLES
from kapt_api.patients.policy import Caller
from kapt_api.scheduling.booking.policy import DESK, can_run_desk
from kapt_api.scheduling.courses.policy import can_see as can_see

READERS = DESK | CLINICAL_ROLES


def can_read(who: Caller) -> bool:
    return bool(who.roles & READERS)


def can_write(who: Caller) -> bool:
    return can_run_desk(who)


def can_accept(who: Caller, offer_id: uuid.UUID) -> bool:
    """The desk accepts any offer of its clinic; a patient's link only its own offer."""
    if who.patient_link:
        return who.offer_id == offer_id
    return can_write(who)
