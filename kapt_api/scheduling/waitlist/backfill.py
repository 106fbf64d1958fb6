"""The backfill job: every tick, offers that expired pass their time on, entries whose
wait is over end, and each open freed slot is offered to the best waiting candidate.

A candidate is an entry of the slot's clinic for which the slot search (availability
.find_slots: every booking rule, role, room and the patient) finds a session inside
the freed time that the patient accepts (rules.fits); nothing of the booking rules is
re-implemented here. Candidates are ranked by rules.rank (clinical need, then waiting
time). The best gets an offer whose resource holds keep the time for it until it
expires; an entry is offered a slot once, so an expired or declined offer passes to
the next. The job flushes; the scheduler's boundary commits once (scheduler.run_job).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from kapt_api.clinics.models import Clinic
from kapt_api.db import db, new_id
from kapt_api.errors import DomainError
from kapt_api.protocols.definition import SessionKind
from kapt_api.scheduling.availability.calendar import Slot
from kapt_api.scheduling.availability.service import find_slots
from kapt_api.scheduling.booking import holds
from kapt_api.scheduling.booking.models import ResourceHold
from kapt_api.scheduling.booking.values import BookingRequest, held_until
from kapt_api.scheduling.courses import service as course_service
from kapt_api.scheduling.courses.models import Course
from kapt_api.scheduling.courses.values import CourseStatus
from kapt_api.scheduling.waitlist import rules, service, signals
from kapt_api.scheduling.waitlist.models import (
    EndReason,
    EntryStatus,
    FreedSlot,
    OfferStatus,
    SlotStatus,
    WaitlistEntry,
    WaitlistOffer,
)

log = structlog.get_logger("kapt.waitlist")
# The slot search's grid within a freed time: the freed session's own start is on it.
STEP = timedelta(minutes=15)


@dataclass(frozen=True)
class Found:
    entry: WaitlistEntry
    course: Course
    slot: Slot
    candidate: rules.Candidate


def run_backfill(*, now: datetime) -> None:
    """One tick: expire offers, end finished entries, offer open freed slots."""
    expire_offers(now=now)
    end_finished_entries(now=now)
    for slot in db.session.scalars(
        select(FreedSlot)
        .where(FreedSlot.status == SlotStatus.OPEN.value)
        .order_by(FreedSlot.starts_at, FreedSlot.id)
    ).all():
        if slot.ends_at <= now:
            slot.status = SlotStatus.LAPSED.value
        else:
            offer_slot(slot, now=now)
    db.session.flush()


def expire_offers(*, now: datetime) -> None:
    for offer in db.session.scalars(
        select(WaitlistOffer).where(
            WaitlistOffer.status == OfferStatus.OFFERED.value, WaitlistOffer.expires_at <= now
        )
    ).all():
        service.close_offer(offer, OfferStatus.EXPIRED, now=now)


def end_finished_entries(*, now: datetime) -> None:
    """Entries whose course ended or whose last accepted date passed (clinic calendar)."""
    rows = db.session.execute(
        select(WaitlistEntry, Course.status, Clinic.time_zone)
        .join(Course, Course.id == WaitlistEntry.course_id)
        .join(Clinic, Clinic.id == WaitlistEntry.clinic_id)
        .where(WaitlistEntry.status == EntryStatus.WAITING.value)
    ).all()
    ended = [e for e, status, _ in rows if status != CourseStatus.ACTIVE.value]
    past = [e for e, status, zone in rows if status == CourseStatus.ACTIVE.value
            and e.latest_date < service.local_today(zone, now)]  # fmt: skip
    service.end(ended, EndReason.COURSE_ENDED, now=now)
    service.end(past, EndReason.EXPIRED, now=now)


# Entries with an offer still open: one offer at a time per waiting patient, so nobody
# is told of two sessions at once and the next in line hears of the other.
_HOLDING_AN_OFFER = select(WaitlistOffer.entry_id).where(
    WaitlistOffer.status == OfferStatus.OFFERED.value
)


def candidates(slot: FreedSlot, *, now: datetime) -> list[Found]:
    """The entries that could take a session in the freed time, best first."""
    offered = select(WaitlistOffer.entry_id).where(WaitlistOffer.freed_slot_id == slot.id)
    entries = db.session.scalars(
        select(WaitlistEntry)
        .where(
            WaitlistEntry.clinic_id == slot.clinic_id,
            WaitlistEntry.status == EntryStatus.WAITING.value,
            WaitlistEntry.id.not_in(offered),
            WaitlistEntry.id.not_in(_HOLDING_AN_OFFER),
        )
        .order_by(WaitlistEntry.created_at, WaitlistEntry.id)
    ).all()
    found = [f for f in (_bookable(entry, slot, now=now) for entry in entries) if f is not None]
    order = {c.entry_id: i for i, c in enumerate(rules.rank(f.candidate for f in found))}
    return sorted(found, key=lambda f: order[f.entry.id])


def _bookable(entry: WaitlistEntry, freed: FreedSlot, *, now: datetime) -> Found | None:
    """The first session inside the freed time that every booking rule allows and the
    patient accepts, or None."""
    course = db.session.get(Course, entry.course_id)
    if course is None or course.status != CourseStatus.ACTIVE.value:
        return None
    kind = SessionKind(entry.kind)
    session_type = course.definition.session_type(kind)
    if session_type is None:
        return None
    length = held_until(session_type, freed.starts_at) - freed.starts_at
    last_start = freed.ends_at - length
    if last_start < freed.starts_at:
        return None
    try:
        slots = find_slots(course=course, kind=kind, starts_from=freed.starts_at,
                           until=last_start + timedelta(seconds=1), now=now, step=STEP)  # fmt: skip
    except DomainError:  # the course cannot take this kind now (ended, dose on hold)
        return None
    wanted = service.preferences(entry)
    zone = course.clinic.time_zone
    for found in slots:
        if held_until(session_type, found.starts_at) <= freed.ends_at and rules.fits(
            wanted, starts_at=found.starts_at, ends_at=found.ends_at,
            staff_ids=found.staff_ids, zone=zone, now=now,
        ):  # fmt: skip
            return Found(entry, course, found, rules.Candidate(
                entry.id, _closes_at(course, kind, now), entry.created_at))  # fmt: skip
    return None


def _closes_at(course: Course, kind: SessionKind, now: datetime) -> datetime | None:
    """When the protocol window of the course's next session of this kind closes."""
    due = course_service.course_progress(course=course, now=now).due
    bounds = [d.latest for d in due if d.kind is kind and d.latest is not None]
    return min(bounds) if bounds else None


