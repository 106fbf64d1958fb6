"""The HTTP contract of courses: enrolment, reading, discontinuing and progress, with
their statuses, problem+json refusals, who may do what and per-caller views."""

from __future__ import annotations

import pytest

from kapt_api.db import db
from kapt_api.scheduling.booking.models import Appointment
from tests.scheduling.conftest import (
    API,
    ESKETAMINE_KEY,
    audit_rows,
    problem,
)

pytestmark = pytest.mark.usefixtures("now")


# --- courses --------------------------------------------------------------------------------


def test_enrolling_answers_201_with_the_pinned_version_and_care_team(
    client, headers, place, patient, versions
):
    body = {
        "patient_id": str(patient.id),
        "protocol_version_id": str(versions[ESKETAMINE_KEY].id),
        "care_team": {"prescriber_id": str(place.prescriber.id)},
    }
    response = client.post(f"{API}/courses", json=body, headers=headers(place.prescriber))

    assert response.status_code == 201, response.get_json()
    course = response.get_json()
    assert response.headers["Location"].endswith(f"/courses/{course['id']}")
    assert course["status"] == "active"
    assert course["protocol_version_number"] == 1
    assert course["protocol_name"] == "Esketamine nasal spray (REMS) induction"
    assert course["care_team"] == {
        "prescriber_id": str(place.prescriber.id),
        "therapist_id": None,
        "nurse_id": None,
    }
    assert course["discontinue_reason"] is None  # the care team's prescriber sees it
    shown = client.get(f"{API}/courses/{course['id']}", headers=headers(place.front_desk))
    assert shown.status_code == 200 and "discontinue_reason" not in shown.get_json()


def test_the_front_desk_enrols_as_the_readme_says_and_the_audit_names_them(
    client, headers, place, patient, versions
):
    # The clinic's intake enrols: the front desk records the protocol and care team the
    # prescriber chose; nurses and therapists do not enrol.
    body = {
        "patient_id": str(patient.id),
        "protocol_version_id": str(versions[ESKETAMINE_KEY].id),
        "care_team": {"prescriber_id": str(place.prescriber.id)},
    }
    for who in (place.nurse, place.therapist):
        problem(client.post(f"{API}/courses", json=body, headers=headers(who)), 403)
    enrolled = client.post(f"{API}/courses", json=body, headers=headers(place.front_desk))
    assert enrolled.status_code == 201, enrolled.get_json()
    course_id = enrolled.get_json()["id"]
    (created,) = audit_rows(resource_type="course", resource_id=course_id, action="create")
    assert created.actor_id == place.front_desk.user_id


def test_enrolling_a_bad_reference_is_422(client, headers, place, patient, versions):
    body = {
        "patient_id": str(patient.id),
        "protocol_version_id": str(place.clinic.id),
        "care_team": {"prescriber_id": str(place.prescriber.id)},
    }
    found = problem(
        client.post(f"{API}/courses", json=body, headers=headers(place.prescriber)), 422
    )
    assert "protocol_version_id" in found["errors"]


def test_a_course_of_another_clinic_is_404(client, headers, course, other_place):
    response = client.get(f"{API}/courses/{course.id}", headers=headers(other_place.front_desk))
    problem(response, 404)
    progress = client.get(
        f"{API}/courses/{course.id}/progress", headers=headers(other_place.front_desk)
    )
    problem(progress, 404)


def test_progress_lists_done_booked_and_due_with_windows(client, headers, place, course, prepared):
    response = client.get(f"{API}/courses/{course.id}/progress", headers=headers(place.front_desk))

    assert response.status_code == 200
    progress = response.get_json()
    assert progress["dose_count"] == 6 and progress["preparations_scheduled"] == 2
    assert [s["id"] for s in progress["booked"]] == [p["id"] for p in prepared]
    (dose,) = progress["due"]
    assert dose["kind"] == "dosing" and dose["number"] == 1
    assert dose["earliest"] == "2026-12-07T19:00:00+00:00"  # the second preparation ends at 14:00
    assert dose["latest"] is None


def test_discontinuing_answers_the_course_and_cancels_whats_booked(
    client, headers, place, course, prepared
):
    url = f"{API}/courses/{course.id}/discontinue"
    problem(client.post(url, json={}, headers=headers(place.prescriber)), 422)
    problem(client.post(url, json={"reason": "x"}, headers=headers(place.front_desk)), 403)
    response = client.post(url, json={"reason": "Moved away"}, headers=headers(place.prescriber))
    assert response.status_code == 200
    assert response.get_json()["discontinue_reason"] == "Moved away"
    again = client.post(url, json={"reason": "Again"}, headers=headers(place.prescriber))
    problem(again, 409)
    statuses = {a.status for a in db.session.query(Appointment).all()}
    assert statuses == {"cancelled"}
