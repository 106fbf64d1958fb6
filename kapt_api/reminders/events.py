"""Signed event webhooks that clinic apps subscribe to, delivered through the outbox:
appointment booked, moved, cancelled, confirmed by the patient (scheduling's signals)
alert raised
(monitoring's named signal `alert.raised`, sent with the alert and `now=`), and a
waitlist offer made or accepted (the waitlist's signals).

Each event is one outbox row per subscription, written in the transaction of what
happened, so a rolled-back booking announces nothing. The document names ids and
times only, never a patient's name or a clinical value.
"""

from __future__ import annotations

import json
import secrets
import uuid
from datetime import datetime
from typing import Any

import blinker
from sqlalchemy import bindparam, select

from kapt_api.clinics.models import Clinic
from kapt_api.db import db, new_id
from kapt_api.errors import InvalidInput, NotFound
from kapt_api.reminders.models import OutboxChannel, Purpose, Reminder, WebhookSubscription
from kapt_api.rows import insert_as_loaded, read
from kapt_api.scheduling.booking import signals
from kapt_api.scheduling.waitlist import signals as waitlist_signals

EVENTS = (
    "appointment.booked",
    "appointment.moved",
    "appointment.cancelled",
    "appointment.confirmed",
    "alert.raised",
    "waitlist.offered",
    "waitlist.accepted",
)
alert_raised = blinker.signal("alert.raised")


def _text(value: Any) -> Any:
    if isinstance(value, uuid.UUID | datetime):
        return value.isoformat() if isinstance(value, datetime) else str(value)
    return value


# Read on every booking, move and cancellation: built once, its clinic bound at execution.
_SUBSCRIPTIONS = select(
    WebhookSubscription.url, WebhookSubscription.events, WebhookSubscription.secret
).where(
    WebhookSubscription.clinic_id == bindparam("clinic_id"),
    WebhookSubscription.active.is_(True),
)


def announce(
    event: str, *, clinic_id: uuid.UUID, data: dict[str, Any], now: datetime
) -> list[Reminder]:
    """Write one signed post per active subscription of the clinic to this event."""
    found = read(_SUBSCRIPTIONS, {"clinic_id": clinic_id})
    rows = []
    for subscription in found:
        if event not in subscription.events:
            continue
        row_id = new_id()
        document = {
            "id": str(row_id),
            "event": event,
            "occurred_at": now.isoformat(),
            "data": {key: _text(value) for key, value in data.items()},
        }
        rows.append(
            Reminder(
                id=row_id,
                clinic_id=clinic_id,
                purpose=Purpose.EVENT.value,
                channel=OutboxChannel.WEBHOOK.value,
                recipient=subscription.url,
                body=json.dumps(document, sort_keys=True),
                payload={"document": document, "secret": subscription.secret},
                due_at=now,
                next_attempt_at=now,
            )
        )
    insert_as_loaded(rows)
    return rows


def _appointment_data(appointment: Any) -> dict[str, Any]:
    return {
        "appointment_id": appointment.id,
        "patient_id": appointment.patient_id,
        "starts_at": appointment.starts_at,
        "ends_at": appointment.ends_at,
        "status": appointment.status,
    }


def _on(event: str) -> Any:
    def receive(appointment: Any, *, now: datetime, **_: Any) -> None:
        announce(
            event, clinic_id=appointment.clinic_id, data=_appointment_data(appointment), now=now
        )

    return receive


def _alert(alert: Any, *, now: datetime, **_: Any) -> None:
    announce(
        "alert.raised",
        clinic_id=alert.clinic_id,
        data={
            "alert_id": alert.id,
            "severity": getattr(alert, "severity", None),
            "kind": getattr(alert, "kind", None),
            "patient_id": getattr(alert, "patient_id", None),
            "appointment_id": getattr(alert, "appointment_id", None),
        },
        now=now,
    )


_booked, _moved, _cancelled, _confirmed = (
    _on("appointment.booked"),
    _on("appointment.moved"),
    _on("appointment.cancelled"),
    _on("appointment.confirmed"),
)
signals.appointment_booked.connect(_booked)
signals.appointment_moved.connect(_moved)
signals.appointment_cancelled.connect(_cancelled)
signals.appointment_confirmed.connect(_confirmed)
alert_raised.connect(_alert)


def _offer_data(offer: Any) -> dict[str, Any]:
    return {
        "offer_id": offer.id,
        "entry_id": offer.entry_id,
        "course_id": offer.course_id,
        "starts_at": offer.starts_at,
        "ends_at": offer.ends_at,
        "expires_at": offer.expires_at,
    }


def _offered(offer: Any, *, now: datetime, **_: Any) -> None:
    announce("waitlist.offered", clinic_id=offer.clinic_id, data=_offer_data(offer), now=now)


def _accepted(offer: Any, *, appointment: Any, now: datetime, **_: Any) -> None:
    data = {**_offer_data(offer), "appointment_id": appointment.id}
    announce("waitlist.accepted", clinic_id=offer.clinic_id, data=data, now=now)


waitlist_signals.waitlist_offered.connect(_offered)
waitlist_signals.waitlist_accepted.connect(_accepted)


# --- subscriptions ---------------------------------------------------------------------


def subscribe(*, clinic_id: uuid.UUID, url: str, events: list[str]) -> WebhookSubscription:
    """Subscribe a URL to events of a clinic; its signing secret is made here."""
    if db.session.get(Clinic, clinic_id) is None:
        raise InvalidInput({"clinic_id": ["No clinic with this id."]})
    subscription = WebhookSubscription(
        clinic_id=clinic_id,
        url=url,
        events=sorted(set(events)),
        secret=secrets.token_urlsafe(32),
    )
    db.session.add(subscription)
    db.session.flush()
    return subscription


def subscriptions() -> Any:
    """Every active subscription, oldest first."""
    return (
        select(WebhookSubscription)
        .where(WebhookSubscription.active.is_(True))
        .order_by(WebhookSubscription.created_at, WebhookSubscription.id)
    )


def unsubscribe(*, subscription_id: uuid.UUID) -> None:
    """Stop posting to a subscription (posts already in the outbox still go)."""
    subscription = db.session.get(WebhookSubscription, subscription_id)
    if subscription is None or not subscription.active:
        raise NotFound("No webhook subscription with this id.")
    subscription.active = False
    db.session.flush()
