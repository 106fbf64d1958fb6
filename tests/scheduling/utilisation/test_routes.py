"""GET /clinics/{id}/utilisation over HTTP and the database: a cancelled dose is freed
time, its backfilled replacement is booked and backfilled; the range is the clinic's
calendar days, both included; front desk and administrators of the clinic only (404
elsewhere, 403 for clinicians); a wrong range is 422 naming the field; audited."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from kapt_api.db import db
from kapt_api.scheduling.waitlist import offers
from kapt_api.scheduling.waitlist.models import FreedSlot, WaitlistOffer
from tests.scheduling.conftest import API, at, audit_rows

pytestmark = pytest.mark.usefixtures("now")
WEDNESDAY = date(2026, 12, 9)
H = timedelta(hours=1)


def url(clinic_id) -> str:
    return f"{API}/clinics/{clinic_id}/utilisation"


def span(first: date, last: date) -> dict[str, str]:
    return {"from": first.isoformat(), "to": last.isoformat()}


@pytest.fixture
def backfilled(dose_to_cancel, ready, wait, cancel, tick, place, caller_of, now):
    """The Wednesday 10:00 dose cancelled, offered to Rowan, accepted."""
    wait(ready(1))
    cancel(dose_to_cancel)
    tick()
    offer = db.session.scalars(select(WaitlistOffer).where(WaitlistOffer.status == "offered")).one()
    appointment = offers.accept_offer(offer.id, by=caller_of(place.front_desk), now=now)
    db.session.commit()
    return dose_to_cancel, appointment


def test_freed_booked_and_backfilled_hours_of_a_backfilled_dose(
    client, auth_headers, place, backfilled
):
    _cancelled, appointment = backfilled
    held = (appointment.held_until - appointment.starts_at) / H
    slot = db.session.scalars(select(FreedSlot)).one()
    freed = (slot.ends_at - slot.starts_at) / H
    answer = client.get(url(place.clinic.id), query_string=span(WEDNESDAY, WEDNESDAY),
                        headers=auth_headers(place.front_desk.user))  # fmt: skip
    assert answer.status_code == 200
    body = answer.get_json()
    assert (body["booked_hours"], body["freed_hours"], body["backfilled_hours"]) == (
        round(held, 2), round(freed, 2), round(held, 2)
    )  # fmt: skip
    assert (body["from"], body["to"], body["time_zone"]) == (
        "2026-12-09", "2026-12-09", "America/New_York"
    )  # fmt: skip
    assert body["starts_at"] == "2026-12-09T05:00:00+00:00"
    assert body["ends_at"] == "2026-12-10T05:00:00+00:00"
    [room] = body["rooms"]
    assert room["room"] == {"id": str(place.dosing_room.id), "name": "Willow", "kind": "dosing"}
    assert room["booked_hours"] == body["booked_hours"]
    assert room["freed_hours"] == body["freed_hours"]
    rows = audit_rows(resource_type="utilisation")
    assert [(r.action, str(r.resource_id), r.patient_id) for r in rows] == [
        ("read", str(place.clinic.id), None)
    ]


def test_days_outside_the_range_count_nothing(client, auth_headers, place, backfilled):
    answer = client.get(url(place.clinic.id), query_string=span(at(0, 0).date(), at(1, 0).date()),
                        headers=auth_headers(place.front_desk.user))  # fmt: skip
    body = answer.get_json()
    assert (body["booked_hours"], body["freed_hours"], body["backfilled_hours"]) == (0, 0, 0)
    assert [r["booked_hours"] for r in body["rooms"]] == [0]


def test_a_dose_booked_directly_is_booked_not_backfilled(
    client, auth_headers, place, dose_to_cancel
):
    body = client.get(url(place.clinic.id), query_string=span(WEDNESDAY, WEDNESDAY),
                      headers=auth_headers(place.admin.user)).get_json()  # fmt: skip
    held = (dose_to_cancel.held_until - dose_to_cancel.starts_at) / H
    assert (body["booked_hours"], body["freed_hours"], body["backfilled_hours"]) == (
        round(held, 2), 0, 0
    )  # fmt: skip


def test_only_the_clinics_desk_and_administrators_see_it(client, auth_headers, place, other_place):
    query = span(WEDNESDAY, WEDNESDAY)
    nurse = client.get(url(place.clinic.id), query_string=query,
                       headers=auth_headers(place.nurse.user))  # fmt: skip
    assert nurse.status_code == 403
    assert nurse.headers["Content-Type"] == "application/problem+json"
    elsewhere = client.get(url(place.clinic.id), query_string=query,
                           headers=auth_headers(other_place.front_desk.user))  # fmt: skip
    assert elsewhere.status_code == 404
    unknown = client.get(url("00000000-0000-4000-8000-000000000000"), query_string=query,
                         headers=auth_headers(place.front_desk.user))  # fmt: skip
    assert unknown.status_code == 404


@pytest.mark.parametrize(
    ("query", "field"),
    [
        (span(WEDNESDAY, WEDNESDAY - timedelta(days=1)), "to"),
        (span(WEDNESDAY, WEDNESDAY + timedelta(days=366)), "to"),
        ({"to": "2026-12-09"}, "from"),
        ({"from": "2026-12-09", "to": "not a date"}, "to"),
    ],
)
def test_a_wrong_range_is_refused_naming_the_field(client, auth_headers, place, query, field):
    answer = client.get(url(place.clinic.id), query_string=query,
                        headers=auth_headers(place.front_desk.user))  # fmt: skip
    assert answer.status_code == 422
    assert answer.headers["Content-Type"] == "application/problem+json"
    assert field in str(answer.get_json()["errors"])


def test_a_full_leap_year_is_allowed(client, auth_headers, place):
    first = date(2028, 1, 1)
    answer = client.get(url(place.clinic.id), query_string=span(first, date(2028, 12, 31)),
                        headers=auth_headers(place.front_desk.user))  # fmt: skip
    assert answer.status_code == 200
