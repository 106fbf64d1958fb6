"""Private iCalendar feeds: created, rotated and revoked by the staff member or an
administrator; the token stored only as its hash; the feed parses with the icalendar
library, carries the clinic's VTIMEZONE, keeps each appointment's UID across moves
with a growing SEQUENCE, marks cancellations, and names no patient, drug or session kind."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import icalendar
import pytest
from sqlalchemy import select

from kapt_api import clock
from kapt_api.db import db
from kapt_api.protocols.definition import SessionKind
from kapt_api.scheduling.booking import attendance, service
from kapt_api.scheduling.feeds import service as feed_service
from kapt_api.scheduling.feeds.models import CalendarFeed
from tests.scheduling.conftest import API, PROBLEM, at, audit_rows
from tests.scheduling.test_calendar_helpers import book, book_preparations

pytestmark = pytest.mark.usefixtures("now")

DOSING, PREPARATION = SessionKind.DOSING, SessionKind.PREPARATION
# Words that would tell a lock screen what the session is about (DOMAIN.md §5.1).
CLINICAL_WORDS = (
    "ketamine",
    "spravato",
    "esketamine",
    "dosing",
    "dose",
    "infusion",
    "preparation",
    "integration",
    "psychotherapy",
    "intake",
)


@pytest.fixture
def headers(auth_headers):
    return lambda staff: auth_headers(staff.user)


@pytest.fixture
def issue(client, headers):
    def post(staff, who=None):
        return client.post(f"{API}/staff/{staff.id}/calendar-feed", headers=headers(who or staff))

    return post


def feed_path(answer: Any) -> str:
    """The path of the feed's URL (the host is the configured base URL)."""
    url = answer.get_json()["url"]
    return url[url.index("/api/v1/") :]


@pytest.fixture
def booked(course, place, caller_of, now):
    """The IM KAP course's two preparations (with the therapist) and its first dose."""
    desk = caller_of(place.front_desk)
    return [
        *book_preparations(place, course, by=desk, now=now),
        book(place, course, DOSING, at(2, 10), by=desk, now=now),
    ]


def events(body: bytes) -> dict[str, Any]:
    calendar = icalendar.Calendar.from_ical(body)
    return {str(event["UID"]): event for event in calendar.walk("VEVENT")}


