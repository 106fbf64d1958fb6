"""Phase frequency over HTTP, as the front desk and a prescriber meet it on an esketamine
course: twice weekly in weeks 1-4, weekly in weeks 5-8, then at most weekly in
maintenance; course weeks are 7 clinic calendar days from the first dose's day."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from tests.scheduling.conftest import API, PROBLEM, at, audit_rows

pytestmark = pytest.mark.usefixtures("now")

# The label's schedule from Monday 7 Dec 2026: Monday and Thursday in weeks 1-4, then
# Monday in weeks 5 and 6.
LABEL_DAYS = [*(d + 7 * w for w in range(4) for d in (0, 3)), 28, 35]
WEEK_6_THURSDAY = at(38, 10)


@pytest.fixture
def send(client, auth_headers, place, esketamine_course):
    def post(path: str, body: dict[str, Any], who=None):
        return client.post(
            f"{API}{path}", json=body, headers=auth_headers((who or place.front_desk).user)
        )

    return post


@pytest.fixture
def book(send, place, esketamine_course):
    def make(starts_at: datetime, who=None, **extra: Any):
        body = {
            "course_id": str(esketamine_course.id),
            "kind": "dosing",
            "starts_at": starts_at.isoformat(),
            "room_id": str(place.dosing_room.id),
            **extra,
        }
        return send("/appointments", body, who)

    return make


@pytest.fixture
def six_weeks(book):
    made = [book(at(day, 10)) for day in LABEL_DAYS]
    assert [r.status_code for r in made] == [201] * len(LABEL_DAYS), made[-1].get_json()
    return [r.get_json() for r in made]


def test_a_second_dose_in_week_6_is_refused_naming_the_phase_its_limit_and_the_week(
    six_weeks, book
):
    refused = book(WEEK_6_THURSDAY)
    assert refused.status_code == 422 and refused.mimetype == PROBLEM
    (violation,) = refused.get_json()["violations"]
    assert violation["rule"] == "phase_frequency"
    assert violation["message"] == (
        "The phase Maintenance, weekly (weeks 5-8) allows 1 dose a week; week 6 "
        "(Mon 11 Jan 2027 to Sun 17 Jan 2027) would hold 2: Mon 11 Jan 2027 10:00 and "
        "Thu 14 Jan 2027 10:00. Course weeks are 7 clinic calendar days counted from the "
        "day of the first dose (Mon 7 Dec 2026)."
    )
    assert violation["overridable"] is True
    assert violation["appointment_ids"] == [six_weeks[-1]["id"]]
    assert violation["weeks"] == {"first": 6, "last": 6}


def test_the_front_desk_cannot_override_it_and_a_prescriber_can_with_a_reason_audited(
    six_weeks, book, place, esketamine_course
):
    override = {"rules": ["phase_frequency"], "reason": "Booster after a relapse, per plan."}
    assert book(WEEK_6_THURSDAY, override=override).status_code == 403
    accepted = book(WEEK_6_THURSDAY, who=place.prescriber, override=override)
    assert accepted.status_code == 201, accepted.get_json()
    assert accepted.get_json()["override"]["rules"] == ["phase_frequency"]
    (row,) = audit_rows(action="override", patient_id=esketamine_course.patient_id)
    assert row.reason == "phase_frequency: Booster after a relapse, per plan."


def test_slot_search_offers_nothing_in_a_full_week_and_starts_with_the_next(
    six_weeks, client, auth_headers, place, esketamine_course
):
    def slots(starts_from: datetime, until: datetime) -> list[dict[str, Any]]:
        response = client.get(
            f"{API}/courses/{esketamine_course.id}/slots",
            query_string={
                "kind": "dosing",
                "from": starts_from.isoformat(),
                "to": until.isoformat(),
                "step_minutes": 60,
            },
            headers=auth_headers(place.front_desk.user),
        )
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    assert slots(at(37, 0), at(42, 0)) == []  # Wed-Sat of week 6: it has its dose
    first = slots(at(42, 0), at(45, 0))[0]
    assert first["local_starts_at"].startswith("2027-01-18T")  # Monday of week 7


def test_progress_and_plan_put_the_next_dose_in_the_next_week_with_room(
    six_weeks, client, auth_headers, place, esketamine_course
):
    headers = auth_headers(place.front_desk.user)
    progress = client.get(f"{API}/courses/{esketamine_course.id}/progress", headers=headers)
    (due,) = [d for d in progress.get_json()["due"] if d["kind"] == "dosing"]
    assert due["number"] == 11
    week_7 = datetime.fromisoformat(due["earliest"])
    assert week_7 == at(42, 0)  # midnight in New York, Monday 18 Jan 2027

    plan = client.post(
        f"{API}/courses/{esketamine_course.id}/plan",
        json={"maintenance_doses": 2},
        headers=headers,
    )
    assert plan.status_code == 200, plan.get_json()
    planned = [datetime.fromisoformat(s["starts_at"]) for s in plan.get_json()["sessions"]]
    # Doses 11 and 12 in weeks 7 and 8, then two maintenance doses, one a week.
    weeks = [(p - at(0, 0)).days // 7 + 1 for p in planned]
    assert weeks == [7, 8, 9, 10]
    batch = client.post(f"{API}/appointments/batch", json=plan.get_json()["batch"], headers=headers)
    assert batch.status_code == 201, batch.get_json()


def test_a_cancelled_dose_frees_its_week(six_weeks, send, book):
    cancelled = send(
        f"/appointments/{six_weeks[-1]['id']}/cancel",
        {"reason": "Patient unwell", "reason_category": "patient_request"},
    )
    assert cancelled.status_code == 200, cancelled.get_json()
    assert book(WEEK_6_THURSDAY).status_code == 201


def test_week_one_starts_on_the_first_doses_day(book):
    assert book(at(2, 10)).status_code == 201  # Wednesday 9 Dec: weeks run Wed to Tue
    assert book(at(4, 10)).status_code == 201  # Friday 11 Dec: week 1's second dose
    third = book(at(7, 10))  # Monday 14 Dec: still week 1
    assert third.status_code == 422
    (found,) = [v for v in third.get_json()["violations"] if v["rule"] == "phase_frequency"]
    assert "week 1 (Wed 9 Dec 2026 to Tue 15 Dec 2026) would hold 3" in found["message"]
    assert book(at(9, 10)).status_code == 201  # Wednesday 16 Dec: week 2
