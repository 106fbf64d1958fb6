"""Counts follow what happened (issue 12, item 3), over HTTP: a cancelled or no-show dose
never counts toward course_dose_limit, weekly_dose_limit, phase_frequency or the spacing
between doses, and needs no integration session; a dose whose administration was
recorded can no longer be cancelled or marked a no-show, and goes on counting.

Each freeing case runs twice, once cancelling the dose and once marking it a no-show
(after its start, with the clock moved there). docs/protocol-rules.md, "What counts",
has a line per case.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest

from kapt_api import clock
from tests.scheduling.conftest import API, ESKETAMINE_KEY, IM_KAP_KEY, at

IV_KEY = "iv-racemic-series"
FREED = ["cancelled", "no_show"]

pytestmark = pytest.mark.usefixtures("now")


@pytest.fixture
def desk(auth_headers, place) -> dict[str, str]:
    return auth_headers(place.front_desk.user)


@pytest.fixture
def book(client, desk, place):
    """POST a booking for the course; answers the response."""

    def post(course, kind: str, starts_at: datetime) -> Any:
        room = place.dosing_room if kind == "dosing" else place.therapy_room
        body = {
            "course_id": str(course.id),
            "kind": kind,
            "starts_at": starts_at.isoformat(),
            "room_id": str(room.id),
        }
        return client.post(f"{API}/appointments", json=body, headers=desk)

    return post


@pytest.fixture
def booked(book):
    """Book and insist it was accepted; answers the appointment's id."""

    def post(course, kind: str, starts_at: datetime) -> str:
        response = book(course, kind, starts_at)
        assert response.status_code == 201, response.get_json()
        return response.get_json()["id"]

    return post


@pytest.fixture
def free(client, desk):
    """Cancel the appointment, or mark it a no-show with the clock moved past its start."""

    def step(appointment_id: str, how: str, *, started: datetime) -> None:
        url = f"{API}/appointments/{appointment_id}"
        if how == "cancelled":
            response = client.post(f"{url}/cancel", json={"reason": "Unwell"}, headers=desk)
        else:
            clock.freeze(started)
            response = client.post(f"{url}/no-show", json={}, headers=desk)
        assert response.status_code == 200, response.get_json()
        assert response.get_json()["status"] == how

    return step


def rules_of(response) -> list[str]:
    assert response.status_code == 422, response.get_json()
    return [v["rule"] for v in response.get_json()["violations"]]


@dataclass(frozen=True)
class Case:
    """Doses booked first (day after Monday 7 Dec, hour in New York), the one of them
    that is freed, and the dose that is refused while it counts and accepted after."""

    protocol: str
    doses: tuple[tuple[int, int], ...]
    freed: int
    wanted: tuple[int, int]
    details: dict[str, Any] = field(default_factory=dict)


CASES = {
    # The IV series is 6 doses, twice a week for 3 weeks: Mondays and Wednesdays here.
    "course_dose_limit": Case(
        IV_KEY, ((0, 10), (2, 10), (7, 10), (9, 10), (14, 10), (16, 10)), 0, (21, 10)
    ),
    # Esketamine, at most 2 in any 7 clinic calendar days: Monday, Friday and the next
    # Monday, then Wednesday is a third on the 7 days from Friday, though only the second
    # of its course week.
    "weekly_dose_limit": Case(ESKETAMINE_KEY, ((0, 10), (4, 10), (7, 10)), 1, (9, 10)),
    # 25 hours after Wednesday's dose (and a day's notice after the clock moves there).
    "too_soon_after_previous_dose": Case(ESKETAMINE_KEY, ((2, 10),), 0, (3, 11)),
    # Esketamine weeks 5-8 allow 1 dose a week; course weeks start on the first dose's
    # day (Monday 7 Dec), so week 6 is Monday 11 to Sunday 17 Jan 2027.
    "phase_frequency": Case(
        ESKETAMINE_KEY,
        ((0, 10), (35, 10)),
        1,
        (38, 10),
        {
            "phase": "Maintenance, weekly",
            "doses_per_period": 1,
            "weeks": {"first": 6, "last": 6},
            "days": {"first": "2027-01-11", "last": "2027-01-17"},
            "first_dose_day": "2026-12-07",
        },
    ),
}


