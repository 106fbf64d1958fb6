"""The dispatcher: claim due rows under a lease, send outside the transaction, mark
them sent; retry transient failures with backoff and jitter, fail permanent ones
with an alert, expire the ones whose session has started.

Replicas are safe because the database decides who sends what: PostgreSQL claims
with `FOR UPDATE SKIP LOCKED`, SQLite under its write lock (db.begin_write), and a
lease everywhere, so a dispatcher killed mid-batch only delays its claims until the
lease ends. Marking is conditional on still holding the lease: a dispatcher that
lost its claim never overwrites the one that took it over. At most the messages in
flight under a dead dispatcher's lease are sent twice, each with the same
idempotency key. This is a job's body: it commits, once per step. The claim itself
is in claims.py.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import blinker
import structlog
from flask import current_app
from sqlalchemy import and_, select, update

from kapt_api import clock
from kapt_api.db import db
from kapt_api.patients.models import Patient
from kapt_api.reminders import rules
from kapt_api.reminders.channels import Channel, DeliveryError, Outgoing, registry_from_config
from kapt_api.reminders.claims import Claim, Claimed, claim, share_fate
from kapt_api.reminders.models import Purpose, Reminder, Status

__all__ = [
    "ERROR_LENGTH",
    "Claim",
    "Claimed",
    "DispatchReport",
    "Limits",
    "Outgoing",
    "channels_of",
    "claim",
    "delivery_failed",
    "dispatch_due",
    "dispatch_until_idle",
    "worker_name",
]

log = structlog.get_logger("kapt.reminders")
# Sent (sender: the failed row's id, `now=`, `reminder=` its Outgoing, `error=`) when
# a message cannot be delivered: whoever watches deliveries raises it with staff.
delivery_failed = blinker.signal("delivery.failed")
ERROR_LENGTH = 500


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class DispatchReport:
    claimed: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    expired: int = 0
    failures: list[uuid.UUID] = field(default_factory=list)


@dataclass(frozen=True)
class Limits:
    lease: timedelta
    max_attempts: int
    retry_base_seconds: int
    retry_max_seconds: int

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Limits:
        return cls(
            lease=timedelta(seconds=config["KAPT_REMINDER_LEASE_SECONDS"]),
            max_attempts=config["KAPT_REMINDER_MAX_ATTEMPTS"],
            retry_base_seconds=config["KAPT_REMINDER_RETRY_SECONDS"],
            retry_max_seconds=config["KAPT_REMINDER_RETRY_MAX_SECONDS"],
        )


def _send(claimed: Sequence[Claimed], registry: Mapping[str, Channel]) -> list[Any]:
    """Each channel gets its messages in one call (one SMTP connection per batch)."""
    by_channel: dict[str, list[Claimed]] = {}
    for item in claimed:
        by_channel.setdefault(item.message.channel, []).append(item)
    results: dict[uuid.UUID, Any] = {}
    for name, items in by_channel.items():
        channel = registry.get(name)
        if channel is None:
            error = DeliveryError(f"no {name} channel configured", permanent=True)
            answers: list[Any] = [error] * len(items)
        else:
            answers = list(channel.deliver([i.message for i in items]))
        results.update(zip((i.message.id for i in items), answers, strict=True))
    return [results[item.message.id] for item in claimed]


def _held(reminder_id: uuid.UUID, worker: str) -> Any:
    return and_(
        Reminder.id == reminder_id,
        Reminder.status == Status.PENDING.value,
        Reminder.leased_by == worker,
    )


def _mark(
    claimed: Sequence[Claimed],
    outcomes: Sequence[Any],
    *,
    now: datetime,
    worker: str,
    limits: Limits,
    report: DispatchReport,
) -> None:
    sent = [c.message.id for c, o in zip(claimed, outcomes, strict=True) if o is None]
    if sent:
        result = db.session.execute(
            update(Reminder)
            .where(
                Reminder.id.in_(sent),
                Reminder.status == Status.PENDING.value,
                Reminder.leased_by == worker,
            )
            .values(status=Status.SENT.value, sent_at=now, lease_until=None, last_error=None)
        )
        report.sent += int(getattr(result, "rowcount", 0) or 0)
    for item, outcome in zip(claimed, outcomes, strict=True):
        if isinstance(outcome, DeliveryError):
            _mark_failure(item, outcome, now=now, worker=worker, limits=limits, report=report)
    db.session.commit()


def _mark_failure(
    item: Claimed,
    error: DeliveryError,
    *,
    now: datetime,
    worker: str,
    limits: Limits,
    report: DispatchReport,
) -> None:
    text = str(error)[:ERROR_LENGTH]
    if error.permanent or item.attempts >= limits.max_attempts:
        values: dict[str, Any] = {"status": Status.FAILED.value, "reason": "undeliverable"}
        report.failed += 1
        report.failures.append(item.message.id)
    else:
        delay = rules.retry_delay(
            item.attempts,
            base_seconds=limits.retry_base_seconds,
            cap_seconds=limits.retry_max_seconds,
        )
        values = {"next_attempt_at": _waking(item.message.id, now + delay)}
        report.retrying += 1
    result = db.session.execute(
        update(Reminder)
        .where(_held(item.message.id, worker))
        .values(last_error=text, lease_until=None, **values)
    )
    if values.get("status") == Status.FAILED.value and getattr(result, "rowcount", 0):
        share_fate([item.message.id], Status.FAILED)


def _waking(reminder_id: uuid.UUID, at: datetime) -> datetime:
    """A patient's reminder is retried in their waking hours only (DOMAIN.md §5.2);
    staff messages and events whenever their backoff ends."""
    found = db.session.execute(
        select(Patient.time_zone, Reminder.expires_at)
        .join(Patient, Patient.id == Reminder.patient_id)
        .where(
            Reminder.id == reminder_id,
            Reminder.purpose == Purpose.APPOINTMENT_REMINDER.value,
        )
    ).first()
    if found is None:
        return at
    return rules.next_waking_moment(at, found.time_zone, expires=found.expires_at)


def dispatch_due(
    *,
    now: datetime,
    batch_size: int,
    channel_registry: Mapping[str, Channel],
    worker: str | None = None,
    limits: Limits | None = None,
) -> DispatchReport:
    """Send one batch of due reminders: claim, send, mark."""
    worker = worker or worker_name()
    limits = limits or Limits.from_config(current_app.config)
    report = DispatchReport()
    taken = claim(now=now, batch_size=batch_size, worker=worker, lease=limits.lease)
    report.expired, report.claimed = taken.expired, len(taken.items)
    if taken.items:
        outcomes = _send(taken.items, channel_registry)
        _mark(taken.items, outcomes, now=now, worker=worker, limits=limits, report=report)
    for reminder_id in report.failures:
        log.error("reminder_undeliverable", reminder_id=str(reminder_id))
        delivery_failed.send(reminder_id, now=now)
    return report


def channels_of(app: Any) -> Mapping[str, Channel]:
    """The app's channels, built once per process (the console keeps what it logged)."""
    if "kapt_reminder_channels" not in app.extensions:
        app.extensions["kapt_reminder_channels"] = registry_from_config(app.config)
    registry: Mapping[str, Channel] = app.extensions["kapt_reminder_channels"]
    return registry


def dispatch_until_idle(*, now: datetime, max_batches: int = 1000) -> DispatchReport:
    """The dispatcher job: batches until nothing is due. Each batch after the first
    reads the clock again, since a lease must run from when its claim was made."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    total = DispatchReport()
    for number in range(max_batches):
        report = dispatch_due(
            now=now if number == 0 else max(now, clock.now()),
            batch_size=app.config["KAPT_REMINDER_BATCH_SIZE"],
            channel_registry=channels_of(app),
        )
        for name in ("claimed", "sent", "retrying", "failed", "expired"):
            setattr(total, name, getattr(total, name) + getattr(report, name))
        total.failures += report.failures
        if report.claimed + report.expired == 0:
            break
    if total.claimed or total.expired:
        log.info(
            "reminders_dispatched",
            sent=total.sent,
            retrying=total.retrying,
            failed=total.failed,
            expired=total.expired,
        )
    return total