def _ranked(found: list[Found]) -> list[dict[str, str | int | None]]:
    return [
        {
            "entry_id": str(f.entry.id),
            "course_id": str(f.course.id),
            "patient_id": str(f.course.patient_id),
            "rank": rank,
            "closes_at": f.candidate.closes_at.isoformat() if f.candidate.closes_at else None,
            "waiting_since": f.entry.created_at.isoformat(),
            "starts_at": f.slot.starts_at.isoformat(),
        }
        for rank, f in enumerate(found, start=1)
    ]


def offer_slot(slot: FreedSlot, *, now: datetime) -> WaitlistOffer | None:
    """Offer the freed time to the best candidate whose hold the database accepts."""
    found = candidates(slot, now=now)
    slot.ranked = _ranked(found)
    clinic = db.session.get(Clinic, slot.clinic_id)
    assert clinic is not None
    for rank, best in enumerate(found, start=1):
        offer = _hold(
            slot,
            best,
            rank,
            expires_at=now + timedelta(minutes=clinic.waitlist_offer_minutes),
            now=now,
        )
        if offer is not None:
            slot.status = SlotStatus.OFFERED.value
            db.session.flush()
            signals.waitlist_offered.send(offer, now=now, messages=clinic.waitlist_offers_enabled)
            return offer
    # Someone held back by an open offer elsewhere may want this time once that offer
    # ends: the slot is searched again on later ticks instead of given up.
    held_back = db.session.scalar(
        select(WaitlistEntry.id)
        .where(WaitlistEntry.clinic_id == slot.clinic_id, WaitlistEntry.id.in_(_HOLDING_AN_OFFER))
        .limit(1)
    )
    slot.status = (SlotStatus.OPEN if held_back else SlotStatus.EXHAUSTED).value
    return None


def _hold(
    slot: FreedSlot, best: Found, rank: int, *, expires_at: datetime, now: datetime
) -> WaitlistOffer | None:
    """Write the offer and hold its resources, or None when the database refuses a hold
    (someone booked part of the time since the search)."""
    found = best.slot
    offer = WaitlistOffer(
        id=new_id(), freed_slot_id=slot.id, entry_id=best.entry.id, course_id=best.course.id,
        clinic_id=slot.clinic_id, kind=found.kind.value, starts_at=found.starts_at,
        ends_at=found.ends_at, held_until=held_until(
            best.course.definition.session_type(found.kind), found.starts_at),  # type: ignore[arg-type]
        room_id=found.room_id, staff_ids=[str(s) for s in found.staff_ids], rank=rank,
        status=OfferStatus.OFFERED.value, expires_at=expires_at, created_at=now,
    )  # fmt: skip
    request = BookingRequest(found.kind, found.starts_at, found.room_id, found.staff_ids,
                             best.course.patient_id)  # fmt: skip
    rows = [{"offer_id": offer.id, "resource_key": key, "starts_at": offer.starts_at,
             "ends_at": offer.held_until} for key in request.resource_keys()]  # fmt: skip
    try:
        with db.session.begin_nested():
            db.session.add(offer)
            db.session.flush()
            db.session.execute(insert(ResourceHold), rows)
    except IntegrityError as error:
        if holds.refused_rule(error, request.resource_keys()) is None:
            raise
        log.info("waitlist_hold_refused", freed_slot_id=str(slot.id))
        return None
    return offer
