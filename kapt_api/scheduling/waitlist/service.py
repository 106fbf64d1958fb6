"""Waitlist entries as use cases: put a course on the waitlist, find, list and take an
entry off, and end the entries whose wait is over (the course booked that kind, the
course ended, the last date the patient accepts passed). They flush and never commit.

An entry that ends takes its open offer with it: the offer's hold is deleted and its
freed slot reopened, so the next candidate is offered the time at the next tick.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from contextvars import ContextVar
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, bindparam, delete, select, update

from kapt_api.auth import audit
from kapt_api.clinics.rules import as_zone
from kapt_api.db import db
from kapt_api.errors import Conflict, Forbidden, InvalidInput, NotFound
from kapt_api.openapi import QueryPage
from kapt_api.patients.policy import Caller
from kapt_api.protocols.definition import SessionKind
from kapt_api.scheduling.booking.models import ResourceHold
from kapt_api.scheduling.booking.service import session_type_of
from kapt_api.scheduling.courses import queries as course_queries
from kapt_api.scheduling.courses.models import Course
from kapt_api.scheduling.courses.values import CourseStatus
from kapt_api.scheduling.waitlist import policy, rules, signals
from kapt_api.scheduling.waitlist.models import (
    EndReason,
    EntryStatus,
    FreedSlot,
    OfferStatus,
    SlotStatus,
    WaitlistEntry,
    WaitlistOffer,
)

RESOURCE = "waitlist_entry"
# The offer being accepted in this context: the booking it makes ends its entry, and
# that must not withdraw the offer itself (offers.accept_offer).
accepting: ContextVar[uuid.UUID | None] = ContextVar("accepting_offer", default=None)


def local_today(zone: str, now: datetime) -> date:
    return now.astimezone(as_zone(zone)).date()


def _windows(raw: Sequence[dict[str, Any]]) -> list[rules.Window]:
    return [rules.Window(w["starts"], w["ends"]) for w in raw]


def _stored_windows(windows: Sequence[rules.Window]) -> list[dict[str, str]]:
    return [{"starts": w.starts.isoformat("minutes"), "ends": w.ends.isoformat("minutes")}
            for w in windows]  # fmt: skip


def preferences(entry: WaitlistEntry) -> rules.Preferences:
    """What the entry's patient accepts, as the rules read it."""
    return rules.Preferences(
        earliest=entry.earliest_date,
        latest=entry.latest_date,
        weekdays=frozenset(entry.weekdays),
        windows=tuple(
            rules.Window(time.fromisoformat(w["starts"]), time.fromisoformat(w["ends"]))
            for w in entry.time_windows
        ),
        staff=frozenset(uuid.UUID(s) for s in entry.preferred_staff_ids),
        notice=timedelta(hours=entry.min_notice_hours),
    )


def _check_request(course: Course, data: dict[str, Any], now: datetime) -> None:
    errors = rules.request_errors(
        earliest=data["earliest_date"],
        latest=data["latest_date"],
        windows=_windows(data.get("time_windows", [])),
        today=local_today(course.clinic.time_zone, now),
    )
    unknown = [
        str(s)
        for s in data.get("preferred_staff_ids", [])
        if not course_queries.is_active_staff(s, clinic_id=course.clinic_id)
    ]
    if unknown:
        errors["preferred_staff_ids"] = [f"Not an active staff member here: {', '.join(unknown)}."]
    if errors:
        raise InvalidInput(errors)


def _new_entry(
    course: Course, kind: SessionKind, data: dict[str, Any], *, by: Caller, now: datetime
) -> WaitlistEntry:
    return WaitlistEntry(
        clinic_id=course.clinic_id,
        course_id=course.id,
        patient_id=course.patient_id,
        kind=kind.value,
        earliest_date=data["earliest_date"],
        latest_date=data["latest_date"],
        weekdays=sorted(set(data.get("weekdays", []))),
        time_windows=_stored_windows(_windows(data.get("time_windows", []))),
        preferred_staff_ids=[str(s) for s in dict.fromkeys(data.get("preferred_staff_ids", []))],
        min_notice_hours=data.get("min_notice_hours", 0),
        status=EntryStatus.WAITING.value,
        created_by=by.user_id,
        created_at=now,
    )


