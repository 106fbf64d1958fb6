"""Minimum necessary outward: what leaves the API for people and clinic apps (event
webhooks, reminder emails with their calendar file, texts, alert and agenda emails to
staff, the staff calendar feeds) carries ids, times and places, never the patient's
name, email or phone, nor anything written about them.

The clinic story (conftest.py) runs with the reminder dispatcher sending what falls
due, through the real channels, to a real SMTP server and real HTTP gateways. Every
message received is searched, and so is every outbox row (also those cancelled before
they went). An email's To: address and a text's `to` number are the envelope, where
the message must go, not its content: they are left out of the search."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import datetime
from email.message import EmailMessage
from typing import Any

import pytest
from sqlalchemy import select

from kapt_api.db import db
from kapt_api.reminders import content, dispatcher
from kapt_api.reminders.channels import registry_from_config
from kapt_api.reminders.events import EVENTS
from kapt_api.reminders.models import Reminder
from kapt_api.scheduling.booking.models import Appointment
from tests.privacy.conftest import EMAIL, FAMILY_NAME, GIVEN_NAME, PHONE, Story, markers_in
from tests.reminders import conftest as reminder_fixtures
from tests.reminders.servers import Gateway
from tests.scheduling.conftest import API, at

# The patient as someone reading a message could recognise them.
PATIENT = (GIVEN_NAME, FAMILY_NAME, EMAIL, PHONE, PHONE.removeprefix("+"))
ENVELOPE = {"to"}


# Real servers: an SMTP server, and an HTTP server standing in for both the clinic app
# that receives the event webhooks and the clinic's SMS gateway.
smtp_server = reminder_fixtures.smtp_server
gateway = reminder_fixtures.gateway


@pytest.fixture
def hook_url(gateway: Gateway) -> str:
    return gateway.url


@pytest.fixture
def dispatch(app, smtp_server, gateway, monkeypatch) -> Callable[[datetime], None]:
    """The dispatcher job, sending through SMTP and the SMS gateway, run at every moment
    a message falls due until `until`."""
    settings = {
        **app.config,
        "KAPT_SMTP_HOST": "127.0.0.1",
        "KAPT_SMTP_PORT": smtp_server.port,
        "KAPT_SMS_GATEWAY_URL": gateway.url,
        "KAPT_SMS_GATEWAY_SECRET": "gateway-secret",
    }
    monkeypatch.setitem(app.extensions, "kapt_reminder_channels", registry_from_config(settings))

    def send_due(until: datetime) -> None:
        for _ in range(100):
            due = db.session.scalar(
                select(Reminder.next_attempt_at)
                .where(Reminder.status == "pending", Reminder.next_attempt_at <= until)
                .order_by(Reminder.next_attempt_at)
                .limit(1)
            )
            if due is None:
                return
            dispatcher.dispatch_until_idle(now=due)
            db.session.commit()

    return send_due


def email_text(mail: EmailMessage) -> str:
    """Every header but To: and every part, decoded (an .ics unfolded by markers_in)."""
    headers = [f"{name}: {value}" for name, value in mail.items() if name.lower() != "to"]
    parts = [part.get_content() for part in mail.walk() if not part.is_multipart()]
    return "\n".join([*headers, *(p if isinstance(p, str) else p.decode() for p in parts)])


def without_envelope(document: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in document.items() if k not in ENVELOPE})


def stored_text(row: Reminder) -> str:
    document = (row.payload or {}).get("document", {})
    return "\n".join([row.subject or "", row.body, row.attachment or "", json.dumps(document)])


def leaks(text: str) -> set[str]:
    """The markers and the patient's details a text shows."""
    lowered = text.lower()
    return markers_in(text) | {value for value in PATIENT if value.lower() in lowered}


def test_what_leaves_names_no_patient_and_carries_nothing_written_about_them(
    story: Story, smtp_server, gateway, client
):
    story.at(at(7, 9))  # a week on: everything due has gone
    sent: dict[str, str] = {}
    for number, mail in enumerate(smtp_server.mailbox.messages):
        sent[f"email {number}: {mail['Subject']}"] = email_text(mail)
    events = [d for d in gateway.documents() if "event" in d]
    texts = [d for d in gateway.documents() if "event" not in d]
    for number, document in enumerate(texts):
        sent[f"text {number}"] = without_envelope(document)
    for document in events:
        sent[f"webhook {document['event']} {document['id']}"] = json.dumps(document)
    for staff_id, token in story.feeds.items():
        feed = client.get(f"{API}/calendar/{token}.ics")
        assert feed.status_code == 200
        sent[f"calendar feed of {staff_id}"] = feed.get_data(as_text=True)
    rows = list(db.session.scalars(select(Reminder)))
    for row in rows:
        sent[f"outbox row {row.purpose} {row.channel} {row.status}"] = stored_text(row)
    booked = [db.session.get(Appointment, uuid.UUID(i)) for i in story.appointments.values()]
    joint = content.joint_text(booked[:2], story.place.clinic)
    sent["a text for two appointments"] = joint or ""

    assert {where: leaks(text) for where, text in sent.items() if leaks(text)} == {}
    # Every kind of message went, so the search above saw each one.
    assert {d["event"] for d in events} == set(EVENTS)
    assert texts and all(set(d) == {"to", "body"} for d in texts)
    assert {(r.purpose, r.channel) for r in rows if r.status == "sent"} == {
        ("appointment_reminder", "email"),
        ("appointment_reminder", "sms"),
        ("alert", "email"),
        ("agenda", "email"),
        ("event", "webhook"),
    }
    calendars = [
        part
        for mail in smtp_server.mailbox.messages
        for part in mail.walk()
        if part.get_content_type() == "text/calendar"
    ]
    assert calendars and all("BEGIN:VEVENT" in part.get_content() for part in calendars)
    assert any("BEGIN:VEVENT" in sent[f"calendar feed of {i}"] for i in story.feeds)
    assert joint is not None
    # The search itself finds what it looks for.
    assert leaks(f"Hello {GIVEN_NAME.upper()}: FREETEXT-CancelIn.reason") == {
        GIVEN_NAME,
        "FREETEXT-CancelIn.reason",
    }
