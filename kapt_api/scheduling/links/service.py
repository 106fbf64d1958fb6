"""Patient links: minting one for a message, opening it, and what a patient does with
it (confirm attendance, confirm the escort home, cancel). They flush and never commit.

The patient acts as a Caller with no roles whose `user_id` is the link's id
(`patient_link=True`): the audit names the link as the actor, and no column that
references a user names it. Cancelling goes through the booking's own cancellation
(attendance.cancel_within_rules): the same status machine, course rules and notice
window as the front desk's, without the desk's permission check: the link is the
patient's own, for this one appointment.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from kapt_api.auth import audit
from kapt_api.clinics.models import Clinic
from kapt_api.db import db
from kapt_api.errors import Gone, NotFound, RuleRefused, Violation
from kapt_api.patients.policy import Caller
from kapt_api.protocols.definition import SessionKind
from kapt_api.scheduling.booking import attendance, status_rules
from kapt_api.scheduling.booking import signals as booking_signals
from kapt_api.scheduling.booking.models import Appointment
from kapt_api.scheduling.booking.overrides import audit_change
from kapt_api.scheduling.booking.service import session_type_of
from kapt_api.scheduling.courses import queries as course_queries
from kapt_api.scheduling.courses.models import Course
from kapt_api.scheduling.courses.values import AppointmentStatus, ReasonCategory
from kapt_api.scheduling.links import offer_links, rules, signals
from kapt_api.scheduling.links.models import PatientLink
from kapt_api.scheduling.links.rules import LinkAction
from kapt_api.scheduling.waitlist.models import WaitlistOffer

RESOURCE = "patient_link"
CANCEL_REASON = "Cancelled by the patient."


@dataclass(frozen=True)
class LinkView:
    """What a link's page shows: the clinic, the date, time and place, and the answers
    already given; nothing clinical, not the patient's name."""

    purpose: str
    clinic_name: str
    clinic_phone: str
    date: str
    time: str
    place: str
    status: str
    actions: tuple[str, ...]
    # An appointment's answers (an offer's link has none).
    confirmed: bool = False
    escort_needed: bool = False
    escort_confirmed: bool = False
    late_cancellation: bool = False
    cancel_would_be_late: bool = False
    # An offer's link: until when it may be taken, and that time as the clinic reads it.
    offer_expires_at: datetime | None = None
    offer_passes_on: str | None = None


def patient_actor(link_id: uuid.UUID, clinic_id: uuid.UUID) -> Caller:
    """The patient acting through a link (or their own phone: `link_id` the patient's)."""
    return Caller(link_id, frozenset(), frozenset({clinic_id}), None, patient_link=True)


def _facts(link: PatientLink, appointment: Appointment) -> rules.LinkFacts:
    booked = appointment.status == AppointmentStatus.BOOKED.value
    return rules.LinkFacts(
        link.purpose, link.expires_at, link.used_at, booked, appointment.starts_at
    )


def open_link(
    token: str, *, action: LinkAction, now: datetime
) -> tuple[PatientLink, Appointment | None]:
    """The link and its appointment, the look audited; 404 unknown, 410 used or expired,
    422 an action its purpose does not allow. An action locks the course first."""
    link = db.session.scalar(
        select(PatientLink).where(PatientLink.token_hash == rules.token_hash(token))
    )
    if link is None:
        raise NotFound("This link is not valid. Please call the clinic.", code="link_unknown")
    audit.record(action.value, RESOURCE, link.id, patient_id=link.patient_id, actor_id=link.id)
    appointment = None
    if link.appointment_id is not None:
        appointment = db.session.get(Appointment, link.appointment_id)
        if action is not LinkAction.VIEW and appointment is not None:
            course_queries.locked_course(appointment.course_id, with_protocol=False)
            db.session.refresh(appointment)
    # An offer's own state decides what its link may still do (offer_links.offer_of).
    gone = None
    if appointment is not None:
        gone = rules.gone_reason(_facts(link, appointment), now=now)
    if gone is not None:
        raise Gone(gone)
    refused = rules.action_violation(link.purpose, action)
    if refused is not None:
        raise RuleRefused([refused])
    return link, appointment


def _late_now(appointment: Appointment, now: datetime) -> bool:
    """Whether cancelling now falls inside the session type's notice window."""
    course = db.session.get(Course, appointment.course_id)
    assert course is not None
    session_type = session_type_of(course, SessionKind(appointment.kind))
    return status_rules.is_late_cancellation(session_type, appointment.starts_at, now=now)


def _when_and_where(link: PatientLink, starts_at: datetime) -> dict[str, Any]:
    """The clinic, and the session's date, time and place as its clocks read them."""
    clinic = db.session.get(Clinic, link.clinic_id)
    assert clinic is not None
    local = starts_at.astimezone(ZoneInfo(clinic.time_zone))
    return {
        "clinic_name": clinic.name,
        "clinic_phone": clinic.phone or "",
        "date": rules.date_text(local),
        "time": rules.time_text(local),
        "place": clinic.address or clinic.name,
    }


