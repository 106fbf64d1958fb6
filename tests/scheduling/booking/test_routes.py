"""The HTTP contract of appointments: statuses, problem+json refusals naming every rule,
who may do what, ETags, idempotent retries, per-caller views."""

from __future__ import annotations

import pytest

from kapt_api import clock
from kapt_api.db import db
from kapt_api.scheduling.booking.models import Appointment
from tests.scheduling.conftest import (
    API,
    at,
    audit_rows,
    problem,
    rules_in,
)

pytestmark = pytest.mark.usefixtures("now")


# --- booking ---------------------------------------------------------------------------------


def test_booking_answers_201_with_location_history_and_no_clinical_fields_for_front_desk(
    post_appointment, place, course
):
    response = post_appointment("preparation", at(0, 9))

    assert response.status_code == 201, response.get_json()
    appointment = response.get_json()
    assert response.headers["Location"].endswith(f"/appointments/{appointment['id']}")
    assert appointment["starts_at"] == "2026-12-07T14:00:00+00:00"
    assert appointment["ends_at"] == "2026-12-07T15:00:00+00:00"
    assert appointment["held_until"] == "2026-12-07T15:10:00+00:00"
    assert appointment["staff_ids"] == [str(place.therapist.id)]
    assert appointment["history"][0]["to_status"] == "booked"
    assert appointment["override"] is None
    assert "clinical_notes" not in appointment


def test_a_double_booking_answers_409_naming_every_taken_resource(
    post_appointment, prepared, make_course, make_patient, place
):
    other = make_course(on=make_patient(place.clinic))
    body = problem(post_appointment("preparation", at(0, 9, 30), course_id=other.id), 409)

    assert body["code"] == "booking_conflict"
    assert sorted(rules_in(body)) == ["room_conflict", "staff_conflict"]
    staff = next(v for v in body["violations"] if v["rule"] == "staff_conflict")
    assert staff["staff_id"] == str(place.therapist.id)
    assert staff["conflicting_appointment_ids"] == [prepared[0]["id"]]
    assert staff["overridable"] is False
    assert "already booked" in staff["message"]


def test_clinical_rules_answer_422_listing_them_all(post_appointment):
    body = problem(post_appointment("dosing", at(0, 8)), 422)
    assert body["code"] == "rule_violation"
    assert set(rules_in(body)) == {"outside_working_hours", "preparation_incomplete"}


def test_a_time_without_an_offset_is_refused(client, headers, place, course):
    body = {
        "course_id": str(course.id),
        "kind": "preparation",
        "starts_at": "2026-12-07T09:00:00",
        "room_id": str(place.therapy_room.id),
    }
    found = problem(
        client.post(f"{API}/appointments", json=body, headers=headers(place.front_desk)), 422
    )
    assert "starts_at" in found["errors"]


def test_a_local_start_in_the_spring_forward_gap_is_refused_saying_so(post_appointment):
    found = problem(
        post_appointment("preparation", None, local_start={"date": "2027-03-14", "time": "02:30"}),
        422,
    )
    assert rules_in(found) == ["nonexistent_local_time"]
    assert "does not exist" in found["violations"][0]["message"]
    ambiguous = problem(
        post_appointment("preparation", None, local_start={"date": "2027-11-07", "time": "01:30"}),
        422,
    )
    assert rules_in(ambiguous) == ["ambiguous_local_time"]
    ok = post_appointment("preparation", None, local_start={"date": "2026-12-07", "time": "09:00"})
    assert ok.status_code == 201 and ok.get_json()["starts_at"] == "2026-12-07T14:00:00+00:00"


def test_front_desk_sending_an_override_is_forbidden(post_appointment):
    override = {"rules": ["preparation_incomplete"], "reason": "Prepared elsewhere."}
    problem(post_appointment("dosing", at(1, 10), override=override), 403)


def test_overriding_a_conflict_is_refused_saying_nobody_can(post_appointment, place):
    override = {"rules": ["patient_conflict"], "reason": "Squeeze in."}
    found = problem(
        post_appointment("dosing", at(1, 10), who=place.prescriber, override=override), 422
    )
    assert found["errors"]["override.rules"][0].startswith("Nobody can override patient_conflict")


