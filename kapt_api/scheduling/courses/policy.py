"""Who may see courses (and so their appointments), enrol and discontinue.

- Everyone sees only their own clinic's courses and appointments (admins: every
  clinic); anything else answers 404.
- The front desk (the clinic's intake), admins and prescribers enrol patients on a
  course; nurses and therapists do not. Enrolling records the protocol and care team
  the prescriber chose at the intake visit (DOMAIN.md §3: intake is prescriber and
  therapist); it gives no clinical detail, and the audit names who enrolled. Admins and
  the care team's prescribers discontinue a course.
- What people write about the patient is shown to clinicians on the care team: the
  clinical notes, override reasons, why a course was discontinued, and the reasons of
  the status history (cancellations, no-shows). Admins see the status history's
  reasons too; everyone else only each reason's category (View).

Who may book, move, check in and override: booking/policy.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from enum import StrEnum

from kapt_api.auth.models import Role
from kapt_api.errors import Forbidden
from kapt_api.patients.policy import Caller, clinician_of, is_on_care_team

ENROLLERS = frozenset({Role.FRONT_DESK, Role.ADMIN, Role.PRESCRIBER})


def can_see(who: Caller, clinic_id: uuid.UUID) -> bool:
    return who.works_in(clinic_id)


def treats(who: Caller, care_team: Collection[uuid.UUID]) -> bool:
    """A prescriber, nurse or therapist on this patient's care team."""
    return clinician_of(who, care_team)


def can_enroll(who: Caller) -> bool:
    return bool(who.roles & ENROLLERS)


def can_discontinue(who: Caller, care_team: Collection[uuid.UUID]) -> bool:
    return Role.ADMIN in who.roles or (
        Role.PRESCRIBER in who.roles and is_on_care_team(who, care_team)
    )


class View(StrEnum):
    """How much of a course or an appointment a caller is shown."""

    SCHEDULE = "schedule"  # times, places, people, statuses and reason categories
    REASONS = "reasons"  # and the reasons of the status history
    CLINICAL = "clinical"  # and every note and reason written about the patient


def view(who: Caller, *, treating: bool) -> View:
    """The view of someone who is (`treating`) or is not a clinician on the care team."""
    if treating:
        return View.CLINICAL
    return View.REASONS if Role.ADMIN in who.roles else View.SCHEDULE


def view_of(who: Caller, care_team: Collection[uuid.UUID]) -> View:
    return view(who, treating=treats(who, care_team))


def ensure(allowed: bool, message: str) -> None:
    """Refuse with 403 unless allowed."""
    if not allowed:
        raise Forbidden(message)
