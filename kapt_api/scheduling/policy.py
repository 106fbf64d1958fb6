"""Who may see and change courses and appointments.

- Everyone sees only their own clinic's courses and appointments (admins: every
  clinic); anything else answers 404.
- Front desk and admins book, move, cancel, check in and mark no-shows; clinicians
  (prescriber, nurse, therapist) on the patient's care team may book and move too.
- Clinicians on the care team start and complete a session.
- Admins and prescribers enrol patients on a course; admins and the care team's
  prescribers discontinue one.
- Admins and prescribers may override a clinical booking rule, with a reason; a
  prescriber may also check a patient in when sending an override of the dose's
  readiness flags (the prescriber's decision is what lets a flagged dose go ahead).
- What people write about the patient is shown to clinicians on the care team: the
  clinical notes, override reasons, why a course was discontinued, and the reasons of
  the status history (cancellations, no-shows). Admins see the status history's
  reasons too; everyone else only each reason's category (View).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from enum import StrEnum

from kapt_api.auth.models import Role
from kapt_api.errors import Forbidden
from kapt_api.patients.policy import Caller, clinician_of, is_on_care_team

DESK = frozenset({Role.FRONT_DESK, Role.ADMIN})
OVERRIDERS = frozenset({Role.ADMIN, Role.PRESCRIBER})
ENROLLERS = frozenset({Role.ADMIN, Role.PRESCRIBER})


def can_see(who: Caller, clinic_id: uuid.UUID) -> bool:
    return who.works_in(clinic_id)


def treats(who: Caller, care_team: Collection[uuid.UUID]) -> bool:
    """A prescriber, nurse or therapist on this patient's care team."""
    return clinician_of(who, care_team)


def can_book(who: Caller, care_team: Collection[uuid.UUID]) -> bool:
    return bool(who.roles & DESK) or treats(who, care_team)


def can_run_desk(who: Caller) -> bool:
    """Cancel, check in, mark a no-show."""
    return bool(who.roles & DESK)


def can_check_in(who: Caller, *, overriding: bool) -> bool:
    """Front desk and admins; prescribers too when they override a readiness flag."""
    return can_run_desk(who) or (overriding and can_override(who))


def can_override(who: Caller) -> bool:
    return bool(who.roles & OVERRIDERS)


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
