"""Planning: booking writes the reminder rows of the protocol's policy, a move moves
the pending ones, a cancellation or completion cancels them. Each receiver runs in
the appointment's own transaction (scheduling/signals.py), so the outbox and the
appointment commit or roll back together. A sent reminder is never touched.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select

from kapt_api.clinics.models import Clinic
from kapt_api.db import db
from kapt_api.patients.models import Patient
from kapt_api.protocols.definition import Channel, SessionKind
from kapt_api.protocols.reminder_text import TemplateError, render_reminder
from kapt_api.reminders import content, rules
from kapt_api.reminders.models import Purpose, Reminder, Status
from kapt_api.scheduling import signals
from kapt_api.scheduling.models import Appointment, Course


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


def _other_texts(appointment: Appointment) -> list[datetime]:
    return list(
        db.session.scalars(
            select(Reminder.due_at).where(
                Reminder.patient_id == appointment.patient_id,
                Reminder.channel == Channel.SMS.value,
                Reminder.status.in_((Status.PENDING.value, Status.SENT.value)),
                Reminder.appointment_id != appointment.id,
            )
        )
    )


def drafts_for(appointment: Appointment, *, now: datetime) -> list[Draft]:
    """The reminders the appointment's protocol asks for whose time has not passed."""
    course = db.session.get(Course, appointment.course_id)
    patient = db.session.get(Patient, appointment.patient_id)
    clinic = db.session.get(Clinic, appointment.clinic_id)
    assert course is not None and patient is not None and clinic is not None
    definition = course.definition
    rule = definition.reminder_policy.rule_for(SessionKind(appointment.kind))
    choice = rules.channel_for(recipient_of(patient), rule.channels) if rule else None
    if rule is None or choice is None:
        return []
    context = content.context_for(appointment, patient, clinic)
    subject: str | None = None
    body = ""
    skip = choice.skip_reason
    try:
        message = render_reminder(rule, choice.channel, context, definition.preparation)
        subject, body = message.subject, message.body
    except TemplateError:
        skip = skip or "text_too_long"
    attachment = None
    if choice.channel is Channel.EMAIL:
        attachment = content.calendar_event(appointment, clinic, domain=mail_domain(), now=now)
    texts = _other_texts(appointment) if choice.channel is Channel.SMS else []
    drafts = []
    for offset in sorted(rule.offsets_hours, reverse=True):
        due = rules.within_waking_hours(
            appointment.starts_at - timedelta(hours=offset), patient.time_zone
        )
        if due <= now or due >= appointment.starts_at:
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


def _apply(row: Reminder, draft: Draft, appointment: Appointment) -> None:
    row.channel = draft.channel.value
    row.recipient = draft.recipient
    row.subject = draft.subject
    row.body = draft.body
    row.attachment = draft.attachment
    row.due_at = row.next_attempt_at = draft.due_at
    row.expires_at = appointment.starts_at
    row.status = (Status.SKIPPED if draft.skip_reason else Status.PENDING).value
    row.reason = draft.skip_reason
    row.attempts = 0
    row.last_error = None


def _new_row(draft: Draft, appointment: Appointment) -> Reminder:
    row = Reminder(
        clinic_id=appointment.clinic_id,
        appointment_id=appointment.id,
        patient_id=appointment.patient_id,
        purpose=Purpose.APPOINTMENT_REMINDER.value,
        offset_hours=draft.offset_hours,
    )
    _apply(row, draft, appointment)
    return row


def plan(appointment: Appointment, *, now: datetime) -> list[Reminder]:
    """Write the reminders of a newly booked appointment."""
    rows = [_new_row(draft, appointment) for draft in drafts_for(appointment, now=now)]
    db.session.add_all(rows)
    db.session.flush()
    return rows


def pending_of(appointment: Appointment) -> list[Reminder]:
    return list(
        db.session.scalars(
            select(Reminder)
            .where(
                Reminder.appointment_id == appointment.id,
                Reminder.status == Status.PENDING.value,
            )
            .order_by(Reminder.due_at)
        )
    )


def replan(appointment: Appointment, *, now: datetime) -> None:
    """Move a moved appointment's pending reminders to its new time (re-rendered); one
    whose new time has passed is cancelled, and a reminder already sent for the old
    time is followed by a new one for the new time when there is still time."""
    pending = {row.offset_hours: row for row in pending_of(appointment)}
    for draft in drafts_for(appointment, now=now):
        row = pending.pop(draft.offset_hours, None)
        if row is not None:
            _apply(row, draft, appointment)
        elif draft.skip_reason is None:
            db.session.add(_new_row(draft, appointment))
    _cancel(pending.values(), reason="moved_too_close")
    db.session.flush()


def cancel_pending(appointment: Appointment, *, reason: str) -> None:
    """Cancel the appointment's reminders not sent yet."""
    _cancel(pending_of(appointment), reason=reason)
    db.session.flush()


def _cancel(rows: Iterable[Reminder], *, reason: str) -> None:
    for row in rows:
        row.status = Status.CANCELLED.value
        row.reason = reason
        row.lease_until = None


def _booked(appointment: Appointment, *, now: datetime, **_: Any) -> None:
    plan(appointment, now=now)


def _moved(appointment: Appointment, *, now: datetime, **_: Any) -> None:
    replan(appointment, now=now)


def _cancelled(appointment: Appointment, **_: Any) -> None:
    cancel_pending(appointment, reason="appointment_cancelled")


def _completed(appointment: Appointment, **_: Any) -> None:
    cancel_pending(appointment, reason="appointment_completed")


signals.appointment_booked.connect(_booked)
signals.appointment_moved.connect(_moved)
signals.appointment_cancelled.connect(_cancelled)
signals.appointment_completed.connect(_completed)
