"""A session booked from an accepted waitlist offer reads `backfilled` on the day
schedule at once (the kept day is replaced: the booking and the offer naming its
appointment both replace the clinic's schedule version) and names its offer in the
appointment's answer (`backfilled_from_offer_id`)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from kapt_api.db import db
from kapt_api.scheduling.days import cache
from kapt_api.scheduling.days import service as days
from kapt_api.scheduling.waitlist import offers
from kapt_api.scheduling.waitlist.models import WaitlistOffer
from tests.scheduling.conftest import API, at

pytestmark = pytest.mark.usefixtures("now")


@pytest.fixture
def offer(dose_to_cancel, ready, wait, cancel, tick) -> WaitlistOffer:
    wait(ready(1))
    cancel(dose_to_cancel)
    tick()
    return db.session.scalars(select(WaitlistOffer).where(WaitlistOffer.status == "offered")).one()


def _items(place, caller_of) -> dict[str, dict[str, Any]]:
    answer = days.clinic_day(
        clinic_id=place.clinic.id, day=at(2, 10).date(), by=caller_of(place.front_desk)
    ).answer
    return {a["id"]: a for g in answer["by_room"] for a in g["appointments"]}


def test_an_accepted_offer_shows_backfilled_on_the_kept_day(offer, place, caller_of, now):
    before = _items(place, caller_of)  # computed and kept
    assert all(not a["backfilled"] for a in before.values())
    version = cache.version_of(place.clinic.id)

    appointment = offers.accept_offer(offer.id, by=caller_of(place.front_desk), now=now)
    db.session.commit()

    assert cache.version_of(place.clinic.id) != version
    shown = _items(place, caller_of)[str(appointment.id)]
    assert (shown["backfilled"], shown["confirmed"], shown["status"]) == (True, False, "booked")
    others = [a for i, a in _items(place, caller_of).items() if i != str(appointment.id)]
    assert all(not a["backfilled"] for a in others)


def test_naming_the_appointment_on_an_offer_alone_replaces_the_version(
    offer, place, caller_of, now
):
    appointment = offers.accept_offer(offer.id, by=caller_of(place.front_desk), now=now)
    db.session.commit()
    version = cache.version_of(place.clinic.id)
    assert _items(place, caller_of)[str(appointment.id)]["backfilled"] is True
    # The database trigger of 0016, whatever order a future acceptance writes in.
    db.session.get(WaitlistOffer, offer.id).appointment_id = None
    db.session.get(WaitlistOffer, offer.id).status = "declined"
    db.session.commit()
    assert cache.version_of(place.clinic.id) != version
    assert _items(place, caller_of)[str(appointment.id)]["backfilled"] is False


def test_the_appointment_answer_names_the_offer(client, auth_headers, offer, place, caller_of, now):
    appointment = offers.accept_offer(offer.id, by=caller_of(place.front_desk), now=now)
    assert appointment.backfilled_from_offer_id == offer.id
    db.session.commit()
    desk = auth_headers(place.front_desk.user)
    answer = client.get(f"{API}/appointments/{appointment.id}", headers=desk).get_json()
    assert answer["backfilled_from_offer_id"] == str(offer.id)
    assert (answer["confirmed_at"], answer["escort_confirmed_at"]) == (None, None)


def test_accepting_over_http_answers_the_backfilled_appointment(client, auth_headers, offer, place):
    desk = auth_headers(place.front_desk.user)
    accepted = client.post(f"{API}/waitlist/offers/{offer.id}/accept", headers=desk)
    assert accepted.status_code == 200
    assert accepted.get_json()["backfilled_from_offer_id"] == str(offer.id)