def put_on_waitlist(
    *, course_id: uuid.UUID, by: Caller, now: datetime, **data: Any
) -> WaitlistEntry:
    """Put a course on the waitlist for an earlier session of one kind."""
    course = course_queries.locked_course(course_id)
    if course is None or not policy.can_see(by, course.clinic_id):
        raise NotFound("No course with this id.")
    if not policy.can_write(by):
        raise Forbidden("Only front desk and administrators put courses on the waitlist.")
    kind = SessionKind(data["kind"])
    session_type_of(course, kind)  # 422 naming `kind` when the protocol has none
    if course.status != CourseStatus.ACTIVE.value:
        raise InvalidInput(
            {"course_id": [f"The course is {course.status}; only an active course waits."]}
        )
    _check_request(course, data, now)
    if waiting(course.id, kind):
        raise Conflict(
            f"This course is already on the waitlist for a {kind.value} session.",
            code="already_waitlisted",
        )
    entry = _new_entry(course, kind, data, by=by, now=now)
    db.session.add(entry)
    db.session.flush()
    _reopen_exhausted(course.clinic_id, now)
    audit.record("create", RESOURCE, entry.id, patient_id=entry.patient_id, actor_id=by.user_id)
    return entry


def _reopen_exhausted(clinic_id: uuid.UUID, now: datetime) -> None:
    """Freed times nobody could take are searched again at the next tick: the new entry
    may fit one."""
    db.session.execute(
        update(FreedSlot)
        .where(
            FreedSlot.clinic_id == clinic_id,
            FreedSlot.status == SlotStatus.EXHAUSTED.value,
            FreedSlot.ends_at > now,
        )
        .values(status=SlotStatus.OPEN.value)
    )


def waiting(course_id: uuid.UUID, kind: SessionKind | None = None) -> list[WaitlistEntry]:
    stmt = select(WaitlistEntry).where(
        WaitlistEntry.course_id == course_id, WaitlistEntry.status == EntryStatus.WAITING.value
    )
    if kind is not None:
        stmt = stmt.where(WaitlistEntry.kind == kind.value)
    return list(db.session.scalars(stmt))


def find_entry(*, entry_id: uuid.UUID, by: Caller, action: str = "read") -> WaitlistEntry:
    """The entry if `by` works at its clinic and may read the waitlist (else 404/403)."""
    entry = db.session.get(WaitlistEntry, entry_id)
    audit.record(
        action, RESOURCE, entry_id, patient_id=entry.patient_id if entry else None,
        actor_id=by.user_id,
    )  # fmt: skip
    if entry is None or not policy.can_see(by, entry.clinic_id):
        raise NotFound("No waitlist entry with this id.")
    if not policy.can_read(by):
        raise Forbidden("Only front desk, administrators and clinicians see the waitlist.")
    return entry


def entries(
    *, by: Caller, clinic_id: uuid.UUID | None = None, kind: str | None = None
) -> Select[Any]:
    stmt = select(WaitlistEntry).where(WaitlistEntry.status == EntryStatus.WAITING.value)
    if by.clinics is not None:
        stmt = stmt.where(WaitlistEntry.clinic_id.in_(by.clinics))
    if clinic_id is not None:
        stmt = stmt.where(WaitlistEntry.clinic_id == clinic_id)
    if kind is not None:
        stmt = stmt.where(WaitlistEntry.kind == kind)
    return stmt.order_by(WaitlistEntry.created_at, WaitlistEntry.id)


