"""Claiming due reminders: a lease on the rows one dispatcher sends next, taken under
the write lock (PostgreSQL: `FOR UPDATE SKIP LOCKED`), so that replicas never send a
row at the same time and a crashed dispatcher's claims end with their lease. A row
whose session has started is not claimed but expired, and so are the texts merged
into it."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, and_, or_, select, update

from kapt_api.db import begin_write, db
from kapt_api.reminders.channels import Outgoing
from kapt_api.reminders.models import Reminder, Status


@dataclass(frozen=True)
class Claimed:
    message: Outgoing
    attempts: int


def _due(now: datetime) -> Any:
    return and_(
        Reminder.status == Status.PENDING.value,
        Reminder.next_attempt_at <= now,
        or_(Reminder.lease_until.is_(None), Reminder.lease_until <= now),
    )


@dataclass(frozen=True)
class Claim:
    items: list[Claimed]
    expired: int


def claim(*, now: datetime, batch_size: int, worker: str, lease: timedelta) -> Claim:
    """Lease up to batch_size due rows to this worker (expiring the late ones) and commit."""
    begin_write(db.session)
    rows = _due_rows(now, batch_size)
    late = [r.id for r in rows if r.expires_at is not None and r.expires_at <= now]
    live = [r for r in rows if r.expires_at is None or r.expires_at > now]
    if late:
        db.session.execute(
            update(Reminder)
            .where(Reminder.id.in_(late))
            .values(status=Status.EXPIRED.value, reason="session_started", lease_until=None)
        )
        share_fate(late, Status.EXPIRED)
    if live:
        db.session.execute(
            update(Reminder)
            .where(Reminder.id.in_([r.id for r in live]))
            .values(lease_until=now + lease, leased_by=worker, attempts=Reminder.attempts + 1)
        )
    db.session.commit()
    items = [
        Claimed(
            Outgoing(r.id, r.channel, r.recipient, r.subject, r.body, r.attachment, r.payload),
            r.attempts + 1,
        )
        for r in live
    ]
    return Claim(items, len(late))


def _due_rows(now: datetime, batch_size: int) -> Sequence[Row[Any]]:
    """The first batch_size due rows, earliest first, locked for this claim."""
    return db.session.execute(
        select(
            Reminder.id,
            Reminder.channel,
            Reminder.recipient,
            Reminder.subject,
            Reminder.body,
            Reminder.attachment,
            Reminder.payload,
            Reminder.attempts,
            Reminder.expires_at,
        )
        .where(_due(now))
        .order_by(Reminder.next_attempt_at, Reminder.id)
        .limit(batch_size)
        .with_for_update(skip_locked=True)
    ).all()


def share_fate(carriers: Sequence[uuid.UUID], status: Status) -> None:
    """Texts merged into a carrier that expired or failed were not delivered either:
    they say so (reason `carrier_expired` / `carrier_failed`), so the appointment's
    reminders never show a text as merged into one that never went out."""
    db.session.execute(
        update(Reminder)
        .where(Reminder.merged_into.in_(carriers), Reminder.status == Status.MERGED.value)
        .values(status=status.value, reason=f"carrier_{status.value}")
    )
