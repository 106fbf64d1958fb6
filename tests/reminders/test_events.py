"""Signed event webhooks: admins subscribe clinic apps; appointment booked, moved and
cancelled, and monitoring's `alert.raised`, become outbox rows that the dispatcher
posts signed, with the row's id as Idempotency-Key."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from datetime import timedelta

import blinker
import pytest
from sqlalchemy import select

from kapt_api.db import db
from kapt_api.protocols.definition import SessionKind
from kapt_api.reminders.channels import WebhookChannel
from kapt_api.reminders.dispatcher import Limits, dispatch_due
from kapt_api.reminders.models import Reminder
from kapt_api.scheduling.booking import attendance
from tests.scheduling.conftest import at

pytestmark = pytest.mark.usefixtures("now")
API = "/api/v1/webhook-subscriptions"
LIMITS = Limits(
    lease=timedelta(minutes=2), max_attempts=3, retry_base_seconds=30, retry_max_seconds=600
)


@pytest.fixture
def subscription(client, admin_headers, place, gateway):
    answer = client.post(
        API,
        json={
            "clinic_id": str(place.clinic.id),
            "url": gateway.url,
            "events": ["appointment.booked", "alert.raised"],
        },
        headers=admin_headers,
    )
    assert answer.status_code == 201, answer.json
    return answer.json


def events_written() -> list[Reminder]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(Reminder).where(Reminder.purpose == "event").order_by(Reminder.created_at)
        )
    )


def test_an_admin_subscribes_and_sees_the_secret_only_once(client, admin_headers, subscription):
    assert len(subscription["secret"]) >= 40
    listed = client.get(API, headers=admin_headers).json

    assert [item["id"] for item in listed] == [subscription["id"]]
    assert "secret" not in listed[0]
    assert listed[0]["events"] == ["alert.raised", "appointment.booked"]


def test_unsubscribing_stops_the_posts(client, admin_headers, subscription, course, book):
    assert client.delete(f"{API}/{subscription['id']}", headers=admin_headers).status_code == 204
    assert client.delete(f"{API}/{subscription['id']}", headers=admin_headers).status_code == 404

    book(course, SessionKind.PREPARATION, at(0, 9))
    assert events_written() == []


def test_only_admins_manage_subscriptions(client, auth_headers, place):
    headers = auth_headers(place.front_desk.user)

    assert client.get(API, headers=headers).status_code == 403


@pytest.mark.parametrize(
    "body",
    [
        {"url": "ftp://x.test/h", "events": ["alert.raised"]},
        {"url": "https://x.test/h", "events": ["patient.deleted"]},
        {"url": "https://x.test/h", "events": []},
    ],
)
def test_bad_subscriptions_are_refused(client, admin_headers, place, body):
    answer = client.post(
        API, json={"clinic_id": str(place.clinic.id), **body}, headers=admin_headers
    )

    assert answer.status_code == 422


def test_a_booking_is_posted_signed_to_its_subscribers(subscription, course, book, gateway, now):
    appointment = book(course, SessionKind.PREPARATION, at(0, 9))
    (row,) = events_written()

    report = dispatch_due(
        now=now, batch_size=10, channel_registry={"webhook": WebhookChannel()}, limits=LIMITS
    )

    assert report.sent == 1
    ((headers, body),) = gateway.posts
    document = json.loads(body)
    assert document["event"] == "appointment.booked"
    assert document["data"]["appointment_id"] == str(appointment.id)
    assert headers["Idempotency-Key"] == str(row.id) == document["id"]
    signed = headers["X-Kapt-Timestamp"].encode() + b"." + body
    digest = hmac.new(subscription["secret"].encode(), signed, hashlib.sha256).hexdigest()
    assert headers["X-Kapt-Signature"] == f"sha256={digest}"


@dataclass
class StandInAlert:
    id: uuid.UUID
    clinic_id: uuid.UUID
    severity: str
    kind: str
    patient_id: uuid.UUID | None
    appointment_id: uuid.UUID | None


def test_a_raised_alert_is_posted_to_subscribers(subscription, place, patient, now):
    alert = StandInAlert(
        uuid.uuid4(), place.clinic.id, "critical", "abnormal_vitals", patient.id, None
    )

    blinker.signal("alert.raised").send(alert, now=now)

    (row,) = events_written()
    document = row.payload["document"]
    assert document["event"] == "alert.raised"
    assert document["data"] == {
        "alert_id": str(alert.id),
        "severity": "critical",
        "kind": "abnormal_vitals",
        "patient_id": str(patient.id),
        "appointment_id": None,
    }
    assert row.recipient == subscription["url"] and row.channel == "webhook"


def test_an_event_no_one_subscribed_to_writes_nothing(subscription, course, book, place, caller_of):
    appointment = book(course, SessionKind.PREPARATION, at(0, 9))
    attendance.cancel(
        appointment=appointment, reason="ill", by=caller_of(place.front_desk), now=at(-2, 11)
    )

    assert [r.payload["document"]["event"] for r in events_written()] == ["appointment.booked"]


def test_a_raised_alert_emails_the_prescriber_of_the_care_team(place, patient, course, now):
    alert = StandInAlert(
        uuid.uuid4(), place.clinic.id, "critical", "abnormal_vitals", patient.id, None
    )

    blinker.signal("alert.raised").send(alert, now=now)

    db.session.expire_all()
    (row,) = db.session.scalars(select(Reminder).where(Reminder.purpose == "alert")).all()
    assert (row.channel, row.recipient, row.status) == ("email", place.prescriber.email, "pending")
    assert row.subject == "Cedar Clinic: critical alert needs your review"
    assert str(alert.id) in row.body and "Avery" not in row.body
    assert row.due_at == now


def test_an_alert_for_a_patient_without_a_course_emails_no_one(place, patient, now):
    alert = StandInAlert(
        uuid.uuid4(), place.clinic.id, "warning", "overdue_checklist", patient.id, None
    )

    blinker.signal("alert.raised").send(alert, now=now)

    assert db.session.scalars(select(Reminder).where(Reminder.purpose == "alert")).all() == []
