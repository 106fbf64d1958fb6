"""Waitlist and backfill against the database: a cancelled dose is offered within one
tick to an eligible waiting patient and never to one a booking rule or their own
preferences would refuse; ranking; the offer's hold refuses a competing booking;
acceptance books through the booking service; an expired or declined offer passes to
the next candidate; entries end when the course books the kind, the date passes, or
the course ends."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest
from sqlalchemy import select

from kapt_api.db import db
from kapt_api.errors import Conflict, Forbidden, InvalidInput, NotFound
from kapt_api.scheduler import JOBS
from kapt_api.scheduling.booking import attendance
from kapt_api.scheduling.booking import service as booking
from kapt_api.scheduling.booking.models import ResourceHold
from kapt_api.scheduling.booking.service import BookingRefused
from kapt_api.scheduling.courses import service as course_service
from kapt_api.scheduling.courses.values import ReasonCategory
from kapt_api.scheduling.waitlist import offers, service, signals
from kapt_api.scheduling.waitlist.models import FreedSlot, WaitlistOffer
from tests.scheduling.conftest import at, rules_of
from tests.scheduling.waitlist.conftest import DOSING, INTEGRATION, PREPARATION, H

pytestmark = pytest.mark.usefixtures("now")


def open_offers() -> list[WaitlistOffer]:
    return list(db.session.scalars(select(WaitlistOffer).where(WaitlistOffer.status == "offered")))


def offer_holds(offer: WaitlistOffer) -> list[ResourceHold]:
    return list(db.session.scalars(select(ResourceHold).where(ResourceHold.offer_id == offer.id)))


@pytest.fixture
def offered(dose_to_cancel, ready, wait, cancel, tick):
    """Rowan (prepared) waits; the Wednesday 10:00 dose is cancelled; one tick."""
    waiting = ready(1)
    entry = wait(waiting)
    cancel(dose_to_cancel)
    tick()
    return waiting, entry, open_offers()


# --- the freed slot and the offer ----------------------------------------------------------


def test_a_cancelled_dose_is_offered_to_an_eligible_patient_within_one_tick(offered, place):
    course, entry, found = offered
    [offer] = found
    assert (offer.entry_id, offer.course_id, offer.rank) == (entry.id, course.id, 1)
    assert offer.starts_at == at(2, 10) and offer.room_id == place.dosing_room.id
    assert offer.expires_at == offer.created_at + timedelta(minutes=30)
    keys = {h.resource_key for h in offer_holds(offer)}
    assert f"patient:{course.patient_id}" in keys and f"room:{place.dosing_room.id}" in keys
    slot = db.session.get(FreedSlot, offer.freed_slot_id)
    assert slot is not None and slot.status == "offered" and slot.reason == "cancelled"
    assert [c["entry_id"] for c in slot.ranked] == [str(entry.id)]


def test_the_offer_signal_carries_the_offer(dose_to_cancel, ready, wait, cancel, tick):
    got = []

    def receive(sender, **kwargs):
        got.append((sender, kwargs))

    signals.waitlist_offered.connect(receive)
    try:
        wait(ready(1))
        cancel(dose_to_cancel)
        tick()
    finally:
        signals.waitlist_offered.disconnect(receive)
    [(offer, kwargs)] = got
    assert isinstance(offer, WaitlistOffer) and kwargs["messages"] is True


def test_a_patient_whose_preparation_is_incomplete_is_never_offered_a_dose(
    dose_to_cancel, enrolled, wait, cancel, tick
):
    wait(enrolled("Unprepared"))
    cancel(dose_to_cancel)
    tick()
    assert open_offers() == []
    assert db.session.scalars(select(FreedSlot)).one().status == "exhausted"


def test_a_patient_is_offered_only_a_time_they_accept(dose_to_cancel, ready, wait, cancel, tick):
    late = ready(1, "Afternoons")
    wait(late, time_windows=[{"starts": time(14), "ends": time(18)}])
    fridays = ready(2, "Fridays")
    wait(fridays, weekdays=[4])
    staff = ready(3, "Notice")
    wait(staff, min_notice_hours=24 * 5)
    cancel(dose_to_cancel)
    tick()
    assert open_offers() == []


def test_a_dose_too_soon_after_the_previous_one_is_not_offered(
    dose_to_cancel, ready, book, wait, cancel, tick
):
    dosed = ready(1, "Dosed")
    book(dosed, DOSING, at(1, 13))  # Tuesday afternoon: Wednesday is too soon for the next
    wait(dosed, earliest_date=date(2026, 12, 9))
    cancel(dose_to_cancel)
    tick()
    assert open_offers() == []


def test_candidates_rank_by_waiting_time_when_need_is_equal(
    dose_to_cancel, ready, wait, cancel, tick, now
):
    newer = wait(ready(1, "Newer"), at_time=now)
    older = wait(ready(2, "Older"), at_time=now - H)
    cancel(dose_to_cancel)
    tick()
    [offer] = open_offers()
    assert offer.entry_id == older.id
    slot = db.session.get(FreedSlot, offer.freed_slot_id)
    assert slot is not None
    assert [c["entry_id"] for c in slot.ranked] == [str(older.id), str(newer.id)]


# --- the hold ------------------------------------------------------------------------------


def test_the_offers_hold_refuses_a_competing_booking(offered, ready, book):
    other = ready(2, "Competitor")
    with pytest.raises(BookingRefused) as refused:
        book(other, DOSING, at(2, 10))
    assert "held_for_waitlist_offer" in rules_of(refused)
    assert refused.value.status == 409


# --- accepting, expiring, declining ----------------------------------------------------------


def test_accepting_books_the_offered_session_and_ends_the_entry(offered, place, caller_of, now):
    course, entry, [offer] = offered
    appointment = offers.accept_offer(offer.id, by=caller_of(place.front_desk), now=now)
    db.session.commit()
    assert (appointment.course_id, appointment.starts_at) == (course.id, at(2, 10))
    assert offer.status == "accepted" and offer.appointment_id == appointment.id
    assert offer_holds(offer) == []
    assert db.session.get(FreedSlot, offer.freed_slot_id).status == "filled"
    assert (entry.status, entry.end_reason) == ("ended", "booked")
    with pytest.raises(Conflict) as again:
        offers.accept_offer(offer.id, by=caller_of(place.front_desk), now=now)
    assert again.value.code == "offer_taken"


def test_an_expired_offer_says_so_and_passes_to_the_next_candidate(
    dose_to_cancel, ready, wait, cancel, tick, now, place, caller_of
):
    first = wait(ready(1, "First"), at_time=now - H)
    second = wait(ready(2, "Second"), at_time=now)
    cancel(dose_to_cancel)
    tick()
    [offer] = open_offers()
    assert offer.entry_id == first.id
    later = now + timedelta(minutes=31)
    with pytest.raises(Conflict) as expired:
        offers.accept_offer(offer.id, by=caller_of(place.front_desk), now=later)
    assert expired.value.code == "offer_expired"
    db.session.rollback()
    tick(later)
    assert offer.status == "expired" and offer_holds(offer) == []
    [following] = open_offers()
    assert (following.entry_id, following.rank) == (second.id, 1)


def test_a_declined_offer_passes_to_the_next_candidate(
    dose_to_cancel, ready, wait, cancel, tick, now, place, caller_of
):
    wait(ready(1, "First"), at_time=now - H)
    second = wait(ready(2, "Second"), at_time=now)
    cancel(dose_to_cancel)
    tick()
    [offer] = open_offers()
    offers.decline_offer(offer.id, by=caller_of(place.front_desk), now=now)
    db.session.commit()
    tick()
    [following] = open_offers()
    assert following.entry_id == second.id


def test_a_waiting_patient_holds_one_offer_at_a_time(
    dose_to_cancel, ready, wait, cancel, tick, now, place, caller_of, book
):
    other = ready(2, "Other")
    thursday = book(other, DOSING, at(3, 10))
    rowan = wait(ready(1, "Rowan"))
    cancel(dose_to_cancel)
    cancel(thursday)
    tick()
    # Both freed doses suit Rowan: one offer, the other time kept open for later.
    [offer] = open_offers()
    assert offer.entry_id == rowan.id and offer.starts_at == at(2, 10)
    statuses = {s.starts_at: s.status for s in db.session.scalars(select(FreedSlot))}
    assert statuses == {at(2, 10): "offered", at(3, 10): "open"}
    offers.decline_offer(offer.id, by=caller_of(place.front_desk), now=now)
    db.session.commit()
    tick()
    [following] = open_offers()
    assert following.entry_id == rowan.id and following.starts_at == at(3, 10)


def test_only_the_desk_answers_offers_and_only_in_its_clinic(
    offered, place, other_place, caller_of, now
):
    _, _, [offer] = offered
    with pytest.raises(Forbidden):
        offers.accept_offer(offer.id, by=caller_of(place.nurse), now=now)
    with pytest.raises(NotFound):
        offers.accept_offer(offer.id, by=caller_of(other_place.front_desk), now=now)


# --- entries ending ------------------------------------------------------------------------------


def test_an_entry_ends_when_its_course_books_that_kind(ready, wait, book):
    course = ready(1)
    entry = wait(course)
    book(course, DOSING, at(2, 10))
    assert (entry.status, entry.end_reason) == ("ended", "booked")


def test_an_entry_ends_when_its_latest_date_passes(ready, wait, tick, now):
    entry = wait(ready(1), latest_date=date(2026, 12, 8))
    tick(now + timedelta(days=4))  # Tuesday the 8th is over on Wednesday the 9th
    assert (entry.status, entry.end_reason) == ("ended", "expired")


def test_an_entry_ends_when_its_course_is_discontinued(course, wait, place, caller_of, now, admin):
    entry = wait(course, kind="preparation")
    course_service.discontinue(
        course=course, reason="Moved away", reason_category=ReasonCategory.OTHER,
        by=caller_of(admin), now=now,
    )  # fmt: skip
    db.session.commit()
    assert (entry.status, entry.end_reason) == ("ended", "course_ended")


def test_an_open_offer_is_withdrawn_when_its_entry_is_removed(offered, place, caller_of, now):
    _, entry, [offer] = offered
    service.remove_entry(entry_id=entry.id, by=caller_of(place.front_desk), now=now)
    db.session.commit()
    assert offer.status == "expired" and offer_holds(offer) == []
    assert entry.end_reason == "removed"


# --- refusals --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prefs", "field"),
    [
        ({"earliest_date": date(2026, 12, 9), "latest_date": date(2026, 12, 8)}, "latest_date"),
        ({"kind": "follow_up"}, "kind"),
        ({"time_windows": [{"starts": time(15), "ends": time(9)}]}, "time_windows"),
    ],
)
def test_a_malformed_wait_is_refused_naming_the_field(course, wait, prefs, field):
    with pytest.raises(InvalidInput) as refused:
        wait(course, **prefs)
    assert field in refused.value.errors


def test_a_second_wait_for_the_same_kind_is_a_conflict(course, wait):
    wait(course)
    with pytest.raises(Conflict) as refused:
        wait(course)
    assert refused.value.code == "already_waitlisted"


# --- what frees a slot -----------------------------------------------------------------------


def freed() -> list[tuple[str, object, object]]:
    rows = db.session.scalars(select(FreedSlot).order_by(FreedSlot.starts_at))
    return [(s.reason, s.starts_at, s.ends_at) for s in rows]


def test_a_move_frees_the_old_time(dose_to_cancel, place, caller_of, now):
    booking.move(appointment=dose_to_cancel, starts_at=at(2, 13), by=caller_of(place.front_desk),
                 now=now)  # fmt: skip
    [(reason, starts, ends)] = freed()
    assert (reason, starts) == ("moved", at(2, 10)) and ends > at(2, 12)


def test_a_no_show_frees_what_is_left_of_the_time(dose_to_cancel, place, caller_of):
    later = at(2, 10, 30)
    attendance.mark_no_show(appointment=dose_to_cancel, by=caller_of(place.front_desk), now=later)
    [(reason, starts, _)] = freed()
    assert (reason, starts) == ("no_show", later)


def test_a_new_entry_reopens_a_freed_time_nobody_could_take(
    dose_to_cancel, ready, wait, cancel, tick
):
    cancel(dose_to_cancel)
    tick()
    assert db.session.scalars(select(FreedSlot)).one().status == "exhausted"
    entry = wait(ready(1))
    tick()
    [offer] = open_offers()
    assert offer.entry_id == entry.id


def test_the_backfill_job_runs_every_tick():
    [job] = [j for j in JOBS if j.id == "waitlist-backfill"]
    assert job.every_seconds == "KAPT_SCHEDULER_TICK_SECONDS"


def test_a_dose_whose_window_closes_comes_before_a_longer_wait(
    course, book, ready, wait, cancel, tick, now
):
    book(course, PREPARATION, at(0, 9))
    book(course, PREPARATION, at(0, 10, 15))
    freed_dose = book(course, DOSING, at(9, 10))  # Wednesday of the next week
    urgent = ready(1, "Urgent")
    book(urgent, DOSING, at(2, 10))  # dose 1: dose 2 must come within its weekly window
    book(urgent, INTEGRATION, at(3, 13))
    plain = wait(ready(2, "Plain"), at_time=now - 2 * H)  # a first dose: no bound
    needing = wait(urgent, at_time=now)
    cancel(freed_dose)
    tick()
    [offer] = open_offers()
    assert offer.entry_id == needing.id
    slot = db.session.get(FreedSlot, offer.freed_slot_id)
    assert slot is not None
    assert [c["entry_id"] for c in slot.ranked] == [str(needing.id), str(plain.id)]
    assert slot.ranked[0]["closes_at"] is not None and slot.ranked[1]["closes_at"] is None