@pytest.mark.parametrize("how", FREED)
@pytest.mark.parametrize("rule", sorted(CASES))
def test_a_freed_dose_no_longer_counts(make_course, book, booked, free, rule, how):
    case = CASES[rule]
    course = make_course(case.protocol)
    ids = [booked(course, "dosing", at(day, hour)) for day, hour in case.doses]
    refused = book(course, "dosing", at(*case.wanted))
    assert rules_of(refused) == [rule]
    (violation,) = refused.get_json()["violations"]
    assert {name: violation.get(name) for name in case.details} == case.details, violation

    day, hour = case.doses[case.freed]
    free(ids[case.freed], how, started=at(day, hour, 30))

    accepted = book(course, "dosing", at(*case.wanted))
    assert accepted.status_code == 201, accepted.get_json()


@pytest.mark.parametrize("how", FREED)
def test_a_freed_dose_needs_no_integration_session(make_course, book, booked, free, how):
    # IM KAP: the next dose waits for the integration session after the one before.
    course = make_course(IM_KAP_KEY)
    booked(course, "preparation", at(0, 9))
    booked(course, "preparation", at(0, 13))
    first = booked(course, "dosing", at(1, 10))
    assert "integration_missing" in rules_of(book(course, "dosing", at(8, 10)))

    free(first, how, started=at(1, 10, 30))

    answer = book(course, "dosing", at(8, 10))
    assert answer.status_code == 201, answer.get_json()


# --- a dose given counts whatever happens after ------------------------------------------------


@pytest.fixture
def given(client, auth_headers, place, make_course, booked, desk):
    """An esketamine dose checked in, started and its administration recorded at 10:10
    on Monday 7 Dec; answers (course, appointment id)."""
    course = make_course(ESKETAMINE_KEY)
    dose = booked(course, "dosing", at(0, 10))
    url = f"{API}/appointments/{dose}"
    nurse = auth_headers(place.nurse.user)
    clock.freeze(at(0, 10, 5))
    assert client.post(f"{url}/check-in", headers=desk).status_code == 200
    assert client.post(f"{url}/start", headers=nurse).status_code == 200
    clock.freeze(at(0, 10, 15))
    administration = {
        "first_device_at": at(0, 10, 10).isoformat(),
        "devices": 2,
        "device_times": [at(0, 10, 10).isoformat(), at(0, 10, 15).isoformat()],
        "dose_mg": 56,
        "lot_number": "LOT42",
    }
    recorded = client.post(f"{url}/monitoring/administration", json=administration, headers=nurse)
    assert recorded.status_code == 200, recorded.get_json()
    return course, dose


@pytest.mark.parametrize(("step", "body"), [("cancel", {"reason": "Unwell"}), ("no-show", {})])
def test_a_dose_given_cannot_be_cancelled_or_marked_a_no_show(client, desk, given, step, body):
    _course, dose = given

    refused = client.post(f"{API}/appointments/{dose}/{step}", json=body, headers=desk)

    assert refused.status_code == 409, refused.get_json()
    assert refused.get_json()["code"] == "illegal_status_change"
    shown = client.get(f"{API}/appointments/{dose}", headers=desk).get_json()
    assert shown["status"] == "in_progress"


def test_a_dose_given_still_counts_for_the_next_booking(client, auth_headers, place, book, given):
    course, dose = given
    # 25 hours after the dose given: too soon, as it would be had it only been booked.
    assert rules_of(book(course, "dosing", at(1, 11))) == ["too_soon_after_previous_dose"]
    clock.freeze(at(0, 12, 30))
    done = client.post(
        f"{API}/appointments/{dose}/complete", json={}, headers=auth_headers(place.nurse.user)
    )
    assert done.status_code == 200, done.get_json()

    assert rules_of(book(course, "dosing", at(1, 13))) == ["too_soon_after_previous_dose"]
    assert book(course, "dosing", at(2, 13)).status_code == 201