def view_of(link: PatientLink, appointment: Appointment | None, now: datetime) -> LinkView:
    """What the link's page and JSON show."""
    assert appointment is not None  # offers: see act()
    dose = appointment.kind == SessionKind.DOSING.value
    actions = sorted(rules.ACTIONS[link.purpose] - {LinkAction.VIEW})
    if not dose:
        actions.remove(LinkAction.ESCORT)
    return LinkView(
        purpose=link.purpose,
        **_when_and_where(link, appointment.starts_at),
        status=appointment.status,
        confirmed=appointment.confirmed_at is not None,
        escort_needed=dose,
        escort_confirmed=appointment.escort_confirmed_at is not None,
        late_cancellation=appointment.late_cancellation,
        cancel_would_be_late=_late_now(appointment, now),
        actions=tuple(a.value for a in actions),
    )


def confirm_attendance(appointment: Appointment, *, by: Caller, now: datetime) -> None:
    """The patient will come; announced once (the webhook event appointment.confirmed)."""
    if appointment.confirmed_at is not None:
        return
    appointment.confirmed_at = now
    db.session.flush()
    audit_change(appointment, by, "confirm")
    booking_signals.appointment_confirmed.send(appointment, now=now)


def confirm_escort(appointment: Appointment, *, by: Caller, now: datetime) -> None:
    """Someone will take the patient home after their dose (the day schedule shows it)."""
    if appointment.kind != SessionKind.DOSING.value:
        raise RuleRefused(
            [Violation("escort_not_needed", "Only a dosing session needs an escort home.")]
        )
    if appointment.escort_confirmed_at is None:
        appointment.escort_confirmed_at = now
        db.session.flush()
        audit_change(appointment, by, "confirm_escort")


def cancel_appointment(appointment: Appointment, *, by: Caller, now: datetime) -> None:
    """Cancel by the course's rules (a refusal names each); a late one alerts the desk."""
    attendance.cancel_within_rules(
        appointment=appointment,
        reason=CANCEL_REASON,
        reason_category=ReasonCategory.PATIENT_REQUEST,
        by=by,
        now=now,
    )
    if appointment.late_cancellation:
        signals.late_cancellation_by_patient.send(appointment, now=now)


_APPOINTMENT_ACTIONS: dict[LinkAction, Callable[..., None]] = {
    LinkAction.CONFIRM: confirm_attendance,
    LinkAction.ESCORT: confirm_escort,
    LinkAction.CANCEL: cancel_appointment,
}


def _offer_view(link: PatientLink, offer: WaitlistOffer) -> LinkView:
    """An offer's page: the clinic, the offered session's date, time and place, and
    when it passes on if not taken (the clinic's clocks); nothing clinical."""
    clinic = db.session.get(Clinic, link.clinic_id)
    assert clinic is not None
    open_ = offer.status == "offered"
    return LinkView(
        purpose=link.purpose,
        **_when_and_where(link, offer.starts_at),
        status=offer.status,
        actions=(LinkAction.ACCEPT_OFFER.value,) if open_ else (),
        offer_expires_at=offer.expires_at,
        offer_passes_on=rules.passes_on_text(
            offer.expires_at.astimezone(ZoneInfo(clinic.time_zone))
        ),
    )


def act(token: str, action: LinkAction, *, now: datetime) -> LinkView:
    """Do what the patient asked through their link, and say where things stand: an
    appointment's link confirms, confirms the escort or cancels; an offer's link takes
    the offer (the waitlist's accept_offer, every booking rule checked again)."""
    link, appointment = open_link(token, action=action, now=now)
    if link.offer_id is not None:
        offer = offer_links.offer_of(link, action=action, now=now)
        if action is LinkAction.ACCEPT_OFFER:
            offer_links.take_offer(link, offer, now=now)
        return _offer_view(link, offer)
    assert appointment is not None
    if action is not LinkAction.VIEW:
        _APPOINTMENT_ACTIONS[action](
            appointment, by=patient_actor(link.id, link.clinic_id), now=now
        )
        if action in rules.FINAL:
            link.used_at, link.used_for = now, action.value
        db.session.flush()
    return view_of(link, appointment, now)


def next_appointment(patient_id: uuid.UUID, *, now: datetime) -> Appointment | None:
    """The patient's next booked session not started yet, its course locked."""
    found = db.session.scalar(
        select(Appointment)
        .where(
            Appointment.patient_id == patient_id,
            Appointment.status == AppointmentStatus.BOOKED.value,
            Appointment.starts_at > now,
        )
        .order_by(Appointment.starts_at)
        .limit(1)
    )
    if found is not None:
        course_queries.locked_course(found.course_id, with_protocol=False)
        db.session.refresh(found)
    return found
