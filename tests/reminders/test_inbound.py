"""Replies to text reminders (issue 15 item 4): the gateway's signature is checked over
the raw body, and C confirms or X cancels the sender's next session by the same rules
as the patient's link; the answer is the text to send back, with no health details."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from kapt_api import clock
from kapt_api.db import db
from kapt_api.protocols.definition import SessionKind
from kapt_api.reminders.models import Reminder
from kapt_api.scheduling.booking.models import Appointment
from tests.scheduling.conftest import PROBLEM, at, audit_rows

pytestmark = pytest.mark.usefixtures("now")
INBOUND = "/api/v1/sms/inbound"
SECRET = "gateway-shared-secret"
PHONE = "+15555550199"  # the patient fixture's


@pytest.fixture
def configured(app, monkeypatch):
    monkeypatch.setitem(app.config, "KAPT_SMS_INBOUND_SECRET", SECRET)


def signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Kapt-Signature": f"sha256={digest}", "Content-Type": "application/json"}


@pytest.fixture
def reply(client, configured):
    def send(text: str, sender: str = PHONE):
        body = json.dumps({"sender": sender, "text": text}).encode()
        return client.post(INBOUND, data=body, headers=signed(body))

    return send


@pytest.fixture
def sessions(course, book):
    first = book(course, SessionKind.PREPARATION, at(0, 9))
    second = book(course, SessionKind.PREPARATION, at(0, 13))
    db.session.commit()
    return first, second


def test_unsigned_badly_signed_and_unconfigured_posts_are_refused(app, client, monkeypatch):
    body = json.dumps({"sender": PHONE, "text": "C"}).encode()
    plain = {"Content-Type": "application/json"}
    monkeypatch.setitem(app.config, "KAPT_SMS_INBOUND_SECRET", "")
    disabled = client.post(INBOUND, data=body, headers=signed(body, "anything"))
    assert disabled.status_code == 403 and disabled.mimetype == PROBLEM
    assert disabled.get_json()["code"] == "sms_inbound_disabled"
    monkeypatch.setitem(app.config, "KAPT_SMS_INBOUND_SECRET", SECRET)
    unsigned = client.post(INBOUND, data=body, headers=plain)
    assert unsigned.status_code == 401 and unsigned.get_json()["code"] == "signature_missing"
    wrong = client.post(INBOUND, data=body, headers=signed(body, "not the secret"))
    assert wrong.status_code == 403 and wrong.get_json()["code"] == "signature_invalid"
    tampered = client.post(INBOUND, data=body.replace(b"C", b"X"), headers=signed(body))
    assert tampered.status_code == 403


def test_c_confirms_the_next_session(reply, sessions):
    first, second = sessions
    answer = reply(" c ")
    assert answer.status_code == 200
    assert answer.get_json() == {
        "action": "confirmed",
        "reply": "Cedar Clinic: your appointment Monday, December 7 at 9:00 AM is confirmed. "
        "Call +15555550100 with questions.",
    }
    db.session.expire_all()
    assert db.session.get(Appointment, first.id).confirmed_at is not None
    assert db.session.get(Appointment, second.id).confirmed_at is None
    assert [r.action for r in audit_rows(resource_type="sms_reply")] == ["receive"]


def test_x_cancels_the_next_session_by_the_same_rules(reply, sessions, patient):
    first, _second = sessions
    answer = reply("X").get_json()
    assert answer["action"] == "cancelled" and "is cancelled" in answer["reply"]
    db.session.expire_all()
    cancelled = db.session.get(Appointment, first.id)
    assert cancelled.status == "cancelled" and not cancelled.late_cancellation
    assert cancelled.history[-1].reason_category == "patient_request"
    (row,) = audit_rows(action="cancel", resource_type="appointment")
    assert row.actor_id == patient.id


def test_a_late_x_is_marked_late_and_the_desk_emailed(reply, sessions, place):
    first, _second = sessions
    clock.freeze(first.starts_at - timedelta(hours=1))
    assert reply("X").get_json()["action"] == "cancelled"
    db.session.expire_all()
    assert db.session.get(Appointment, first.id).late_cancellation
    emails = db.session.scalars(select(Reminder).where(Reminder.purpose == "alert")).all()
    assert [e.recipient for e in emails] == [place.front_desk.email]


def test_an_x_the_rules_refuse_changes_nothing_and_says_call(reply, course, book):
    book(course, SessionKind.PREPARATION, at(0, 9))
    book(course, SessionKind.PREPARATION, at(0, 13))
    dose = book(course, SessionKind.DOSING, at(2, 10))
    book(course, SessionKind.INTEGRATION, at(3, 15))
    db.session.commit()
    clock.freeze(at(1, 10))  # the dose is next
    answer = reply("X").get_json()
    assert answer["action"] == "refused" and "cannot be cancelled by text" in answer["reply"]
    db.session.expire_all()
    assert db.session.get(Appointment, dose.id).status == "booked"
    assert [r.action for r in audit_rows(resource_type="sms_reply")] == ["cancel_refused"]


def test_other_words_unknown_numbers_and_nothing_booked(reply, patient):
    assert reply("hello").get_json()["action"] == "not_understood"
    assert reply("C", sender="+15555550000").get_json()["action"] == "none"
    none = reply("C").get_json()
    assert none["action"] == "none" and "no upcoming appointment" in none["reply"]


def test_replies_name_no_health_details(reply, sessions, patient):
    for text in ("C", "X"):
        answer = reply(text).get_json()["reply"]
        assert patient.given_name not in answer and "preparation" not in answer.lower()


def test_only_badly_signed_posts_count_towards_the_rate_limit(app, client, reply, monkeypatch):
    monkeypatch.setitem(app.config, "KAPT_PATIENT_LINK_RATE_LIMIT", "2 per minute")
    assert [reply("hello").status_code for _ in range(4)] == [200] * 4  # the gateway's own
    body = json.dumps({"sender": PHONE, "text": "C"}).encode()
    wrong = [
        client.post(INBOUND, data=body, headers=signed(body, "guess")).status_code for _ in range(3)
    ]
    assert wrong == [403, 403, 429]
