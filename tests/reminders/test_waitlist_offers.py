"""Waitlist offers told to the patient through the outbox: one PHI-safe message on their
reminder channel where the clinic messages offers, expiring with the offer; the text
caps and quiet hours hold (an offer that cannot go before it expires is skipped with
the reason); the unsent message is cancelled when the offer ends."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from kapt_api.db import db
from kapt_api.reminders.models import Reminder
from kapt_api.reminders.waitlist_offers import OfferWords, sms_text
from kapt_api.scheduling.waitlist import offers
from kapt_api.scheduling.waitlist.models import WaitlistOffer
from tests.scheduling.waitlist import conftest as waitlist_fixtures

book = waitlist_fixtures.book
cancel = waitlist_fixtures.cancel
dose_to_cancel = waitlist_fixtures.dose_to_cancel
enrolled = waitlist_fixtures.enrolled
ready = waitlist_fixtures.ready
tick = waitlist_fixtures.tick
wait = waitlist_fixtures.wait

pytestmark = pytest.mark.usefixtures("now")


def offer_messages() -> list[Reminder]:
    db.session.expire_all()
    return list(db.session.scalars(select(Reminder).where(Reminder.purpose == "waitlist_offer")))


@pytest.fixture
def offered(dose_to_cancel, ready, wait, cancel, tick, place):
    """Returns a function: Rowan waits (with `**patient` changes), the Wednesday dose is
    cancelled, and the job ticks at `when`; the open offer."""

    def run(when=None, **patient):
        course = ready(1)
        for name, value in patient.items():
            setattr(course.patient, name, value)
        wait(course)
        cancel(dose_to_cancel)
        tick(when)
        return db.session.scalars(
            select(WaitlistOffer).where(WaitlistOffer.status == "offered")
        ).one()

    return run


def test_an_offer_is_emailed_with_its_link_and_nothing_clinical(offered, place):
    offer = offered()
    [message] = offer_messages()
    assert (message.channel, message.status) == ("email", "pending")
    assert message.expires_at == offer.expires_at and message.due_at == offer.created_at
    text = f"{message.subject} {message.body}"
    assert "Cedar Clinic" in text and "Wednesday, December 9 at 10:00 AM" in text
    assert "/p/" in message.body and "Take this session" in message.body
    for clinical in ("Rowan", "Quill", "dos", "ketamine", "esketamine", "IM KAP"):
        assert clinical not in text


def test_no_message_where_the_clinic_does_not_message_offers(offered, place):
    place.clinic.waitlist_offers_enabled = False
    db.session.commit()
    offered()
    assert offer_messages() == []


def test_a_text_fits_160_characters_with_its_link(offered):
    offered(preferred_reminder_channel="sms", sms_opt_in=True)
    [message] = offer_messages()
    assert message.channel == "sms" and message.status == "pending"
    assert len(message.body) <= 160 and "/p/" in message.body


def test_a_text_without_consent_is_recorded_skipped(offered):
    offered(preferred_reminder_channel="sms", sms_opt_in=False)
    [message] = offer_messages()
    assert (message.status, message.reason) == ("skipped", "sms_not_consented")


def test_an_offer_made_at_night_that_expires_before_morning_is_skipped(offered, now):
    offered(when=now + timedelta(hours=12))  # Saturday 22:00 in New York; 30 minutes
    [message] = offer_messages()
    assert (message.status, message.reason) == ("skipped", "quiet_hours_until_offer_expires")


@pytest.mark.parametrize("answer", ["accept_offer", "decline_offer"])
def test_an_answered_offer_cancels_its_unsent_message(offered, place, caller_of, now, answer):
    offer = offered()
    getattr(offers, answer)(offer.id, by=caller_of(place.front_desk), now=now)
    db.session.commit()
    reasons = {m.reason for m in offer_messages() if m.status == "cancelled"}
    assert reasons == {"offer_accepted" if answer == "accept_offer" else "offer_declined"}


def test_an_expired_offer_cancels_its_unsent_message(offered, tick, now):
    offer = offered()
    tick(offer.expires_at + timedelta(seconds=1))
    [message, *_] = [m for m in offer_messages() if m.payload["offer_id"] == str(offer.id)]
    assert (message.status, message.reason) == ("cancelled", "offer_expired")


def test_a_long_clinic_name_shortens_the_text_then_gives_up():
    words = OfferWords(
        clinic="Cedar Clinic", phone="", date="Wednesday, December 9", short_date="Wed Dec 9",
        time="10:00 AM", place="12 Long Street, Springfield", link="https://k.test/p/" + "x" * 22,
        until="9:30 AM on Monday, December 7", until_time="9:30 AM",
    )  # fmt: skip
    assert len(sms_text(words) or "") <= 160
    assert sms_text(OfferWords(**{**words.__dict__, "clinic": "C" * 150})) is None


def test_offers_made_and_accepted_are_webhook_events_with_ids_and_times_only(
    client, admin_headers, offered, place, caller_of, now
):
    answer = client.post(
        "/api/v1/webhook-subscriptions",
        json={
            "clinic_id": str(place.clinic.id),
            "url": "https://hooks.example.test/kapt",
            "events": ["waitlist.offered", "waitlist.accepted"],
        },
        headers=admin_headers,
    )
    assert answer.status_code == 201, answer.json
    offer = offered()
    appointment = offers.accept_offer(offer.id, by=caller_of(place.front_desk), now=now)
    db.session.commit()
    documents = [
        m.payload["document"]
        for m in db.session.scalars(select(Reminder).where(Reminder.purpose == "event"))
    ]
    by_event = {d["event"]: d["data"] for d in documents}
    assert set(by_event) == {"waitlist.offered", "waitlist.accepted"}
    assert by_event["waitlist.offered"]["offer_id"] == str(offer.id)
    assert by_event["waitlist.accepted"]["appointment_id"] == str(appointment.id)
    assert set(by_event["waitlist.offered"]) == {
        "offer_id", "entry_id", "course_id", "starts_at", "ends_at", "expires_at"
    }  # fmt: skip