def test_a_prescriber_override_is_kept_shown_to_the_care_team_and_audited(
    post_appointment, client, headers, place, patient
):
    override = {"rules": ["preparation_incomplete"], "reason": "Prepared at the sister clinic."}
    response = post_appointment("dosing", at(1, 10), who=place.prescriber, override=override)

    assert response.status_code == 201, response.get_json()
    shown = response.get_json()
    assert shown["override"] == {
        "rules": ["preparation_incomplete"],
        "reason": "Prepared at the sister clinic.",
        "by": str(place.prescriber.user_id),
    }
    desk = client.get(
        f"{API}/appointments/{shown['id']}", headers=headers(place.front_desk)
    ).get_json()
    assert desk["override"] == {
        "rules": ["preparation_incomplete"],
        "by": str(place.prescriber.user_id),
    }
    (row,) = audit_rows(action="override", patient_id=patient.id)
    assert row.reason.endswith("Prepared at the sister clinic.")


def test_an_idempotent_retry_books_once(post_appointment, client, headers, place, course):
    body = {
        "course_id": str(course.id),
        "kind": "preparation",
        "starts_at": at(0, 9).isoformat(),
        "room_id": str(place.therapy_room.id),
    }
    sent = headers(place.front_desk, **{"Idempotency-Key": "book-prep-1"})
    first = client.post(f"{API}/appointments", json=body, headers=sent)
    again = client.post(f"{API}/appointments", json=body, headers=sent)
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.get_json()["id"] == again.get_json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert db.session.query(Appointment).count() == 1


# --- reading and listing ---------------------------------------------------------------------


def test_list_filters_paginates_and_audits(client, headers, place, prepared, patient):
    url = f"{API}/appointments?patient_id={patient.id}&from=2026-12-07T16:00:00Z&page_size=1"
    response = client.get(url, headers=headers(place.front_desk))

    assert response.status_code == 200
    assert [a["id"] for a in response.get_json()] == [prepared[1]["id"]]
    assert '"total": 1' in response.headers["X-Pagination"]
    listed = audit_rows(action="list", resource_type="appointment")
    assert [r.resource_id for r in listed] == [prepared[1]["id"]]
    bad = client.get(f"{API}/appointments?status=lost", headers=headers(place.front_desk))
    problem(bad, 422)


def test_clinicians_on_the_care_team_see_clinical_notes_others_do_not(
    client, headers, place, prepared
):
    url = f"{API}/appointments"
    assert "clinical_notes" in client.get(url, headers=headers(place.therapist)).get_json()[0]
    assert "clinical_notes" not in client.get(url, headers=headers(place.front_desk)).get_json()[0]


def test_another_clinics_appointment_is_404_and_absent_from_lists(
    client, headers, prepared, other_place
):
    response = client.get(
        f"{API}/appointments/{prepared[0]['id']}", headers=headers(other_place.front_desk)
    )
    problem(response, 404)
    assert (
        client.get(f"{API}/appointments", headers=headers(other_place.front_desk)).get_json() == []
    )


# --- rescheduling ----------------------------------------------------------------------------


def test_rescheduling_needs_the_current_etag(client, headers, place, prepared):
    url = f"{API}/appointments/{prepared[0]['id']}"
    desk = headers(place.front_desk)
    change = {"starts_at": at(0, 11).isoformat()}
    assert problem(client.patch(url, json=change, headers=desk), 428)["code"] == (
        "if_match_required"
    )
    stale = problem(client.patch(url, json=change, headers={**desk, "If-Match": '"stale"'}), 412)
    assert stale["code"] == "etag_mismatch"
    etag = client.get(url, headers=desk).headers["ETag"]
    moved = client.patch(url, json=change, headers={**desk, "If-Match": etag})
    assert moved.status_code == 200, moved.get_json()
    assert moved.get_json()["starts_at"] == "2026-12-07T16:00:00+00:00"
    assert moved.headers["ETag"] != etag


def test_a_reschedule_onto_a_taken_time_answers_409(client, headers, place, prepared):
    url = f"{API}/appointments/{prepared[1]['id']}"
    desk = headers(place.front_desk)
    etag = client.get(url, headers=desk).headers["ETag"]
    body = problem(
        client.patch(
            url, json={"starts_at": at(0, 9, 30).isoformat()}, headers={**desk, "If-Match": etag}
        ),
        409,
    )
    assert {"patient_conflict", "staff_conflict", "room_conflict"} <= set(rules_in(body))


