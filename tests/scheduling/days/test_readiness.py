"""Readiness flags over HTTP (issue 12 item 3): a preparation or integration session a
booked dose depends on, cancelled or missed, is accepted; the dose shows the flag on
the day schedules and in progress, the care team gets an alert, and its check-in asks
an administrator or prescriber for an override.

An IM KAP course: preparations Monday 7 Dec 2026 at 09:00 and 13:00, the first dose
Wednesday 10:00 (ends 12:30), its integration Thursday 15:00 (24-72 h after), the next
dose the Wednesday after, at 10:00.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import select

from kapt_api import clock
from kapt_api.db import db
from kapt_api.monitoring.models import Alert
from kapt_api.reminders.models import Reminder
from tests.scheduling.conftest import API, PROBLEM, at, audit_rows

pytestmark = pytest.mark.usefixtures("now")

FIRST_DOSE_DAY, NEXT_DOSE_DAY = date(2026, 12, 9), date(2026, 12, 16)
OVERRIDE = {"reason": "Prepared in a long intake; prescriber saw the patient today."}


@pytest.fixture
def headers(auth_headers):
    return lambda staff: auth_headers(staff.user)


@pytest.fixture
def book(client, headers, place, course):
    def post(kind: str, starts_at, *, who=None, **extra: Any) -> dict[str, Any]:
        room = place.dosing_room if kind == "dosing" else place.therapy_room
        body = {
            "course_id": str(course.id),
            "kind": kind,
            "starts_at": starts_at.isoformat(),
            "room_id": str(room.id),
            **extra,
        }
        who = who or place.front_desk
        response = client.post(f"{API}/appointments", json=body, headers=headers(who))
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    return post


@pytest.fixture
def first_dose(book):
    preparations = [book("preparation", at(0, 9)), book("preparation", at(0, 13))]
    return preparations, book("dosing", at(2, 10))


@pytest.fixture
def two_doses(book, first_dose):
    _preparations, dose = first_dose
    integration = book("integration", at(3, 15))
    return dose, integration, book("dosing", at(9, 10))


@pytest.fixture
def step(client, headers, place):
    def post(appointment: dict[str, Any], name: str, who=None, **body: Any):
        return client.post(
            f"{API}/appointments/{appointment['id']}/{name}",
            json=body,
            headers=headers(who or place.front_desk),
        )

    return post


@pytest.fixture
def flags_on(client, headers, place):
    """A dose's flags on the clinic's day, on its first staff member's day, and in
    its course's progress (all three must agree)."""

    def read(dose: dict[str, Any], day: date) -> list[str]:
        desk = headers(place.front_desk)
        clinic = client.get(
            f"{API}/schedule",
            query_string={"clinic_id": str(place.clinic.id), "date": day.isoformat()},
            headers=desk,
        ).get_json()
        (shown,) = [
            a for g in clinic["by_room"] for a in g["appointments"] if a["id"] == dose["id"]
        ]
        staff = client.get(
            f"{API}/staff/{dose['staff_ids'][0]}/schedule",
            query_string={"date": day.isoformat()},
            headers=desk,
        ).get_json()
        (theirs,) = [a for a in staff["appointments"] if a["id"] == dose["id"]]
        progress = client.get(f"{API}/courses/{dose['course_id']}/progress", headers=desk)
        (booked,) = [s for s in progress.get_json()["booked"] if s["id"] == dose["id"]]
        assert shown["readiness"]["flags"] == theirs["readiness"]["flags"] == booked["flags"]
        return booked["flags"]

    return read


def dose_alerts() -> list[Alert]:
    return list(db.session.scalars(select(Alert).where(Alert.kind == "dose_not_ready")))


def refusal(response) -> dict[str, Any]:
    assert response.status_code == 422, response.get_json()
    assert response.mimetype == PROBLEM
    return response.get_json()


def test_a_preparation_cancelled_after_the_first_dose_was_booked_flags_it(
    client, headers, place, patient, first_dose, step, flags_on
):
    preparations, dose = first_dose
    assert flags_on(dose, FIRST_DOSE_DAY) == []  # the day is computed and kept

    cancelled = step(preparations[1], "cancel", reason="Patient has the flu")

    assert cancelled.status_code == 200, cancelled.get_json()
    assert flags_on(dose, FIRST_DOSE_DAY) == ["preparation_incomplete"]  # the kept day too
    (alert,) = dose_alerts()
    assert (alert.patient_id, str(alert.course_id), alert.severity) == (
        patient.id,
        dose["course_id"],
        "warning",
    )
    assert "Wed 9 Dec 2026 10:00" in alert.message and "preparation" in alert.message
    assert "flu" not in alert.message and patient.family_name not in alert.message
    listed = client.get(f"{API}/alerts", headers=headers(place.prescriber)).get_json()
    assert [a["kind"] for a in listed] == ["dose_not_ready"]
    (email,) = db.session.scalars(select(Reminder).where(Reminder.purpose == "alert"))
    assert email.recipient == place.prescriber.email and "dose not ready" in email.body

    clock.freeze(at(2, 10))  # the day of the dose: check-in is open
    found = refusal(step(dose, "check-in"))
    (violation,) = found["violations"]
    assert violation["rule"] == "preparation_incomplete"
    assert "needs 2 preparation session(s)" in violation["message"]
    assert "prescriber or administrator may" in violation["message"]

    overridden = step(
        dose,
        "check-in",
        who=place.prescriber,
        override={"rules": ["preparation_incomplete"], **OVERRIDE},
    )
    assert overridden.status_code == 200, overridden.get_json()
    shown = overridden.get_json()
    assert shown["status"] == "checked_in"
    assert shown["override"]["rules"] == ["preparation_incomplete"]
    assert shown["override"]["reason"] == OVERRIDE["reason"]  # the care team sees it
    assert shown["history"][-1]["by"] == str(place.prescriber.user_id)
    audited = audit_rows(resource_type="appointment", resource_id=dose["id"])
    (audited_override,) = [e for e in audited if e.action == "override"]
    assert audited_override.reason == f"preparation_incomplete: {OVERRIDE['reason']}"
    assert audited_override.actor_id == place.prescriber.user_id
    assert "check_in" in {e.action for e in audited}