def list_entries(*, by: Caller, page: Any, clinic_id: uuid.UUID | None = None,
                 kind: str | None = None) -> list[WaitlistEntry]:  # fmt: skip
    """One page of the waiting entries `by` may see, oldest first, each listed audited."""
    if not policy.can_read(by):
        raise Forbidden("Only front desk, administrators and clinicians see the waitlist.")
    found = QueryPage(entries(by=by, clinic_id=clinic_id, kind=kind), page).items
    for entry in found:
        audit.record("list", RESOURCE, entry.id, patient_id=entry.patient_id, actor_id=by.user_id)
    return found


def remove_entry(*, entry_id: uuid.UUID, by: Caller, now: datetime) -> None:
    """Take an entry off the waitlist (its open offer is withdrawn)."""
    entry = find_entry(entry_id=entry_id, by=by, action="delete")
    if not policy.can_write(by):
        raise Forbidden("Only front desk and administrators take courses off the waitlist.")
    if entry.status == EntryStatus.WAITING.value:
        end([entry], EndReason.REMOVED, now=now)


def end(found: Sequence[WaitlistEntry], reason: EndReason, *, now: datetime) -> None:
    """End these entries, withdrawing their open offers."""
    for entry in found:
        entry.status, entry.end_reason, entry.ended_at = EntryStatus.ENDED.value, reason.value, now
    _withdraw_offers([entry.id for entry in found], reason, now=now)


def _ending(*, of_kind: bool) -> Any:
    stmt = update(WaitlistEntry).where(
        WaitlistEntry.course_id == bindparam("course"),
        WaitlistEntry.status == EntryStatus.WAITING.value,
    )
    if of_kind:
        stmt = stmt.where(WaitlistEntry.kind == bindparam("wanted_kind"))
    return stmt.values(
        status=EntryStatus.ENDED.value, end_reason=bindparam("reason"), ended_at=bindparam("now")
    ).returning(WaitlistEntry.id)


# Built once: every booking sends one, and building it (with its cache key) anew each
# time cost more than the rest of ending a course's wait.
_ENDING = {kind: _ending(of_kind=kind) for kind in (False, True)}


def end_waiting(
    course_id: uuid.UUID, reason: EndReason, *, now: datetime, kind: SessionKind | None = None
) -> None:
    """End the course's waiting entries (of this kind), withdrawing their open offers:
    one UPDATE, no read first (every booking asks it, and a course seldom waits)."""
    values: dict[str, Any] = {"course": course_id, "reason": reason.value, "now": now}
    if kind is not None:
        values["wanted_kind"] = kind.value
    # On the session's connection, past the ORM's per-statement set-up (a booking sends
    # it); an entry the session holds is refreshed from the database when next read.
    db.session.flush()
    ids = list(db.session.connection().scalars(_ENDING[kind is not None], values))
    for held in [o for o in db.session.identity_map.values() if isinstance(o, WaitlistEntry)]:
        if held.id in ids:
            db.session.expire(held)
    _withdraw_offers(ids, reason, now=now)


def _withdraw_offers(ids: list[uuid.UUID], reason: EndReason, *, now: datetime) -> None:
    if not ids:
        return
    withdrawn = OfferStatus.TAKEN if reason is EndReason.BOOKED else OfferStatus.EXPIRED
    for offer in db.session.scalars(
        select(WaitlistOffer).where(
            WaitlistOffer.entry_id.in_(ids),
            WaitlistOffer.status == OfferStatus.OFFERED.value,
            WaitlistOffer.id != accepting.get(),
        )
    ):
        close_offer(offer, withdrawn, now=now)
    db.session.flush()


def close_offer(
    offer: WaitlistOffer, status: OfferStatus, *, now: datetime, by: uuid.UUID | None = None
) -> None:
    """The offer ends without a booking: its hold goes, its slot is open again."""
    offer.status, offer.decided_at, offer.decided_by = status.value, now, by
    db.session.execute(delete(ResourceHold).where(ResourceHold.offer_id == offer.id))
    slot = db.session.get(FreedSlot, offer.freed_slot_id)
    if slot is not None and slot.status == SlotStatus.OFFERED.value:
        slot.status = SlotStatus.OPEN.value
    signals.waitlist_offer_closed.send(offer, status=status.value, now=now)
