"""A staff member becoming bookable is announced: the parts of a new working week the
old one lacked (rules.added_intervals, pure), and withdrawn time off
(DELETE /staff/{id}/time-off/{id}, administrators only, 204, audited), each by a signal
sent in the changing transaction (clinics/signals.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, time
from typing import Any

import pytest

from kapt_api.clinics import availability, signals
from kapt_api.clinics.models import TimeOff
from kapt_api.clinics.rules import WeeklyInterval, added_intervals
from kapt_api.db import db
from tests.clinics.conftest import assert_problem, audited

API = "/api/v1"
NOW = datetime(2026, 12, 1, 17, tzinfo=UTC)


def w(day: int, start: int, end: int, end_minute: int = 0) -> WeeklyInterval:
    return WeeklyInterval(day, time(start), time(end, end_minute))


@pytest.mark.parametrize(
    ("old", "new", "added"),
    [
        ([], [w(0, 9, 17)], [w(0, 9, 17)]),
        ([w(0, 9, 17)], [w(0, 9, 17)], []),
        ([w(0, 9, 17)], [w(0, 8, 18)], [w(0, 8, 9), w(0, 17, 18)]),
        ([w(0, 9, 12), w(0, 13, 17)], [w(0, 9, 17)], [w(0, 12, 13)]),
        ([w(0, 9, 17)], [w(1, 9, 17)], [w(1, 9, 17)]),
        ([w(0, 9, 17)], [w(0, 10, 12)], []),
        ([w(2, 9, 17)], [w(2, 16, 17, 30)], [w(2, 17, 17, 30)]),
    ],
)
def test_added_intervals_are_what_the_old_week_lacked(old, new, added):
    assert added_intervals(old, new) == added


@pytest.fixture
def heard() -> Iterator[list[tuple[str, Any, dict[str, Any]]]]:
    found: list[tuple[str, Any, dict[str, Any]]] = []

    def hours(sender: Any, **kwargs: Any) -> None:
        found.append(("working_hours_added", sender, kwargs))

    def time_off(sender: Any, **kwargs: Any) -> None:
        found.append(("time_off_withdrawn", sender, kwargs))

    signals.working_hours_added.connect(hours)
    signals.time_off_withdrawn.connect(time_off)
    yield found
    signals.working_hours_added.disconnect(hours)
    signals.time_off_withdrawn.disconnect(time_off)


def test_new_working_hours_announce_only_what_they_add(admin, nurse, heard):
    week = [{"weekday": d, "starts": time(9), "ends": time(17)} for d in range(5)]
    availability.replace_working_hours(staff=nurse, hours=week, by=admin, now=NOW)
    before = len(heard)
    week.append({"weekday": 5, "starts": time(9), "ends": time(13)})
    availability.replace_working_hours(staff=nurse, hours=week, by=admin, now=NOW)
    assert heard[before:] == [("working_hours_added", nurse, {"added": [w(5, 9, 13)], "now": NOW})]
    availability.replace_working_hours(staff=nurse, hours=week[:2], by=admin, now=NOW)
    assert len(heard) == before + 1  # fewer hours announce nothing


def _away(nurse, admin) -> TimeOff:
    entry = availability.add_time_off(staff=nurse, starts_at=datetime(2026, 12, 24, 5, tzinfo=UTC),
                                      ends_at=datetime(2026, 12, 25, 5, tzinfo=UTC), by=admin,
                                      now=NOW)  # fmt: skip
    db.session.commit()
    return entry


def test_an_admin_withdraws_time_off_and_it_is_announced(
    client, admin, admin_headers, nurse, heard
):
    entry = _away(nurse, admin)
    url = f"{API}/staff/{nurse.id}/time-off/{entry.id}"
    answer = client.delete(url, headers=admin_headers)
    assert answer.status_code == 204 and answer.data == b""
    assert db.session.get(TimeOff, entry.id) is None
    [(name, sender, said)] = heard
    assert (name, sender.id) == ("time_off_withdrawn", nurse.id)
    assert (said["starts_at"], said["ends_at"]) == (entry.starts_at, entry.ends_at)
    assert [e.action for e in audited("time_off", entry.id)] == ["create", "delete"]
    assert_problem(client.delete(url, headers=admin_headers), 404)


def test_only_admins_withdraw_and_only_the_staff_members_own(
    client, admin, admin_headers, nurse, other_nurse, nurse_headers
):
    entry = _away(nurse, admin)
    assert_problem(
        client.delete(f"{API}/staff/{nurse.id}/time-off/{entry.id}", headers=nurse_headers), 403
    )
    assert_problem(
        client.delete(f"{API}/staff/{other_nurse.id}/time-off/{entry.id}", headers=admin_headers),
        404,
    )
    assert_problem(
        client.delete(f"{API}/staff/{nurse.id}/time-off/{uuid.uuid4()}", headers=admin_headers),
        404,
    )
    assert db.session.get(TimeOff, entry.id) is not None
