"""A waitlist offer told to its patient through the outbox, and withdrawn when it ends.

Where the clinic messages offers (`waitlist_offered` with `messages=True`), one row to
the patient on their reminder channel (rules.channel_for: email, or a text with
consent), written in the offer's transaction. The reminders' limits hold: a text counts
against 1 a day and 3 a week; nothing goes between 21:00 and 08:00 in the patient's
zone, and an offer that cannot go before it expires is recorded `skipped` with the
reason. The row expires with the offer, so the dispatcher never sends a dead offer.

The words are minimum-necessary (DOMAIN.md §5.1): the clinic's name and phone, the
date, time and place, the link and until when it holds; never the patient's name, the
kind of session or a drug (a text may be read on a locked phone).

When the offer ends (accepted, taken, expired, declined, withdrawn), its unsent message
is cancelled by receivers of the waitlist's `waitlist_accepted` and
`waitlist_offer_closed`, in the same transaction as the end.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from kapt_api.clinics.models import Clinic
from kapt_api.db import db
from kapt_api.patients.models import Patient
from kapt_api.protocols.definition import Channel
from kapt_api.protocols.reminder_text import SMS_LIMIT
from kapt_api.reminders import rules
from kapt_api.reminders.drafts import recipient_of, sms_due_times
from kapt_api.reminders.models import Purpose, Reminder, Status
from kapt_api.rows import insert_as_loaded
from kapt_api.scheduling.links import minting as links
from kapt_api.scheduling.links.rules import date_text, passes_on_text, time_text
from kapt_api.scheduling.waitlist import signals
from kapt_api.scheduling.waitlist.models import WaitlistEntry

CHANNELS = (Channel.EMAIL, Channel.SMS)


@dataclass(frozen=True)
class OfferWords:
    """What an offer message may say, every value as the clinic's clocks read it."""

    clinic: str
    phone: str
    date: str
    short_date: str
    time: str
    place: str
    link: str
    until: str
    until_time: str


def email_text(words: OfferWords) -> tuple[str, str]:
    """The email's subject and body."""
    subject = f"{words.clinic}: a session is free on {words.date} at {words.time}"
    call = f"\n\nQuestions: call {words.phone}." if words.phone else ""
    body = (
        f"{words.clinic} has a session free on {words.date} at {words.time}, at "
        f"{words.place}, and you are next on the waiting list.\n\n"
        f'To take it, open this link and press "Take this session":\n{words.link}\n\n'
        f"It is held for you until {words.until}. After that it is offered to the next "
        f"patient waiting; if you do not want it, you need not do anything.{call}\n"
    )
    return subject, body


def sms_text(words: OfferWords) -> str | None:
    """The text, shortened until it fits 160 characters (None: it cannot)."""
    for text in (
        f"{words.clinic}: a session is free {words.date} at {words.time}, {words.place}. "
        f"Take it by {words.until}: {words.link} Reply STOP to opt out.",
        f"{words.clinic}: a session is free {words.short_date} at {words.time}. "
        f"Take it by {words.until_time}: {words.link} Reply STOP to opt out.",
        f"{words.clinic}: session free {words.short_date} {words.time}. Take it by "
        f"{words.until_time}: {words.link} STOP to opt out",
    ):
        if len(text) <= SMS_LIMIT:
            return text
    return None


def _words(offer: Any, clinic: Clinic, link: str) -> OfferWords:
    zone = ZoneInfo(clinic.time_zone)
    local, until = offer.starts_at.astimezone(zone), offer.expires_at.astimezone(zone)
    return OfferWords(
        clinic=clinic.name,
        phone=clinic.phone or "",
        date=date_text(local),
        short_date=f"{local:%a %b} {local.day}",
        time=time_text(local),
        place=clinic.address or clinic.name,
        link=link,
        until=passes_on_text(until),
        until_time=time_text(until),
    )


def _skip_reason(
    choice: rules.ChannelChoice, due: datetime, offer: Any, patient: Patient
) -> str | None:
    if choice.skip_reason is not None:
        return choice.skip_reason
    if due >= offer.expires_at:
        return "quiet_hours_until_offer_expires"
    if choice.channel is Channel.SMS:
        return rules.sms_cap_reason(due, patient.time_zone, sms_due_times(patient.id))
    return None


def message_offer(offer: Any, *, now: datetime, messages: bool = False, **_: Any) -> list[Reminder]:
    """Write the offer's message to its patient, if the clinic messages offers."""
    entry = db.session.get(WaitlistEntry, offer.entry_id)
    clinic = db.session.get(Clinic, offer.clinic_id)
    patient = db.session.get(Patient, entry.patient_id) if entry else None
    if not messages or clinic is None or patient is None:
        return []
    choice = rules.channel_for(recipient_of(patient), CHANNELS)
    if choice is None:
        return []
    words = _words(offer, clinic, links.mint_offer_link(offer=offer, now=now))
    subject, body = (
        email_text(words) if choice.channel is Channel.EMAIL else (None, sms_text(words))
    )
    due = rules.next_waking_moment(now, patient.time_zone, expires=offer.expires_at)
    reason = _skip_reason(choice, due, offer, patient) or (None if body else "text_too_long")
    row = Reminder(
        clinic_id=clinic.id,
        patient_id=patient.id,
        purpose=Purpose.WAITLIST_OFFER.value,
        channel=choice.channel.value,
        recipient=choice.address or "",
        subject=subject,
        body=body or "",
        payload={"offer_id": str(offer.id)},
        due_at=due,
        next_attempt_at=due,
        expires_at=offer.expires_at,
        status=(Status.SKIPPED if reason else Status.PENDING).value,
        reason=reason,
    )
    insert_as_loaded([row])
    return [row]


def withdraw_message(offer: Any, *, now: datetime, status: str = "accepted", **_: Any) -> None:
    """The offer ended: its message, if not sent yet, is cancelled."""
    entry = db.session.get(WaitlistEntry, offer.entry_id)
    if entry is None:
        return
    for row in db.session.scalars(
        select(Reminder).where(
            Reminder.patient_id == entry.patient_id,
            Reminder.purpose == Purpose.WAITLIST_OFFER.value,
            Reminder.status == Status.PENDING.value,
        )
    ):
        if (row.payload or {}).get("offer_id") == str(offer.id):
            row.status, row.reason = Status.CANCELLED.value, f"offer_{status}"
    db.session.flush()


signals.waitlist_offered.connect(message_offer)
signals.waitlist_accepted.connect(withdraw_message)
signals.waitlist_offer_closed.connect(withdraw_message)
