"""Every appointment reminder carries the patient's link (issue 15 item 3): email and
text, within 160 characters for a text, the same working link after a move, and the
appointment.confirmed event a confirmation announces."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from kapt_api.db import db
from kapt_api.protocols.definition import SessionKind
from kapt_api.protocols.reminder_text import (
    SAMPLE_CONTEXT,
    SMS_LIMIT,
    clinical_terms_in,
    default_templates,
    sms_with_link,
)
from kapt_api.reminders import events
from kapt_api.reminders.models import Reminder
from kapt_api.scheduling.booking import service as scheduling
from kapt_api.scheduling.links import service as links
from kapt_api.scheduling.links.rules import LinkAction
from tests.reminders.conftest import outbox_of
from tests.scheduling.conftest import at

pytestmark = pytest.mark.usefixtures("now")
PREPARATION = SessionKind.PREPARATION
LINK = re.compile(r"http://127\.0\.0\.1:5000/p/([A-Za-z0-9_-]{22})")


def _token(body: str) -> str:
    found = LINK.search(body)
    assert found, body
    return found.group(1)


def test_an_email_reminder_carries_a_working_link(course, book, now):
    appointment = book(course, PREPARATION, at(0, 9))
    db.session.commit()
    (row,) = outbox_of(appointment)
    assert "Confirm or cancel your appointment online: http://127.0.0.1:5000/p/" in row.body
    view = links.act(_token(row.body), LinkAction.CONFIRM, now=now)
    assert view.confirmed and clinical_terms_in(row.body) == []


def test_a_text_reminder_carries_its_link_within_160_characters(course, book, patient, now):
    patient.preferred_reminder_channel, patient.sms_opt_in, patient.sms_opt_in_at = (
        "sms",
        True,
        now,
    )
    db.session.commit()
    appointment = book(course, PREPARATION, at(0, 9))
    db.session.commit()
    (row,) = outbox_of(appointment)
    assert row.channel == "sms" and len(row.body) <= SMS_LIMIT
    assert row.body.startswith("Cedar Clinic: appointment Monday, December 7 at 9:00 AM.")
    assert "Reply STOP" in row.body
    assert links.act(_token(row.body), LinkAction.VIEW, now=now).status == "booked"


def test_a_text_too_long_for_its_link_goes_without_it():
    long_link = "https://clinic.example.org/p/" + "x" * 100
    text = sms_with_link(default_templates(PREPARATION).sms_body, SAMPLE_CONTEXT, long_link)
    assert long_link not in text and len(text) <= SMS_LIMIT
    short = sms_with_link(
        default_templates(PREPARATION).sms_body, SAMPLE_CONTEXT, "https://k.example/p/abc"
    )
    assert short.endswith(" https://k.example/p/abc") and len(short) <= SMS_LIMIT


def test_a_moved_appointments_reminders_keep_a_valid_link(course, book, place, caller_of, now):
    appointment = book(course, PREPARATION, at(0, 9))
    db.session.commit()
    before = _token(outbox_of(appointment)[0].body)
    scheduling.move(
        appointment=appointment, by=caller_of(place.front_desk), now=now, starts_at=at(0, 14)
    )
    db.session.commit()
    (row,) = outbox_of(appointment)
    assert "2:00 PM" in row.body and _token(row.body) == before
    assert links.act(before, LinkAction.VIEW, now=now).time == "2:00 PM"


def test_a_confirmation_is_announced_as_appointment_confirmed(course, book, place, now):
    events.subscribe(
        clinic_id=place.clinic.id, url="http://127.0.0.1:9/hook", events=["appointment.confirmed"]
    )
    appointment = book(course, PREPARATION, at(0, 9))
    token = _token(outbox_of(appointment)[0].body)
    links.act(token, LinkAction.CONFIRM, now=now)
    links.act(token, LinkAction.CONFIRM, now=now)  # said twice, announced once
    db.session.commit()
    (event,) = db.session.scalars(select(Reminder).where(Reminder.purpose == "event"))
    document = event.payload["document"]
    assert document["event"] == "appointment.confirmed"
    assert document["data"]["appointment_id"] == str(appointment.id)
    assert set(document["data"]) == {
        "appointment_id",
        "patient_id",
        "starts_at",
        "ends_at",
        "status",
    }
