"""A waitlist offer through its patient link: minted once, expiring with the offer; the
page and JSON show the offered session and when it passes on; the first acceptance
books for the waitlisted course, every later one hears "taken" (409), an expired offer
says so (410), and an offer link does nothing else."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from kapt_api import clock
from kapt_api.auth.models import AuditEvent
from kapt_api.db import db
from kapt_api.errors import Conflict, Gone, RuleRefused
from kapt_api.scheduling.booking.models import Appointment
from kapt_api.scheduling.links import minting, service
from kapt_api.scheduling.links.models import PatientLink
from kapt_api.scheduling.links.rules import LinkAction
from kapt_api.scheduling.waitlist.models import WaitlistOffer
from tests.scheduling.conftest import at

LINKS = "/api/v1/patient-links"
pytestmark = pytest.mark.usefixtures("now")


@pytest.fixture
def offer(dose_to_cancel, ready, wait, cancel, tick) -> WaitlistOffer:
    """Rowan (prepared) waits; the Wednesday 10:00 dose is cancelled; one tick."""
    wait(ready(1))
    cancel(dose_to_cancel)
    tick()
    return db.session.scalars(select(WaitlistOffer).where(WaitlistOffer.status == "offered")).one()


@pytest.fixture
def token(offer, now) -> str:
    url = minting.mint_offer_link(offer=offer, now=now)
    db.session.commit()
    return url.rpartition("/p/")[2]


def test_an_offer_link_is_minted_once_and_expires_with_the_offer(offer, token, now):
    again = minting.mint_offer_link(offer=offer, now=now + timedelta(minutes=1))
    assert again.endswith(f"/p/{token}")
    [link] = db.session.scalars(select(PatientLink).where(PatientLink.offer_id == offer.id))
    assert (link.purpose, link.expires_at) == ("offer", offer.expires_at)
    assert token not in link.token_hash


def test_the_page_shows_the_session_one_button_and_when_it_passes_on(client, token, offer):
    page = client.get(f"/p/{token}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Wednesday, December 9 at 10:00 AM" in text
    assert text.count("<button") == 1 and "Take this session" in text
    assert f'action="/p/{token}/accept"' in text
    local = offer.expires_at.astimezone(ZoneInfo("America/New_York"))
    passes_on = f"{local:%-I:%M %p} on {local:%A, %B} {local.day}"
    assert f"If you do not take it by {passes_on}" in text
    assert "Rowan" not in text and "ketamine" not in text.lower()
    body = client.get(f"{LINKS}/{token}").get_json()
    assert body["purpose"] == "offer" and body["actions"] == ["accept_offer"]
    assert body["status"] == "offered" and body["offer_passes_on"] == passes_on


def test_taking_the_session_books_it_once_and_later_ones_hear_taken(client, token, offer):
    page = client.post(f"/p/{token}/accept")
    assert page.status_code == 200 and "This session is booked for you." in page.get_data(True)
    db.session.expire_all()
    offer = db.session.get(WaitlistOffer, offer.id)
    assert offer.status == "accepted" and offer.decided_by is None
    appointment = db.session.get(Appointment, offer.appointment_id)
    assert (appointment.course_id, appointment.starts_at) == (offer.course_id, at(2, 10))
    assert appointment.status == "booked" and appointment.created_by is None
    link = db.session.scalars(select(PatientLink).where(PatientLink.offer_id == offer.id)).one()
    assert link.used_for == "accept_offer" and link.used_at is not None
    second = client.post(f"/p/{token}/accept")
    assert second.status_code == 409 and "This session has been taken" in second.get_data(True)
    problem = client.post(f"{LINKS}/{token}/accept")
    assert problem.status_code == 409 and problem.mimetype == "application/problem+json"
    assert problem.get_json()["code"] == "offer_taken"
    seen = client.get(f"{LINKS}/{token}").get_json()
    assert (seen["status"], seen["actions"]) == ("accepted", [])
    actions = db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.actor_id == link.id)
    ).all()
    assert "accept_offer" in actions and "accept" in actions and "create" in actions


def test_an_expired_offer_says_so(client, token, offer):
    clock.freeze(offer.expires_at)
    gone = client.post(f"{LINKS}/{token}/accept")
    assert gone.status_code == 410 and gone.get_json()["code"] == "offer_expired"
    page = client.get(f"/p/{token}")
    assert page.status_code == 410 and "This offer has expired" in page.get_data(True)


@pytest.mark.parametrize("action", ["confirm", "escort", "cancel"])
def test_an_offer_link_does_nothing_else(client, token, action):
    refused = client.post(f"{LINKS}/{token}/{action}")
    assert refused.status_code == 422
    assert [v["rule"] for v in refused.get_json()["violations"]] == ["link_wrong_purpose"]


def test_the_service_names_each_refusal(token, offer, now):
    with pytest.raises(RuleRefused):
        service.act(token, LinkAction.CANCEL, now=now)
    db.session.rollback()
    with pytest.raises(Gone) as expired:
        service.act(token, LinkAction.ACCEPT_OFFER, now=offer.expires_at + timedelta(seconds=1))
    assert expired.value.code == "offer_expired"
    db.session.rollback()
    service.act(token, LinkAction.ACCEPT_OFFER, now=now)
    db.session.commit()
    with pytest.raises(Conflict) as taken:
        service.act(token, LinkAction.ACCEPT_OFFER, now=now)
    assert taken.value.code == "offer_taken"
