"""The waitlist's HTTP contract: 201/200/204 on success; 401, 403, 404, 409 and 422 as
problem+json naming the field or rule; pagination; every read and write audited."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from kapt_api.db import db
from kapt_api.scheduling.waitlist.models import WaitlistOffer
from tests.scheduling.conftest import API, audit_rows, problem

pytestmark = pytest.mark.usefixtures("now")

BODY = {
    "kind": "dosing",
    "earliest_date": "2026-12-07",
    "latest_date": "2026-12-18",
    "weekdays": ["monday", "wednesday"],
    "time_windows": [{"starts": "09:00", "ends": "13:00"}],
    "min_notice_hours": 12,
}


@pytest.fixture
def post_entry(client, headers, place, course):
    def post(body=None, *, who=None, course_id=None):
        return client.post(f"{API}/courses/{course_id or course.id}/waitlist",
                           json=BODY if body is None else body,
                           headers=headers(who or place.front_desk))  # fmt: skip

    return post


def test_the_front_desk_puts_a_course_on_the_waitlist(post_entry, course, place):
    made = post_entry()
    assert made.status_code == 201, made.get_json()
    body = made.get_json()
    assert body["course_id"] == str(course.id) and body["status"] == "waiting"
    assert body["weekdays"] == ["monday", "wednesday"]
    assert body["time_windows"] == [{"starts": "09:00", "ends": "13:00"}]
    assert audit_rows(resource_type="waitlist_entry", action="create")


def test_entries_are_listed_paginated_and_read_one_by_one(post_entry, client, headers, place):
    entry = post_entry().get_json()
    listed = client.get(f"{API}/waitlist?clinic_id={place.clinic.id}&kind=dosing",
                        headers=headers(place.therapist))  # fmt: skip
    assert listed.status_code == 200
    assert [e["id"] for e in listed.get_json()] == [entry["id"]]
    assert "X-Pagination" in listed.headers
    one = client.get(f"{API}/waitlist/{entry['id']}", headers=headers(place.nurse))
    assert one.status_code == 200 and one.get_json()["id"] == entry["id"]
    assert audit_rows(resource_type="waitlist_entry", action="read")


def test_taking_an_entry_off_answers_204(post_entry, client, headers, place):
    entry = post_entry().get_json()
    gone = client.delete(f"{API}/waitlist/{entry['id']}", headers=headers(place.front_desk))
    assert gone.status_code == 204
    again = client.get(f"{API}/waitlist/{entry['id']}", headers=headers(place.front_desk))
    assert again.get_json()["end_reason"] == "removed"


def test_clinicians_read_but_do_not_write(post_entry, client, headers, place):
    assert problem(post_entry(who=place.therapist), 403)["code"] == "forbidden"
    entry = post_entry().get_json()
    refused = client.delete(f"{API}/waitlist/{entry['id']}", headers=headers(place.nurse))
    problem(refused, 403)


def test_another_clinic_sees_nothing(post_entry, client, headers, other_place):
    entry = post_entry().get_json()
    problem(
        client.get(f"{API}/waitlist/{entry['id']}", headers=headers(other_place.front_desk)), 404
    )
    problem(post_entry(who=other_place.front_desk), 404)
    listed = client.get(f"{API}/waitlist", headers=headers(other_place.front_desk))
    assert listed.get_json() == []


def test_unknown_ids_answer_404(client, headers, place, post_entry):
    problem(client.get(f"{API}/waitlist/{uuid.uuid4()}", headers=headers(place.front_desk)), 404)
    problem(post_entry(course_id=uuid.uuid4()), 404)
    accept = client.post(f"{API}/waitlist/offers/{uuid.uuid4()}/accept",
                         headers=headers(place.front_desk))  # fmt: skip
    problem(accept, 404)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"latest_date": "2026-12-01"}, "latest_date"),
        ({"kind": "surgery"}, "kind"),
        ({"kind": "follow_up"}, "kind"),  # not a session of this protocol
        ({"weekdays": ["someday"]}, "weekdays.0"),
        ({"time_windows": [{"starts": "13:00", "ends": "09:00"}]}, "time_windows"),
        ({"min_notice_hours": -1}, "min_notice_hours"),
        ({"preferred_staff_ids": [str(uuid.uuid4())]}, "preferred_staff_ids"),
    ],
)
def test_bad_input_is_422_naming_the_field(post_entry, change, field):
    body = problem(post_entry({**BODY, **change}), 422)
    assert field in body["errors"], body


def test_a_second_entry_for_the_kind_is_409(post_entry):
    post_entry()
    assert problem(post_entry(), 409)["code"] == "already_waitlisted"


def test_a_discontinued_course_cannot_wait(
    post_entry, client, headers, place, course, admin, auth_headers
):
    stopped = client.post(f"{API}/courses/{course.id}/discontinue",
                          json={"reason": "Moved away", "reason_category": "other"},
                          headers=auth_headers(admin))  # fmt: skip
    assert stopped.status_code == 200, stopped.get_json()
    assert "course_id" in problem(post_entry(), 422)["errors"]


# --- offers over HTTP ---------------------------------------------------------------------------


@pytest.fixture
def offer(dose_to_cancel, ready, wait, cancel, tick) -> WaitlistOffer:
    wait(ready(1))
    cancel(dose_to_cancel)
    tick()
    return db.session.scalars(select(WaitlistOffer)).one()


def test_the_desk_sees_freed_slots_with_candidates_and_the_open_offer(
    offer, client, headers, place
):
    listed = client.get(f"{API}/waitlist/offers?clinic_id={place.clinic.id}",
                        headers=headers(place.front_desk))  # fmt: skip
    assert listed.status_code == 200
    [slot] = listed.get_json()
    assert slot["offer"]["id"] == str(offer.id) and slot["status"] == "offered"
    assert [c["entry_id"] for c in slot["candidates"]] == [str(offer.entry_id)]
    unfiltered = client.get(f"{API}/waitlist/offers", headers=headers(place.therapist))
    assert [s["id"] for s in unfiltered.get_json()] == [slot["id"]]


def test_the_first_acceptance_books_and_the_next_is_409_offer_taken(offer, client, headers, place):
    url = f"{API}/waitlist/offers/{offer.id}/accept"
    first = client.post(url, headers=headers(place.front_desk))
    assert first.status_code == 200, first.get_json()
    assert first.get_json()["starts_at"] == offer.starts_at.isoformat()
    assert (
        problem(client.post(url, headers=headers(place.front_desk)), 409)["code"] == "offer_taken"
    )


def test_a_competing_booking_is_409_held_for_waitlist_offer(offer, post_appointment, ready):
    other = ready(2, "Competitor")
    refused = post_appointment("dosing", offer.starts_at, course_id=other.id)
    body = problem(refused, 409)
    assert "held_for_waitlist_offer" in [v["rule"] for v in body["violations"]]


def test_declining_answers_the_offer(offer, client, headers, place):
    declined = client.post(f"{API}/waitlist/offers/{offer.id}/decline",
                           headers=headers(place.front_desk))  # fmt: skip
    assert declined.status_code == 200 and declined.get_json()["status"] == "declined"
    again = client.post(
        f"{API}/waitlist/offers/{offer.id}/accept", headers=headers(place.front_desk)
    )
    assert problem(again, 409)["code"] == "offer_declined"


def test_a_clinician_cannot_accept(offer, client, headers, place):
    refused = client.post(f"{API}/waitlist/offers/{offer.id}/accept", headers=headers(place.nurse))
    problem(refused, 403)


def test_no_token_is_401(client, course):
    problem(client.post(f"{API}/courses/{course.id}/waitlist", json=BODY), 401)


# --- the clinic's settings ------------------------------------------------------------------------


def test_an_admin_sets_how_long_offers_hold(client, auth_headers, admin, place):
    url = f"{API}/clinics/{place.clinic.id}"
    loaded = client.get(url, headers=auth_headers(admin))
    assert loaded.get_json()["waitlist_offer_minutes"] == 30
    assert loaded.get_json()["waitlist_offers_enabled"] is True
    etag = {"If-Match": loaded.headers["ETag"], **auth_headers(admin)}
    bad = client.patch(url, json={"waitlist_offer_minutes": 0}, headers=etag)
    assert "waitlist_offer_minutes" in problem(bad, 422)["errors"]
    changed = client.patch(
        url, json={"waitlist_offer_minutes": 10, "waitlist_offers_enabled": False}, headers=etag
    )
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["waitlist_offer_minutes"] == 10


def test_offers_hold_for_the_clinics_minutes(place, dose_to_cancel, ready, wait, cancel, tick):
    place.clinic.waitlist_offer_minutes = 10
    db.session.commit()
    wait(ready(1))
    cancel(dose_to_cancel)
    tick()
    offer = db.session.scalars(select(WaitlistOffer)).one()
    assert (offer.expires_at - offer.created_at).total_seconds() == 600