def test_an_integration_cancelled_before_the_next_dose_flags_the_next_dose(
    two_doses, step, flags_on
):
    dose, integration, next_dose = two_doses
    assert flags_on(next_dose, NEXT_DOSE_DAY) == []

    assert step(integration, "cancel", reason="Therapist away").status_code == 200

    assert flags_on(next_dose, NEXT_DOSE_DAY) == ["integration_missing"]
    assert flags_on(dose, FIRST_DOSE_DAY) == []
    (alert,) = dose_alerts()
    assert "Wed 16 Dec 2026 10:00" in alert.message and "was cancelled" in alert.message
    (violation,) = refusal(step(next_dose, "check-in"))["violations"]
    assert violation["rule"] == "integration_missing"
    assert "The previous dose, on Wed 9 Dec 2026 10:00" in violation["message"]


def test_an_integration_marked_no_show_flags_the_next_dose(two_doses, step, flags_on):
    _dose, integration, next_dose = two_doses
    clock.freeze(at(3, 16))

    assert step(integration, "no-show").status_code == 200

    assert flags_on(next_dose, NEXT_DOSE_DAY) == ["integration_missing"]
    (alert,) = dose_alerts()
    assert "no-show" in alert.message


def test_a_no_show_dose_needs_no_integration(client, headers, place, two_doses, step, flags_on):
    dose, integration, next_dose = two_doses
    clock.freeze(at(2, 11))

    assert step(dose, "no-show").status_code == 200
    # Its integration now follows no dose: cancelling it is fine and flags nothing.
    assert step(integration, "cancel", reason="No dose to integrate").status_code == 200

    assert flags_on(next_dose, NEXT_DOSE_DAY) == []
    progress = client.get(
        f"{API}/courses/{dose['course_id']}/progress", headers=headers(place.front_desk)
    ).get_json()
    # The integration due is the one after the next dose (now the course's first): none
    # is due for the dose that was missed.
    (due,) = [d for d in progress["due"] if d["kind"] == "integration"]
    assert due["earliest"] > next_dose["ends_at"]
    assert dose_alerts() == []


def test_the_front_desk_cannot_override_at_check_in(place, first_dose, step):
    preparations, dose = first_dose
    assert step(preparations[0], "cancel", reason="Patient asked").status_code == 200
    body = {"rules": ["preparation_incomplete"], **OVERRIDE}
    clock.freeze(at(2, 10))

    forbidden = step(dose, "check-in", override=body)

    assert forbidden.status_code == 403 and forbidden.mimetype == PROBLEM
    refused = step(dose, "check-in", who=place.nurse, override=body)
    assert refused.status_code == 403
    admin = step(dose, "check-in", who=place.admin, override=body)
    assert admin.status_code == 200, admin.get_json()


def test_a_dose_whose_booking_overrode_the_flag_checks_in_without_one(place, book, step, flags_on):
    # No preparation at all: the prescriber booked the first dose overriding the rule.
    dose = book(
        "dosing",
        at(2, 10),
        who=place.prescriber,
        override={"rules": ["preparation_incomplete"], **OVERRIDE},
    )
    assert flags_on(dose, FIRST_DOSE_DAY) == ["preparation_incomplete"]
    clock.freeze(at(2, 10))
    checked_in = step(dose, "check-in")
    assert checked_in.status_code == 200, checked_in.get_json()


def test_the_check_in_body_is_optional_and_strict(first_dose, step, place, client, headers):
    _preparations, dose = first_dose
    clock.freeze(at(2, 10))
    problem = step(dose, "check-in", notes="hello")
    assert problem.status_code == 422 and "notes" in problem.get_json()["errors"]
    bad_rule = step(
        dose, "check-in", who=place.admin, override={"rules": ["room_conflict"], **OVERRIDE}
    )
    assert bad_rule.status_code == 422
    bare = client.post(
        f"{API}/appointments/{dose['id']}/check-in", headers=headers(place.front_desk)
    )
    assert bare.status_code == 200, bare.get_json()


def test_the_openapi_document_names_the_flags(client):
    document = client.get("/openapi.json").get_json()
    schemas = document["components"]["schemas"]
    readiness = schemas["ReadinessOut"]["properties"]["flags"]
    assert readiness["items"]["enum"] == ["preparation_incomplete", "integration_missing"]
    booked = schemas["BookedSessionOut"]["properties"]["flags"]
    assert booked["items"]["enum"] == ["preparation_incomplete", "integration_missing"]
    check_in = document["paths"]["/api/v1/appointments/{appointment_id}/check-in"]["post"]
    assert check_in["requestBody"]["required"] is False
    assert "no longer needed" in schemas["CancelIn"]["properties"]["override"]["description"]
