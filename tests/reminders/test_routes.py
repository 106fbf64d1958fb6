"""GET /reminders?appointment_id=: each reminder's delivery state, for staff of the
appointment's clinic; another clinic's appointment is 404."""

from __future__ import annotations

import pytest

from kapt_api.db import db
from kapt_api.protocols.definition import SessionKind
from tests.scheduling.conftest import at

pytestmark = pytest.mark.usefixtures("now")
API = "/api/v1/reminders"


def test_staff_see_each_reminder_with_its_delivery_state(
    client, auth_headers, course, book, place, now
):
    appointment = book(course, SessionKind.PREPARATION, at(0, 9))
    db.session.commit()

    answer = client.get(
        API,
        query_string={"appointment_id": str(appointment.id)},
        headers=auth_headers(place.front_desk.user),
    )

    assert answer.status_code == 200, answer.json
    (item,) = answer.json
    assert item["appointment_id"] == str(appointment.id)
    assert (item["status"], item["channel"], item["attempts"], item["offset_hours"]) == (
        "pending",
        "email",
        0,
        24,
    )
    assert (item["last_error"], item["sent_at"]) == (None, None)
    assert item["due_at"] == "2026-12-06T14:00:00+00:00"
    assert "body" not in item and "recipient" not in item


def test_another_clinics_appointment_is_not_found(
    client, auth_headers, course, book, make_place, make_staff
):
    appointment = book(course, SessionKind.PREPARATION, at(0, 9))
    db.session.commit()
    elsewhere = make_place(name="Birch Clinic", time_zone="Europe/London")

    answer = client.get(
        API,
        query_string={"appointment_id": str(appointment.id)},
        headers=auth_headers(elsewhere.front_desk.user),
    )

    assert answer.status_code == 404
    assert answer.content_type == "application/problem+json"


def test_the_appointment_id_is_required(client, admin_headers):
    answer = client.get(API, headers=admin_headers)

    assert answer.status_code == 422
    assert "appointment_id" in str(answer.json)


def test_anonymous_callers_are_refused(client, course, book):
    appointment = book(course, SessionKind.PREPARATION, at(0, 9))

    assert client.get(API, query_string={"appointment_id": str(appointment.id)}).status_code == 401
