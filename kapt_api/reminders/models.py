"""The outbox: one row per message to send (a reminder, an event, an agenda, an alert).

A row carries everything needed to send it (recipient, rendered content, calendar
attachment), so the dispatcher never reads the appointment: a move re-renders the
pending rows. Status moves only forward: pending -> sent | failed | expired |
cancelled; `skipped` rows are written with the reason a message was not planned.
A `merged` text goes out inside another pending text of the same day (`merged_into`);
it turns pending again if that text stops carrying it (its appointment cancelled or
moved to another day), since the one-text-a-day cap no longer holds it back.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kapt_api.db import Base, IdMixin, TimestampMixin


class Status(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"
    MERGED = "merged"


class OutboxChannel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    WEBHOOK = "webhook"


class Purpose(StrEnum):
    APPOINTMENT_REMINDER = "appointment_reminder"
    EVENT = "event"
    ALERT = "alert"
    AGENDA = "agenda"
    WAITLIST_OFFER = "waitlist_offer"


def _one_of(column: str, values: Any) -> str:
    return f"{column} IN ({', '.join(repr(str(v)) for v in values)})"


class Reminder(IdMixin, TimestampMixin, Base):
    __tablename__ = "reminders"
    __table_args__ = (
        CheckConstraint(_one_of("status", Status), name="status_known"),
        CheckConstraint(_one_of("channel", OutboxChannel), name="channel_known"),
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        # The dispatcher's claim reads exactly this: pending rows by due time.
        Index("ix_reminders_status_next_attempt", "status", "next_attempt_at"),
        # Planning reads a patient's texts (the caps, the day's text to merge into).
        Index("ix_reminders_patient_channel", "patient_id", "channel"),
    )

    clinic_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clinics.id"), index=True)
    appointment_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("appointments.id"), index=True
    )
    patient_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("patients.id"))
    purpose: Mapped[str] = mapped_column(String(30), default=Purpose.APPOINTMENT_REMINDER.value)
    channel: Mapped[str] = mapped_column(String(10))
    recipient: Mapped[str] = mapped_column(String(2000))
    offset_hours: Mapped[int | None]
    subject: Mapped[str | None] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    # An iCalendar event attached to emails, or the JSON document a webhook posts.
    attachment: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    due_at: Mapped[datetime]
    # Past this time (the session's start) the message is pointless: expired, not sent.
    expires_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(10), default=Status.PENDING.value)
    reason: Mapped[str | None] = mapped_column(String(200))
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    lease_until: Mapped[datetime | None]
    leased_by: Mapped[str | None] = mapped_column(String(100))
    last_error: Mapped[str | None] = mapped_column(String(500))
    sent_at: Mapped[datetime | None]
    # The text of the same day that carries this one (status `merged`).
    merged_into: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("reminders.id"))


class WebhookSubscription(IdMixin, TimestampMixin, Base):
    """A clinic app that receives signed event posts (appointment booked, moved,
    cancelled; alert raised) through the outbox."""

    __tablename__ = "webhook_subscriptions"

    clinic_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clinics.id"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list[str]] = mapped_column(JSON)
    secret: Mapped[str] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(default=True)
