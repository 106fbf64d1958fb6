"""The patients domain's decisions, as plain functions over plain values.

No database, no Flask: every function takes what it needs (today's date, the
staff it must check) and returns the problems it finds, keyed by the field a
client would correct, in words a front-desk person understands.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from kapt_api.auth.models import CLINICAL_ROLES, Role
from kapt_api.patients.models import ReminderChannel

FieldErrors = dict[str, list[str]]

MAX_AGE_YEARS = 120
MIN_WEIGHT_KG = Decimal("20.0")
MAX_WEIGHT_KG = Decimal("350.0")
MAX_CARE_TEAM = 20
CHANNEL_FIELD = "preferred_reminder_channel"


def merge_errors(*parts: Mapping[str, Sequence[str]]) -> FieldErrors:
    """One {field: [messages]} from several, messages kept in order."""
    merged: FieldErrors = {}
    for part in parts:
        for name, messages in part.items():
            merged.setdefault(name, []).extend(messages)
    return merged


def date_of_birth_errors(born: date, *, today: date) -> list[str]:
    """A birth date must lie in the past and within a human lifetime."""
    if born >= today:
        return ["Must be a date in the past."]
    if born < _years_before(today, MAX_AGE_YEARS):
        return [f"Not plausible: more than {MAX_AGE_YEARS} years ago."]
    return []


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a year that has none
        return day.replace(year=day.year - years, day=28)


def default_reminder_channel(*, email: str | None) -> str:
    """Email when the patient gave an address, otherwise no automated reminders.

    SMS is never chosen for the patient: texting needs a channel picked on purpose
    as well as consent (DOMAIN.md 5.2, TCPA).
    """
    return ReminderChannel.EMAIL.value if email else ReminderChannel.NONE.value


def channel_after_sms_opt_out(*, channel: str, email: str | None) -> str:
    """The channel once SMS consent is withdrawn.

    A withdrawal must be honoured at once (DOMAIN.md 5.2: "honour it immediately"),
    so it is never refused for leaving SMS as the channel: reminders fall back to
    email when there is an address, else stop.
    """
    if channel != ReminderChannel.SMS.value:
        return channel
    return default_reminder_channel(email=email)


def reminder_channel_errors(
    *,
    channel: str,
    email: str | None,
    phone: str | None,
    sms_opt_in: bool,
    changed: Collection[str],
) -> FieldErrors:
    """What the chosen reminder channel lacks.

    Each problem is named on the field the client changed: on the channel when it
    was chosen in this request, else on the contact field or consent that was
    changed and no longer supports it.
    """
    missing: list[tuple[str, str]] = []
    if channel == ReminderChannel.SMS.value:
        if not phone:
            missing.append(("phone", "SMS reminders need a phone number."))
        if not sms_opt_in:
            missing.append(
                ("sms_opt_in", "SMS reminders need the patient's consent to texts (sms_opt_in).")
            )
    elif channel == ReminderChannel.EMAIL.value and not email:
        missing.append(("email", "Email reminders need an email address."))
    errors: FieldErrors = {}
    for name, message in missing:
        key = name if name in changed and CHANNEL_FIELD not in changed else CHANNEL_FIELD
        errors.setdefault(key, []).append(message)
    return errors


@dataclass(frozen=True)
class Consent:
    """SMS consent and when it was last given and withdrawn."""

    opted_in: bool
    opted_in_at: datetime | None
    opted_out_at: datetime | None


def consent_after(previous: Consent | None, *, opted_in: bool, now: datetime) -> Consent:
    """Consent with its timestamps set by the server, never by the client.

    Giving consent stamps `opted_in_at`; withdrawing it stamps `opted_out_at`.
    Repeating the current answer changes nothing, so the stamps keep the moment
    the patient actually decided. A new patient who never consented has no
    withdrawal to record.
    """
    if previous is None:
        return Consent(opted_in, now if opted_in else None, None)
    if opted_in == previous.opted_in:
        return previous
    if opted_in:
        return Consent(True, now, previous.opted_out_at)
    return Consent(False, previous.opted_in_at, now)


@dataclass(frozen=True)
class StaffFacts:
    """What the care-team rule needs to know about a staff member."""

    clinic_id: uuid.UUID
    active: bool
    roles: frozenset[Role]


def care_team_errors(
    requested: Sequence[uuid.UUID],
    *,
    clinic_id: uuid.UUID,
    staff: Mapping[uuid.UUID, StaffFacts],
) -> FieldErrors:
    """Every care-team member must be an active clinician of the patient's clinic.

    An id of another clinic's staff gets the same answer as an unknown id: the
    caller learns nothing about other clinics.
    """
    errors: FieldErrors = {}
    seen: set[uuid.UUID] = set()
    for index, staff_id in enumerate(requested):
        key = f"care_team.{index}"
        facts = staff.get(staff_id)
        if staff_id in seen:
            errors[key] = ["Listed more than once."]
        elif facts is None or facts.clinic_id != clinic_id:
            errors[key] = ["No staff member of this patient's clinic has this id."]
        elif not facts.active:
            errors[key] = ["This staff member is no longer active."]
        elif not facts.roles & CLINICAL_ROLES:
            errors[key] = ["Care team members must be a prescriber, nurse or therapist."]
        seen.add(staff_id)
    if len(requested) > MAX_CARE_TEAM:
        errors.setdefault("care_team", []).append(f"At most {MAX_CARE_TEAM} members.")
    return errors


def rems_errors(
    *, enrolled: bool, enrolled_on: date | None, today: date, date_of_birth: date
) -> FieldErrors:
    """The REMS enrolment date must be a real past day of an enrolled patient's life.

    Spravato patients are enrolled in the REMS before their first dose (DOMAIN.md
    1.1), so a wrong date here would misstate whether a dose may be given.
    """
    if enrolled_on is None:
        return {}
    key = "clinical.rems_enrolled_on"
    if not enrolled:
        return {key: ["Clear the enrolment date, or set rems_enrolled to true."]}
    if enrolled_on > today:
        return {key: ["Must not be in the future."]}
    if enrolled_on < date_of_birth:
        return {key: ["Must not be before the patient's date of birth."]}
    return {}