# --- cancelling and the status steps ---------------------------------------------------------


def test_a_cancel_from_a_screen_that_loaded_an_older_version_is_412(
    client, headers, place, prepared
):
    url = f"{API}/appointments/{prepared[0]['id']}"
    desk = headers(place.front_desk)
    loaded = client.get(url, headers=desk).headers["ETag"]
    moved = client.patch(
        url, json={"starts_at": at(0, 11).isoformat()}, headers={**desk, "If-Match": loaded}
    )
    assert moved.status_code == 200
    reason = {"reason": "Patient called"}

    stale = client.post(f"{url}/cancel", json=reason, headers={**desk, "If-Match": loaded})

    assert problem(stale, 412)["code"] == "etag_mismatch"
    assert client.get(url, headers=desk).get_json() == moved.get_json()
    fresh = client.post(
        f"{url}/cancel", json=reason, headers={**desk, "If-Match": moved.headers["ETag"]}
    )
    assert fresh.status_code == 200 and fresh.get_json()["status"] == "cancelled"
    assert fresh.headers["ETag"] == client.get(url, headers=desk).headers["ETag"]


def test_cancel_needs_a_reason_and_marks_late_cancellations(client, headers, place, prepared):
    url = f"{API}/appointments/{prepared[0]['id']}/cancel"
    desk = headers(place.front_desk)
    problem(client.post(url, json={}, headers=desk), 422)
    body = {"reason": "Patient called", "reason_category": "patient_request"}
    response = client.post(url, json=body, headers=desk)
    assert response.status_code == 200
    cancelled = response.get_json()
    assert cancelled["status"] == "cancelled"
    assert cancelled["late_cancellation"] is False  # 47 hours before, 24 needed
    # The front desk writes the reason but is shown only its category.
    assert cancelled["history"][-1]["reason_category"] == "patient_request"
    assert "reason" not in cancelled["history"][-1]
    for reader in (place.admin, place.therapist):
        shown = client.get(f"{API}/appointments/{prepared[0]['id']}", headers=headers(reader))
        assert shown.get_json()["history"][-1]["reason"] == "Patient called"


def test_the_status_steps_through_http_and_an_illegal_one_names_both_statuses(
    client, headers, place, prepared
):
    base = f"{API}/appointments/{prepared[0]['id']}"
    refused = problem(client.post(f"{base}/start", headers=headers(place.therapist)), 409)
    assert refused["violations"][0]["current_status"] == "booked"
    assert refused["violations"][0]["wanted_status"] == "in_progress"
    problem(client.post(f"{base}/check-in", headers=headers(place.therapist)), 403)
    clock.freeze(at(0, 9))  # check-in opens shortly before the booked start
    assert client.post(f"{base}/check-in", headers=headers(place.front_desk)).status_code == 200
    assert client.post(f"{base}/start", headers=headers(place.therapist)).status_code == 200
    done = client.post(
        f"{base}/complete", json={"clinical_notes": "Went well."}, headers=headers(place.therapist)
    )
    assert done.status_code == 200
    assert done.get_json()["clinical_notes"] == "Went well."
    assert [h["to_status"] for h in done.get_json()["history"]] == [
        "booked",
        "checked_in",
        "in_progress",
        "completed",
    ]
    again = problem(
        client.post(f"{base}/cancel", json={"reason": "x"}, headers=headers(place.front_desk)), 409
    )
    assert "completed is final" in again["detail"]


def test_a_no_show_before_the_start_is_refused(client, headers, place, prepared):
    url = f"{API}/appointments/{prepared[0]['id']}/no-show"
    found = problem(client.post(url, json={}, headers=headers(place.front_desk)), 422)
    assert rules_in(found) == ["not_started_yet"]


def test_the_openapi_document_lists_the_scheduling_operations_with_409(client):
    paths = client.get("/openapi.json").get_json()["paths"]
    assert "409" in paths["/api/v1/appointments"]["post"]["responses"]
    assert "409" in paths["/api/v1/appointments/{appointment_id}"]["patch"]["responses"]
    assert "412" in paths["/api/v1/appointments/{appointment_id}"]["patch"]["responses"]
    for step in ("cancel", "check-in", "start", "complete", "no-show"):
        assert (
            "409" in paths[f"/api/v1/appointments/{{appointment_id}}/{step}"]["post"]["responses"]
        )
