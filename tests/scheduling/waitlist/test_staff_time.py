"""Time a staff member becomes bookable is offered like time a cancellation freed:
withdrawing time off, or working hours added, record freed slots (one per shift, while
someone of the clinic waits) in the same transaction, and the next tick offers one to
a waiting patient."""

from __future__ import annotations

from datetime import time

import pytest
from sqlalchemy import select

from kapt_api.clinics import availability
from kapt_api.db import db
from kapt_api.scheduling.waitlist.models import FreedSlot, WaitlistOffer
from tests.scheduling.conftest import API, at

pytestmark = pytest.mark.usefixtures("now")


def slots() -> list[FreedSlot]:
    return list(db.session.scalars(select(FreedSlot).order_by(FreedSlot.starts_at)))


def offers() -> list[WaitlistOffer]:
    return list(db.session.scalars(select(WaitlistOffer)))


@pytest.fixture
def nurse_away_wednesday(place, now):
    away = availability.add_time_off(staff=place.nurse, starts_at=at(2, 0), ends_at=at(3, 0),
                                     by=place.admin.user, now=now)  # fmt: skip
    db.session.commit()
    return away


def test_withdrawn_time_off_is_offered_to_a_waiting_dose_within_one_tick(
    place, now, nurse_away_wednesday, ready, wait, tick
):
    entry = wait(ready(1))  # prepared Monday and Tuesday: a first dose from Wednesday
    tick()
    assert offers() == []  # nothing was freed; Wednesday has no nurse

    availability.withdraw_time_off(staff=place.nurse, time_off_id=nurse_away_wednesday.id,
                                   by=place.admin.user, now=now)  # fmt: skip
    db.session.commit()
    [slot] = slots()
    assert (slot.reason, slot.staff_id, slot.kind, slot.appointment_id) == (
        "time_off_withdrawn", place.nurse.id, None, None
    )  # fmt: skip
    assert at(2, 0) <= slot.starts_at < slot.ends_at <= at(3, 0)

    tick()
    [offer] = offers()
    assert offer.entry_id == entry.id and offer.kind == "dosing"
    assert slot.starts_at <= offer.starts_at and offer.held_until <= slot.ends_at
    assert place.nurse.id in offer.staff


def test_nothing_is_recorded_while_nobody_waits(place, now, nurse_away_wednesday):
    availability.withdraw_time_off(staff=place.nurse, time_off_id=nurse_away_wednesday.id,
                                   by=place.admin.user, now=now)  # fmt: skip
    db.session.commit()
    assert slots() == []


def test_working_hours_added_record_each_new_shift_up_to_the_last_day_waited_for(
    place, now, ready, wait
):
    wait(ready(1))  # accepts up to Friday 18 December
    week = [{"weekday": d, "starts": time(8), "ends": time(17)} for d in range(5)]
    availability.replace_working_hours(staff=place.nurse, hours=week, by=place.admin.user,
                                       now=now)  # fmt: skip
    db.session.commit()
    found = slots()
    assert found and {s.reason for s in found} == {"working_hours"}
    assert all(s.staff_id == place.nurse.id and s.starts_at >= now for s in found)
    assert max(s.ends_at for s in found) <= at(12, 0)  # not past Friday the 18th
    # Only what the old week lacked: the same week again adds nothing.
    availability.replace_working_hours(staff=place.nurse, hours=week, by=place.admin.user,
                                       now=now)  # fmt: skip
    db.session.commit()
    assert len(slots()) == len(found)


def test_the_front_desk_sees_whose_time_was_freed(
    client, auth_headers, place, now, nurse_away_wednesday, ready, wait
):
    wait(ready(1))
    availability.withdraw_time_off(staff=place.nurse, time_off_id=nurse_away_wednesday.id,
                                   by=place.admin.user, now=now)  # fmt: skip
    db.session.commit()
    listed = client.get(f"{API}/waitlist/offers", query_string={"clinic_id": str(place.clinic.id)},
                        headers=auth_headers(place.front_desk.user))  # fmt: skip
    assert listed.status_code == 200
    [shown] = listed.get_json()
    assert (shown["reason"], shown["kind"], shown["staff_id"]) == (
        "time_off_withdrawn", None, str(place.nurse.id)
    )  # fmt: skip
