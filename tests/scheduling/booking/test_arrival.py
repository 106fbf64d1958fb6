"""Session steps respect the clock: check-in opens the clinic's window before the booked
start (check_in_opens_minutes), start and complete follow it, and an earlier step is
refused naming the rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kapt_api import clock
from kapt_api.db import db
from kapt_api.scheduling.booking import status_rules
from kapt_api.scheduling.courses.values import AppointmentStatus
from tests.scheduling.conftest import API, at, problem, rules_in

pytestmark = pytest.mark.usefixtures("now")

STARTS = datetime(2026, 12, 7, 14, 0, tzinfo=UTC)  # 09:00 in New York
MINUTE = timedelta(minutes=1)


def violations(wanted, *, now, previous_at=None, opens=60):
    return status_rules.step_time_violations(
        wanted,
        starts_at=STARTS,
        opens_minutes=opens,
        previous_at=previous_at,
        zone="America/New_York",
        now=now,
    )


# --- the rule ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "wanted",
    [AppointmentStatus.CHECKED_IN, AppointmentStatus.IN_PROGRESS, AppointmentStatus.COMPLETED],
)
def test_no_step_before_the_window_opens_and_every_step_from_its_first_minute(wanted):
    early = violations(wanted, now=STARTS - 60 * MINUTE - timedelta(seconds=1))
    assert [v.rule for v in early] == ["check_in_not_open"]
    assert "opens 60 minutes before the booked start, at 2026-12-07 08:00" in early[0].message
    assert early[0].details["opens_at"] == "2026-12-07T13:00:00+00:00"
    assert violations(wanted, now=STARTS - 60 * MINUTE) == []
    assert violations(wanted, now=STARTS + 3 * timedelta(hours=1)) == []


def test_days_early_is_refused_and_the_window_is_the_clinics():
    assert [
        v.rule for v in violations(AppointmentStatus.CHECKED_IN, now=STARTS - 2 * timedelta(days=1))
    ] == ["check_in_not_open"]
    assert violations(AppointmentStatus.CHECKED_IN, now=STARTS - 90 * MINUTE, opens=120) == []
    assert violations(AppointmentStatus.CHECKED_IN, now=STARTS - MINUTE, opens=0)[0].rule == (
        "check_in_not_open"
    )


def test_start_cannot_precede_check_in_nor_complete_the_start():
    checked_in = STARTS - 10 * MINUTE
    start = violations(
        AppointmentStatus.IN_PROGRESS, now=checked_in - MINUTE, previous_at=checked_in
    )
    assert [v.rule for v in start] == ["before_previous_step"]
    assert "cannot start before the patient was checked in" in start[0].message
    done = violations(AppointmentStatus.COMPLETED, now=STARTS - MINUTE, previous_at=STARTS)
    assert "cannot be completed before it started" in done[0].message
    assert violations(AppointmentStatus.COMPLETED, now=STARTS, previous_at=STARTS) == []


def test_cancel_and_no_show_are_not_steps_of_arrival():
    far = STARTS - timedelta(days=3)
    assert violations(AppointmentStatus.CANCELLED, now=far) == []
    assert violations(AppointmentStatus.NO_SHOW, now=far) == []


# --- over HTTP ---------------------------------------------------------------------------------


def test_check_in_days_before_the_appointment_is_refused_naming_the_rule(
    client, headers, place, prepared
):
    base = f"{API}/appointments/{prepared[0]['id']}"
    clock.freeze(at(0, 9) - timedelta(days=2))
    body = problem(client.post(f"{base}/check-in", headers=headers(place.front_desk)), 422)
    assert rules_in(body) == ["check_in_not_open"]
    assert "2026-12-07 08:00" in body["violations"][0]["message"]
    shown = client.get(base, headers=headers(place.front_desk)).get_json()
    assert shown["status"] == "booked"


def test_check_in_opens_an_hour_before_and_start_and_complete_follow(
    client, headers, place, prepared
):
    base = f"{API}/appointments/{prepared[0]['id']}"
    clock.freeze(at(0, 7, 59))
    problem(client.post(f"{base}/check-in", headers=headers(place.front_desk)), 422)
    clock.freeze(at(0, 8))
    assert client.post(f"{base}/check-in", headers=headers(place.front_desk)).status_code == 200
    assert client.post(f"{base}/start", headers=headers(place.therapist)).status_code == 200
    clock.freeze(at(0, 9, 50))
    assert client.post(f"{base}/complete", headers=headers(place.therapist)).status_code == 200


def test_a_step_before_the_window_opens_is_refused_even_after_an_early_check_in(
    client, headers, place, prepared
):
    # A session checked in before the window existed still cannot start days early.
    base = f"{API}/appointments/{prepared[0]['id']}"
    clock.freeze(at(0, 8))
    assert client.post(f"{base}/check-in", headers=headers(place.front_desk)).status_code == 200
    clock.freeze(at(0, 7))
    body = problem(client.post(f"{base}/start", headers=headers(place.therapist)), 422)
    assert sorted(rules_in(body)) == ["before_previous_step", "check_in_not_open"]


def test_an_administrator_sets_the_clinics_check_in_window(client, headers, place, prepared):
    url = f"{API}/clinics/{place.clinic.id}"
    loaded = client.get(url, headers=headers(place.admin))
    assert loaded.get_json()["check_in_opens_minutes"] == 60
    etag = {"If-Match": loaded.headers["ETag"]}
    bad = client.patch(
        url, json={"check_in_opens_minutes": -1}, headers=headers(place.admin, **etag)
    )
    assert "check_in_opens_minutes" in problem(bad, 422)["errors"]
    changed = client.patch(
        url, json={"check_in_opens_minutes": 180}, headers=headers(place.admin, **etag)
    )
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["check_in_opens_minutes"] == 180
    db.session.expire_all()
    clock.freeze(at(0, 6, 30))
    base = f"{API}/appointments/{prepared[0]['id']}"
    assert client.post(f"{base}/check-in", headers=headers(place.front_desk)).status_code == 200
