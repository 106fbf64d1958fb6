"""A waitlist offer through its patient link: what its page shows, and taking it.

The patient acts as a Caller bound to exactly this offer (`offer_id`), so the waitlist's
own `accept_offer` (every booking rule checked again, the offer's row locked, so of
any number of simultaneous acceptances the first books) lets them accept this offer and
nothing else. The offer's state, not the link's, decides what a later visit hears: an
accepted offer still shows its booking, a second acceptance is refused as taken (409),
an expired or declined offer is gone (410).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from kapt_api.db import db, on_postgresql
from kapt_api.errors import Conflict, Gone
from kapt_api.patients.policy import Caller
from kapt_api.scheduling.booking.models import Appointment
from kapt_api.scheduling.links import rules
from kapt_api.scheduling.links.models import PatientLink
from kapt_api.scheduling.links.rules import LinkAction
from kapt_api.scheduling.waitlist import offers
from kapt_api.scheduling.waitlist.models import WaitlistOffer


def offer_actor(link: PatientLink) -> Caller:
    """The patient acting through the link of one offer: may accept that offer only."""
    assert link.offer_id is not None
    return Caller(
        link.id, frozenset(), frozenset({link.clinic_id}), None, patient_link=True,
        offer_id=link.offer_id,
    )  # fmt: skip


def offer_of(link: PatientLink, *, action: LinkAction, now: datetime) -> WaitlistOffer:
    """The link's offer, read fresh (its row locked to act on it); refused, naming the
    rule, when the offer can no longer do what is asked."""
    stmt = select(WaitlistOffer).where(WaitlistOffer.id == link.offer_id)
    if action is not LinkAction.VIEW and on_postgresql():
        stmt = stmt.with_for_update()
    offer = db.session.scalars(stmt.execution_options(populate_existing=True)).one()
    refused = rules.offer_refusal(offer.status, offer.expires_at, action=action, now=now)
    if refused is None:
        return offer
    if refused.rule in rules.OFFER_GONE:
        raise Gone(refused)
    raise Conflict(refused.message, code=refused.rule, violations=[refused])


def take_offer(link: PatientLink, offer: WaitlistOffer, *, now: datetime) -> Appointment:
    """Book the offered session for the patient; the link is spent."""
    appointment = offers.accept_offer(offer.id, by=offer_actor(link), now=now)
    link.used_at, link.used_for = now, LinkAction.ACCEPT_OFFER.value
    db.session.flush()
    return appointment