def test_the_staff_member_gets_a_feed_that_parses_with_the_clinics_timezone(
    client, issue, place, booked
):
    created = issue(place.therapist)
    assert created.status_code == 201
    assert created.get_json()["url"].startswith("http://127.0.0.1:5000/api/v1/calendar/")

    answer = client.get(feed_path(created))

    assert answer.status_code == 200 and answer.mimetype == "text/calendar"
    assert answer.headers["Cache-Control"] == "private, no-store"
    calendar = icalendar.Calendar.from_ical(answer.data)
    assert [str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")] == ["America/New_York"]
    found = events(answer.data)
    first = found[f"appointment-{booked[0].id}@127.0.0.1"]
    assert first.decoded("DTSTART") == at(0, 9)
    assert str(first["DTSTART"].params["TZID"]) == "America/New_York"
    assert first.decoded("DTEND") == at(0, 10)
    assert str(first["SUMMARY"]) == "Session \u2013 Room Oak"
    assert str(first["STATUS"]) == "CONFIRMED" and first["SEQUENCE"] == 0
    # The therapist is on all three sessions; the front desk's feed would have none.
    assert len(found) == 3


def test_nothing_in_the_feed_names_the_patient_the_drug_or_the_session(
    client, issue, place, booked
):
    body = client.get(feed_path(issue(place.nurse))).data.decode().lower()
    assert "session \u2013 room willow" in body
    for word in ("avery", "quill", "penicillin", "anxiety", *CLINICAL_WORDS):
        assert word not in body, word


def test_a_moved_appointment_keeps_its_uid_and_raises_its_sequence(
    client, issue, place, booked, caller_of, now
):
    url = feed_path(issue(place.therapist))
    uid = f"appointment-{booked[0].id}@127.0.0.1"
    desk = caller_of(place.front_desk)

    service.move(appointment=booked[0], starts_at=at(0, 11), by=desk, now=now)
    db.session.commit()
    moved = events(client.get(url).data)[uid]
    assert moved.decoded("DTSTART") == at(0, 11) and moved["SEQUENCE"] == 1

    service.move(appointment=booked[0], starts_at=at(0, 15), by=desk, now=now)
    db.session.commit()
    attendance.cancel(appointment=booked[2], reason="Unwell", by=desk, now=now)
    db.session.commit()
    found = events(client.get(url).data)
    assert found[uid]["SEQUENCE"] == 2
    cancelled = found[f"appointment-{booked[2].id}@127.0.0.1"]
    assert str(cancelled["STATUS"]) == "CANCELLED" and cancelled["SEQUENCE"] == 1
    assert str(cancelled["TRANSP"]) == "TRANSPARENT"


def test_only_the_tokens_hash_is_stored(issue, place):
    url = issue(place.therapist).get_json()["url"]
    token = url.rsplit("/", 1)[1].removesuffix(".ics")
    (feed,) = db.session.scalars(select(CalendarFeed)).all()
    assert feed.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in {feed.token_hash, str(feed.id)}
    assert feed_service.staff_of_token(token) == place.therapist


def test_rotating_the_token_closes_the_old_url(client, issue, place, admin, auth_headers):
    old = feed_path(issue(place.therapist))
    rotated = client.post(
        f"{API}/staff/{place.therapist.id}/calendar-feed", headers=auth_headers(admin)
    )
    assert rotated.status_code == 201
    assert client.get(old).status_code == 404
    assert client.get(feed_path(rotated)).status_code == 200
    actions = [e.action for e in audit_rows(resource_type="calendar_feed")]
    assert sorted(actions) == ["create", "update"]  # the clock is frozen: same instant


def test_revoking_the_feed_answers_404_at_its_url(client, issue, place, headers):
    url = feed_path(issue(place.therapist))
    revoke = f"{API}/staff/{place.therapist.id}/calendar-feed"
    assert client.delete(revoke, headers=headers(place.therapist)).status_code == 204
    gone = client.get(url)
    assert gone.status_code == 404 and gone.mimetype == PROBLEM
    again = client.delete(revoke, headers=headers(place.therapist))
    assert again.status_code == 404


def test_an_unknown_token_or_an_inactive_member_answers_404(client, issue, place):
    assert client.get(f"{API}/calendar/not-a-token.ics").status_code == 404
    url = feed_path(issue(place.therapist))
    place.therapist.active = False
    db.session.commit()
    assert client.get(url).status_code == 404


def test_who_manages_a_feed(client, issue, place, other_place, headers):
    expected = {
        place.therapist: 201,  # their own
        place.admin: 201,
        place.front_desk: 403,
        place.nurse: 403,
        other_place.front_desk: 404,
        other_place.therapist: 404,
    }
    for who, status in expected.items():
        answer = issue(place.therapist, who=who)
        assert answer.status_code == status, (who.full_name, answer.get_json())
        revoke = client.delete(
            f"{API}/staff/{place.therapist.id}/calendar-feed", headers=headers(who)
        )
        assert revoke.status_code == (204 if status == 201 else status)
    assert client.post(f"{API}/staff/{place.therapist.id}/calendar-feed").status_code == 401


def test_the_feed_shows_a_month_back_and_six_months_ahead(client, issue, place, booked):
    url = feed_path(issue(place.therapist))
    clock.freeze(booked[1].starts_at - feed_service.FEED_FUTURE + timedelta(days=1))
    assert len(events(client.get(url).data)) == 2  # the dose on Wednesday is too far off
    clock.freeze(booked[2].starts_at + feed_service.FEED_PAST + timedelta(days=1))
    assert events(client.get(url).data) == {}
