"""Opening and working hours, and time off, against the database."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import select

from kapt_api.clinics import availability, rules
from kapt_api.clinics.models import WorkingHours
from kapt_api.db import db
from kapt_api.errors import InvalidInput
from tests.clinics.conftest import audited

NOON = datetime(2026, 12, 1, 17, tzinfo=UTC)


def test_replace_working_hours_replaces_the_week(admin, nurse):
    week = [{"weekday": 2, "starts": time(12), "ends": time(20)}]
    availability.replace_working_hours(staff=nurse, hours=week, by=admin)
    db.session.expire_all()
    stored = db.session.scalars(select(WorkingHours).where(WorkingHours.staff_id == nurse.id))
    assert [(h.weekday, h.starts, h.ends) for h in stored] == [(2, time(12), time(20))]
    assert [e.action for e in audited("working_hours", nurse.id)] == ["update"]


def test_replace_working_hours_refuses_overlaps_and_keeps_the_old_week(admin, nurse):
    week = [
        {"weekday": 0, "starts": time(9), "ends": time(13)},
        {"weekday": 0, "starts": time(12), "ends": time(17)},
    ]
    with pytest.raises(InvalidInput) as refused:
        availability.replace_working_hours(staff=nurse, hours=week, by=admin)
    assert list(refused.value.errors) == ["working_hours.1"]
    assert len(nurse.working_hours) == 5


def test_time_off_is_recorded_with_who_and_when(admin, nurse):
    entry = availability.add_time_off(
        staff=nurse,
        starts_at=NOON + timedelta(days=7),
        ends_at=NOON + timedelta(days=9),
        reason="Conference",
        by=admin,
        now=NOON,
    )
    db.session.expire_all()
    assert (entry.created_by, entry.created_at, entry.reason) == (admin.id, NOON, "Conference")
    assert entry.starts_at.tzinfo is not None


@pytest.mark.parametrize(
    "ends_at", [NOON, NOON - timedelta(hours=1), NOON + timedelta(days=366, seconds=1)]
)
def test_time_off_refuses_a_span_that_is_empty_inverted_or_too_long(admin, nurse, ends_at):
    with pytest.raises(InvalidInput) as refused:
        availability.add_time_off(staff=nurse, starts_at=NOON, ends_at=ends_at, by=admin, now=NOON)
    assert list(refused.value.errors) == ["ends_at"]


def test_time_off_window_keeps_what_overlaps_it(admin, nurse, other_nurse):
    day = timedelta(days=1)

    def add(staff, start, end):
        return availability.add_time_off(
            staff=staff, starts_at=NOON + start * day, ends_at=NOON + end * day, by=admin, now=NOON
        )

    early, middle, late = add(nurse, 0, 2), add(nurse, 3, 4), add(nurse, 10, 12)
    add(other_nurse, 3, 4)

    def window(**kw):
        return db.session.scalars(availability.time_off_of(staff=nurse, **kw)).all()

    assert window() == [early, middle, late]
    assert window(starts=NOON + 2 * day, ends=NOON + 10 * day) == [middle]
    assert window(starts=NOON + 1 * day) == [early, middle, late]
    assert window(ends=NOON + 3 * day) == [early]


def test_patterns_feed_the_rules_in_clinic_local_time(clinic, nurse):
    monday = date(2026, 3, 9)  # the first Monday of daylight saving time in New York
    opening = availability.opening_pattern(clinic=clinic)
    working = availability.working_pattern(staff=nurse)
    assert opening[0] == rules.WeeklyInterval(0, time(8), time(18))
    assert rules.local_intervals_to_utc(monday, opening, clinic.time_zone) == [
        (datetime(2026, 3, 9, 12, tzinfo=UTC), datetime(2026, 3, 9, 22, tzinfo=UTC))
    ]
    assert rules.local_intervals_to_utc(monday, working, clinic.time_zone) == [
        (datetime(2026, 3, 9, 13, tzinfo=UTC), datetime(2026, 3, 9, 21, tzinfo=UTC))
    ]
