"""Replies to text reminders: the SMS gateway posts each one, signed, and is answered
what to text back. `C` confirms and `X` cancels the sender's next session, with the
same service functions and rules as the patient's link (scheduling/links/service.py).

The sender's number is the only identification: a number shared by several patients
identifies none of them (they are asked to call). Replies name the clinic, the date and
time and the clinic's phone only (a text is read on a lock screen).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from kapt_api.auth import audit
from kapt_api.clinics.models import Clinic
from kapt_api.db import db
from kapt_api.errors import DomainError, Forbidden, Unauthorized
from kapt_api.patients.models import Patient
from kapt_api.scheduling.booking.models import Appointment
from kapt_api.scheduling.links import service as links
from kapt_api.scheduling.links.rules import date_text, time_text

SIGNATURE_HEADER = "X-Kapt-Signature"
RESOURCE = "sms_reply"
CONFIRM, CANCEL = "C", "X"
HELP = "Reply C to confirm or X to cancel your next appointment, or call your clinic."


@dataclass(frozen=True)
class SmsAnswer:
    action: str
    reply: str


def check_signature(body: bytes, header: str | None, secret: str) -> None:
    """Refuse unless `header` is `sha256=` and the HMAC-SHA256 of the raw body."""
    if not secret:
        raise Forbidden(
            "Inbound texts are not accepted: no KAPT_SMS_INBOUND_SECRET is configured.",
            code="sms_inbound_disabled",
        )
    if not header:
        raise Unauthorized(
            f"Sign the body: {SIGNATURE_HEADER}: sha256=<HMAC-SHA256 of the raw body, hex>.",
            code="signature_missing",
            headers={"WWW-Authenticate": 'HMAC realm="sms-inbound"'},
        )
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(header.strip().encode(), expected.encode()):
        raise Forbidden("The signature does not match the body.", code="signature_invalid")


def _sender(number: str) -> Patient | None:
    found = list(db.session.scalars(select(Patient).where(Patient.phone == number.strip())))
    return found[0] if len(found) == 1 else None


def _when(appointment: Appointment, clinic: Clinic) -> str:
    local = appointment.starts_at.astimezone(ZoneInfo(clinic.time_zone))
    return f"{date_text(local)} at {time_text(local)}"


def answer_reply(*, sender: str, text: str, now: datetime) -> SmsAnswer:
    """Do what the reply asks of the sender's next session, and say what to text back."""
    word = text.strip().upper()
    patient = _sender(sender)
    if word not in (CONFIRM, CANCEL):
        return SmsAnswer("not_understood", HELP)
    if patient is None:
        return SmsAnswer("none", "We could not match this number. Please call your clinic.")
    audit.record("receive", RESOURCE, patient_id=patient.id, actor_id=patient.id)
    appointment = links.next_appointment(patient.id, now=now)
    if appointment is None:
        return SmsAnswer("none", "You have no upcoming appointment. Please call your clinic.")
    clinic = db.session.get(Clinic, appointment.clinic_id)
    assert clinic is not None
    who = links.patient_actor(patient.id, clinic.id)
    phone = f" Call {clinic.phone} with questions." if clinic.phone else ""
    if word == CONFIRM:
        links.confirm_attendance(appointment, by=who, now=now)
        return SmsAnswer(
            "confirmed",
            f"{clinic.name}: your appointment {_when(appointment, clinic)} is confirmed.{phone}",
        )
    when = _when(appointment, clinic)
    try:
        links.cancel_appointment(appointment, by=who, now=now)
    except DomainError:
        db.session.rollback()  # nothing of the attempt stays
        audit.record("cancel_refused", RESOURCE, patient_id=patient.id, actor_id=patient.id)
        return SmsAnswer(
            "refused", f"{clinic.name}: your appointment {when} cannot be cancelled by text.{phone}"
        )
    return SmsAnswer("cancelled", f"{clinic.name}: your appointment {when} is cancelled.{phone}")
