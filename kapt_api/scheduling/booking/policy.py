"""Who may book, move and run an appointment's day.

- A patient books only through the link of a waitlist offer, and only that offer.
- Front desk and admins book, move, cancel, check in and mark no-shows; clinicians
  (prescriber, nurse, therapist) on the patient's care team may book and move too.
- Clinicians on the care team start and complete a session.
- Admins and prescribers may override a clinical booking rule, with a reason; a
  prescriber may also check a patient in when sending an override of the dose's
  readiness flags (the prescriber's decision is what lets a flagged dose go ahead).

Who sees an appointment, and how much of it, follows its course: courses/policy.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection

from kapt_api.auth.models import Role
from kapt_api.patients.policy import Caller
from kapt_api.scheduling.courses.policy import treats

DESK = frozenset({Role.FRONT_DESK, Role.ADMIN})
OVERRIDERS = frozenset({Role.ADMIN, Role.PRESCRIBER})


def can_book(
    who: Caller, care_team: Collection[uuid.UUID], *, offer_id: uuid.UUID | None = None
) -> bool:
    """Desk and care team; a patient's own offer link books only the offer it is for
    (`offer_id`: the waitlist offer being accepted, which the waitlist passes)."""
    if who.patient_link:
        return offer_id is not None and who.offer_id == offer_id
    return bool(who.roles & DESK) or treats(who, care_team)


def can_run_desk(who: Caller) -> bool:
    """Cancel, check in, mark a no-show."""
    return bool(who.roles & DESK)


def can_check_in(who: Caller, *, overriding: bool) -> bool:
    """Front desk and admins; prescribers too when they override a readiness flag."""
    return can_run_desk(who) or (overriding and can_override(who))


def can_override(who: Caller) -> bool:
    return bool(who.roles & OVERRIDERS)
