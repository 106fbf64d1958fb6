"""Offers as use cases: accept one (book the offered session through the booking
service, every rule checked again), decline one, and the front desk's list of freed
slots with their ranked candidates and open offer. They flush and never commit.

`accept_offer` is the one entry point for every way a patient says yes (the front desk
on the phone, a patient-link page): the offer's row is locked first (SELECT ... FOR
UPDATE on PostgreSQL; on SQLite the boundary's write lock, db.begin_write), so of any
number of simultaneous acceptances the first books and every other finds the offer
taken (409 offer_taken). Its holds are deleted and the appointment's written in the
same transaction: the time passes from the offer to the appointment and a refused
booking rolls back to the offer still holding it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select

from kapt_api.auth import audit
from kapt_api.db import db, on_postgresql
from kapt_api.errors import Conflict, Forbidden, NotFound
from kapt_api.patients.policy import Caller
from kapt_api.protocols.definition import SessionKind
from kapt_api.scheduling.booking import service as booking_service
from kapt_api.scheduling.booking.models import Appointment, ResourceHold
from kapt_api.scheduling.waitlist import policy, rules, service, signals
from kapt_api.scheduling.waitlist.models import (
    FreedSlot,
    OfferStatus,
    SlotStatus,
    WaitlistEntry,
    WaitlistOffer,
)

RESOURCE = "waitlist_offer"


def _offer(offer_id: uuid.UUID, by: Caller, action: str, *, lock: bool) -> WaitlistOffer:
    """The offer if `by` works at its clinic (else 404) and answers offers (else 403),
    the look audited; with `lock`, its row locked and read fresh."""
    stmt = select(WaitlistOffer).where(WaitlistOffer.id == offer_id)
    if lock and on_postgresql():
        stmt = stmt.with_for_update()
    offer = db.session.scalars(stmt.execution_options(populate_existing=True)).first()
    entry = db.session.get(WaitlistEntry, offer.entry_id) if offer else None
    patient_id = entry.patient_id if entry else None
    audit.record(action, RESOURCE, offer_id, patient_id=patient_id, actor_id=by.user_id)
    if offer is None or not policy.can_see(by, offer.clinic_id):
        raise NotFound("No waitlist offer with this id.")
    allowed = policy.can_accept(by, offer.id) if action == "accept" else policy.can_write(by)
    if not allowed:
        raise Forbidden("Only front desk and administrators answer waitlist offers.")
    return offer


def _refuse_unless_open(offer: WaitlistOffer, now: datetime) -> None:
    refused = rules.acceptance_violation(offer.status, offer.expires_at, now=now)
    if refused is not None:
        raise Conflict(refused.message, code=refused.rule, violations=[refused])


def accept_offer(offer_id: uuid.UUID, *, by: Caller, now: datetime) -> Appointment:
    """Book the offered session for the patient; 409 offer_taken / offer_expired when
    it can no longer be had. Every booking rule is checked again."""
    offer = _offer(offer_id, by, "accept", lock=True)
    _refuse_unless_open(offer, now)
    token = service.accepting.set(offer.id)
    try:
        db.session.execute(delete(ResourceHold).where(ResourceHold.offer_id == offer.id))
        appointment = booking_service.book(
            course_id=offer.course_id,
            kind=SessionKind(offer.kind),
            room_id=offer.room_id,
            starts_at=offer.starts_at,
            staff_ids=offer.staff,
            by=by,
            now=now,
            offer_id=offer.id,
        )
    finally:
        service.accepting.reset(token)
    offer.status, offer.appointment_id = OfferStatus.ACCEPTED.value, appointment.id
    offer.decided_at, offer.decided_by = now, by.user_row
    slot = db.session.get(FreedSlot, offer.freed_slot_id)
    assert slot is not None
    slot.status = SlotStatus.FILLED.value
    db.session.flush()
    # Read with the appointment before the offer named it: read it again when asked.
    db.session.expire(appointment, ["backfilled_from_offer_id"])
    signals.waitlist_accepted.send(offer, appointment=appointment, now=now)
    return appointment


def decline_offer(offer_id: uuid.UUID, *, by: Caller, now: datetime) -> WaitlistOffer:
    """The patient does not want the time: it passes to the next candidate."""
    offer = _offer(offer_id, by, "decline", lock=True)
    _refuse_unless_open(offer, now)
    service.close_offer(offer, OfferStatus.DECLINED, now=now, by=by.user_id)
    db.session.flush()
    return offer


def open_slots(
    *, by: Caller, now: datetime, clinic_id: uuid.UUID | None = None
) -> list[dict[str, Any]]:
    """The freed times still to be filled, soonest first, each with its ranked
    candidates and its open offer (the front desk's backfill screen)."""
    if not policy.can_read(by):
        raise Forbidden("Only front desk, administrators and clinicians see the waitlist.")
    stmt = select(FreedSlot).where(
        FreedSlot.status.in_([SlotStatus.OPEN.value, SlotStatus.OFFERED.value]),
        FreedSlot.ends_at > now,
    )
    if by.clinics is not None:
        stmt = stmt.where(FreedSlot.clinic_id.in_(by.clinics))
    if clinic_id is not None:
        stmt = stmt.where(FreedSlot.clinic_id == clinic_id)
    slots = db.session.scalars(stmt.order_by(FreedSlot.starts_at, FreedSlot.id).limit(100)).all()
    offers = {
        o.freed_slot_id: o
        for o in db.session.scalars(
            select(WaitlistOffer).where(
                WaitlistOffer.freed_slot_id.in_([s.id for s in slots]),
                WaitlistOffer.status == OfferStatus.OFFERED.value,
            )
        )
    }
    for slot in slots:
        audit.record("list", "waitlist_freed_slot", slot.id, actor_id=by.user_id)
    return [{"slot": slot, "offer": offers.get(slot.id)} for slot in slots]
