"""What an appointment's reminders say and when they go, as the protocol's policy, the
patient's channel and consent, waking hours and the text caps decide (DOMAIN.md §5).
Nothing here writes: planning turns drafts into rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import or_, select
from sqlalchemy.orm import lazyload

from kapt_api.clinics.models import Clinic
from kapt_api.db import db
from kapt_api.patients.models import Patient
from kapt_api.protocols.definition import (
    Channel,
    PreparationInstructions,
    ReminderRule,
    SessionKind,
)
from kapt_api.protocols.reminder_text import ReminderContext, TemplateError, render_reminder
from kapt_api.reminders import content, rules
from kapt_api.reminders.models import Reminder, Status
from kapt_api.scheduling.booking.models import Appointment
from kapt_api.scheduling.courses.models import Course
from kapt_api.scheduling.links import minting as links


@dataclass(frozen=True)
class Draft:
    """One reminder as planned now: sent later unless `skip_reason` says why not."""

    offset_hours: int
    channel: Channel
    recipient: str
    due_at: datetime
    subject: str | None
    body: str
    attachment: str | None
    skip_reason: str | None


def mail_domain() -> str:
    """The domain of Message-IDs and calendar UIDs: the sender address's."""
    return str(current_app.config["KAPT_MAIL_FROM"]).rpartition("@")[2]


def recipient_of(patient: Patient) -> rules.Recipient:
    return rules.Recipient(
        preferred_channel=patient.preferred_reminder_channel,
        email=patient.email,
        phone=patient.phone,
        sms_opt_in=patient.sms_opt_in,
        sms_opted_out=patient.sms_opt_out_at is not None,
        time_zone=patient.time_zone,
    )


def sms_due_times(patient_id: Any, besides: Any = None) -> list[datetime]:
    """The due times of the patient's texts that count against the caps, besides those
    of the appointment `besides`: pending or sent (a merged one goes out inside another,
    so it does not), waitlist offers' texts included."""
    return list(
        db.session.scalars(
            select(Reminder.due_at).where(
                Reminder.patient_id == patient_id,
                Reminder.channel == Channel.SMS.value,
                Reminder.status.in_((Status.PENDING.value, Status.SENT.value)),
                or_(Reminder.appointment_id.is_(None), Reminder.appointment_id != besides),
            )
        )
    )


# Built once: asked on every booking, and building the option cost more than the look-up
# it qualifies (the patient is usually in the session already).
_WITHOUT_CARE_TEAM = (lazyload(Patient.care_team),)


def drafts_for(
    appointment: Appointment, *, now: datetime, keep_passed: bool = False
) -> list[Draft]:
    """The reminders the appointment's protocol asks for whose time has not passed
    (with `keep_passed`, those too: a text re-rendered as its own keeps its offset)."""
    # In the session already (locked_course read them); the care team is not needed.
    course = db.session.get(Course, appointment.course_id)
    patient = db.session.get(Patient, appointment.patient_id, options=_WITHOUT_CARE_TEAM)
    clinic = db.session.get(Clinic, appointment.clinic_id)
    assert course is not None and patient is not None and clinic is not None
    definition = course.definition
    rule = definition.reminder_policy.rule_for(SessionKind(appointment.kind))
    choice = rules.channel_for(recipient_of(patient), rule.channels) if rule else None
    if rule is None or choice is None:
        return []
    context = content.context_for(appointment, clinic)
    link = links.mint_link(appointment=appointment, now=now)
    subject, body, skip = _text(rule, choice, context, definition.preparation, link)
    attachment = None
    if choice.channel is Channel.EMAIL:
        attachment = content.calendar_event(appointment, clinic, domain=mail_domain(), now=now)
    texts = sms_due_times(patient.id, appointment.id) if choice.channel is Channel.SMS else []
    drafts = []
    for offset in sorted(rule.offsets_hours, reverse=True):
        due = rules.within_waking_hours(
            appointment.starts_at - timedelta(hours=offset), patient.time_zone
        )
        if (due <= now and not keep_passed) or due >= appointment.starts_at:
            continue
        reason = skip
        if reason is None and choice.channel is Channel.SMS:
            reason = rules.sms_cap_reason(due, patient.time_zone, texts)
            if reason is None:
                texts.append(due)
        drafts.append(
            Draft(
                offset, choice.channel, choice.address or "", due, subject, body, attachment, reason
            )
        )
    return drafts


def _text(
    rule: ReminderRule,
    choice: rules.ChannelChoice,
    context: ReminderContext,
    preparation: PreparationInstructions,
    link: str,
) -> tuple[str | None, str, str | None]:
    """The subject and body on the chosen channel, carrying the patient's link, and why
    the reminder is skipped, if it is: one the protocol's template makes too long for
    its channel is never sent."""
    try:
        message = render_reminder(rule, choice.channel, context, preparation, link=link)
    except TemplateError:
        return None, "", choice.skip_reason or "text_too_long"
    return message.subject, message.body, choice.skip_reason


def apply(row: Reminder, draft: Draft, appointment: Appointment) -> None:
    """The row says what the draft says, as a fresh pending (or skipped) message."""
    row.channel = draft.channel.value
    row.recipient = draft.recipient
    row.subject = draft.subject
    row.body = draft.body
    row.attachment = draft.attachment
    row.due_at = row.next_attempt_at = draft.due_at
    row.expires_at = appointment.starts_at
    row.status = (Status.SKIPPED if draft.skip_reason else Status.PENDING).value
    row.reason = draft.skip_reason
    row.merged_into = None
    row.attempts = 0
    row.last_error = None
