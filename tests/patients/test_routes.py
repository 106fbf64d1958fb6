"""The patients HTTP contract: status codes, problem+json, ETags, idempotent
registration, consent stamps, and the audit trail as an administrator reads it."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from kapt_api import clock
from kapt_api.errors import PROBLEM_MIMETYPE
from tests.patients.conftest import NOON, ids

BASE = "/api/v1/patients"


def url(patient) -> str:
    return f"{BASE}/{patient.id if hasattr(patient, 'id') else patient}"


def get_etag(client, patient, headers):
    response = client.get(url(patient), headers=headers)
    assert response.status_code == 200
    return response.headers["ETag"]


def patch_with(client, patient, headers, changes, etag):
    """PATCH as the version with this ETag."""
    return client.patch(url(patient), json=changes, headers={**headers, "If-Match": etag})


def patch_seen(client, patient, headers, changes):
    """PATCH as the version this caller has just read."""
    return patch_with(client, patient, headers, changes, get_etag(client, patient, headers))


def assert_problem(response, status, *fields):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM_MIMETYPE
    body = response.get_json()
    assert body["status"] == status
    for name in fields:
        assert name in body["errors"], body
    return body


# --- register ------------------------------------------------------------------------


def test_front_desk_registers_a_patient_in_their_clinic(client, team, headers_of, patient_body):
    response = client.post(
        BASE, json=patient_body(team.clinic), headers=headers_of(team.front_desk)
    )
    assert response.status_code == 201
    body = response.get_json()
    assert response.headers["Location"].endswith(f"{BASE}/{body['id']}")
    assert response.headers["ETag"]
    assert body["given_name"] == "Jordan"
    assert body["time_zone"] == team.clinic.time_zone
    assert body["preferred_reminder_channel"] == "email"
    assert body["care_team"] == []
    assert "clinical" not in body


def test_the_patients_sex_is_optional_recorded_and_changed_by_front_desk(
    client, team, headers_of, patient_body, frozen_now
):
    headers = headers_of(team.front_desk)
    unknown = client.post(BASE, json=patient_body(team.clinic), headers=headers)
    assert unknown.get_json()["sex"] is None
    created = client.post(BASE, json=patient_body(team.clinic, sex="female"), headers=headers)
    assert created.status_code == 201
    location = created.headers["Location"]
    assert client.get(location, headers=headers).get_json()["sex"] == "female"
    etag = created.headers["ETag"]
    changed = client.patch(location, json={"sex": "other"}, headers={**headers, "If-Match": etag})
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["sex"] == "other"


def test_a_clinician_cannot_change_the_patients_sex(client, team, headers_of, make_patient):
    patient = make_patient(team.clinic, care_team=[team.therapist])
    response = patch_seen(client, patient, headers_of(team.therapist), {"sex": "male"})
    assert assert_problem(response, 403)["code"] == "fields_not_allowed"


def test_registering_answers_with_a_fetchable_patient_and_the_same_etag(
    client, team, headers_of, patient_body
):
    headers = headers_of(team.front_desk)
    created = client.post(BASE, json=patient_body(team.clinic), headers=headers)
    fetched = client.get(created.headers["Location"], headers=headers)
    assert fetched.status_code == 200
    assert fetched.get_json() == created.get_json()
    assert fetched.headers["ETag"] == created.headers["ETag"]


def test_clinicians_do_not_register_patients(client, team, headers_of, patient_body):
    response = client.post(BASE, json=patient_body(team.clinic), headers=headers_of(team.nurse))
    assert assert_problem(response, 403)["code"] == "missing_role"


def test_front_desk_of_another_clinic_cannot_register_here(
    client, team, other_team, headers_of, patient_body
):
    response = client.post(
        BASE, json=patient_body(team.clinic), headers=headers_of(other_team.front_desk)
    )
    assert_problem(response, 422, "clinic_id")


def test_sending_clinical_fields_without_being_on_the_care_team_is_403_naming_the_rule(
    client, team, headers_of, patient_body
):
    body = patient_body(team.clinic, clinical={"allergies": "latex"})
    response = client.post(BASE, json=body, headers=headers_of(team.front_desk))
    problem = assert_problem(response, 403)
    assert [v["rule"] for v in problem["violations"]] == ["clinical_fields_care_team_only"]
    assert "latex" not in response.get_data(as_text=True)
    listed = client.get(BASE, headers=headers_of(team.front_desk)).get_json()
    assert listed == []


# --- idempotent registration -----------------------------------------------------------


def test_a_retried_registration_answers_the_first_result_without_a_second_patient(
    client, team, headers_of, patient_body
):
    headers = headers_of(team.front_desk, **{"Idempotency-Key": "register-jordan-1"})
    body = patient_body(team.clinic)
    first = client.post(BASE, json=body, headers=headers)
    again = client.post(BASE, json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["ETag"] == first.headers["ETag"]
    listed = client.get(BASE, headers=headers_of(team.front_desk)).get_json()
    assert ids(listed) == ids([first.get_json()])


def test_reusing_a_key_for_a_different_patient_is_refused(client, team, headers_of, patient_body):
    headers = headers_of(team.front_desk, **{"Idempotency-Key": "register-2"})
    assert client.post(BASE, json=patient_body(team.clinic), headers=headers).status_code == 201
    other = patient_body(team.clinic, given_name="Riley")
    response = client.post(BASE, json=other, headers=headers)
    assert_problem(response, 422, "header:Idempotency-Key")


def test_a_refused_registration_frees_its_key_for_the_corrected_retry(
    client, team, headers_of, patient_body
):
    headers = headers_of(team.front_desk, **{"Idempotency-Key": "register-3"})
    bad = patient_body(team.clinic, date_of_birth="2090-01-01")
    assert client.post(BASE, json=bad, headers=headers).status_code == 422
    good = patient_body(team.clinic)
    # The same key with a different body is only refused once a first answer was stored.
    assert client.post(BASE, json=good, headers=headers).status_code == 201


# --- invalid input ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"phone": "555-0142"}, "phone"),
        ({"phone": "+1 555 555 0142"}, "phone"),
        ({"date_of_birth": "1986-03-14T00:00:00"}, "date_of_birth"),
        ({"date_of_birth": "14/03/1986"}, "date_of_birth"),
        ({"date_of_birth": "2090-01-01"}, "date_of_birth"),
        ({"date_of_birth": "1850-01-01"}, "date_of_birth"),
        ({"ssn": "123-45-6789"}, "ssn"),
        ({"sex": "f"}, "sex"),
        ({"sex": 1}, "sex"),
        ({"sms_opt_in_at": "2026-12-01T09:00:00-05:00"}, "sms_opt_in_at"),
        ({"given_name": "Jor\u0000dan"}, "given_name"),
        ({"family_name": "Hale\u001b[2J"}, "family_name"),
        ({"given_name": "J" * 100_000}, "given_name"),
        ({"given_name": "   "}, "given_name"),
        ({"email": "x" * 300 + "@mail.test"}, "email"),
        ({"email": "jordan at mail"}, "email"),
        ({"time_zone": "Mars/Olympus_Mons"}, "time_zone"),
        ({"preferred_reminder_channel": "fax"}, "preferred_reminder_channel"),
        ({"preferred_reminder_channel": "sms"}, "preferred_reminder_channel"),
        ({"preferred_reminder_channel": "email", "email": None}, "preferred_reminder_channel"),
        ({"sms_opt_in": "yes"}, "sms_opt_in"),
        ({"sms_opt_in": 1}, "sms_opt_in"),
        ({"care_team": ["not-a-uuid"]}, "care_team.0"),
        ({"care_team": [str(uuid.uuid4())]}, "care_team.0"),
        ({"clinic_id": "clinic-1"}, "clinic_id"),
        ({"given_name": ...}, "given_name"),
    ],
)
def test_invalid_registrations_are_problem_json_naming_the_field(
    client, team, headers_of, patient_body, overrides, field
):
    body = patient_body(team.clinic, **overrides)
    response = client.post(BASE, json=body, headers=headers_of(team.front_desk))
    problem = assert_problem(response, 422, field)
    assert problem["type"].startswith("urn:kapt:problem:")
    assert field in problem["detail"]


@pytest.mark.parametrize(
    ("clinical", "field"),
    [
        ({"weight_kg": 1000}, "clinical.weight_kg"),
        ({"weight_kg": 3}, "clinical.weight_kg"),
        ({"weight_kg": "72.5"}, "clinical.weight_kg"),
        ({"weight_kg": True}, "clinical.weight_kg"),
        ({"weight_kg": 68.25}, "clinical.weight_kg"),
        ({"allergies": "latex\ud800"}, "clinical.allergies"),
        ({"clinical_notes": "n" * 10_001}, "clinical.clinical_notes"),
        ({"allergies": "latex\u0000"}, "clinical.allergies"),
        ({"rems_enrolled_on": "2026-11-20T10:00:00"}, "clinical.rems_enrolled_on"),
        ({"rems_enrolled": False, "rems_enrolled_on": "2026-11-20"}, "clinical.rems_enrolled_on"),
        ({"blood_type": "O+"}, "clinical.blood_type"),
    ],
)
def test_invalid_clinical_changes_are_problem_json_naming_the_field(
    client, team, headers_of, make_patient, frozen_now, clinical, field
):
    patient = make_patient(team.clinic, care_team=[team.nurse])
    headers = headers_of(team.nurse)
    response = patch_seen(client, patient, headers, {"clinical": clinical})
    assert_problem(response, 422, field)


def test_a_body_over_the_size_limit_is_413(client, team, headers_of, patient_body):
    body = patient_body(team.clinic, family_name="x" * (300 * 1024))
    response = client.post(BASE, json=body, headers=headers_of(team.front_desk))
    assert_problem(response, 413)


def test_malformed_json_is_400(client, team, headers_of):
    response = client.post(
        BASE,
        data='{"given_name": "Jordan",',
        content_type="application/json",
        headers=headers_of(team.front_desk),
    )
    assert_problem(response, 400)


# --- reading ---------------------------------------------------------------------------


def test_another_clinics_patient_is_404_for_staff_and_visible_to_admins(
    client, team, other_team, headers_of, make_patient
):
    theirs = make_patient(other_team.clinic)
    assert_problem(client.get(url(theirs), headers=headers_of(team.front_desk)), 404)
    assert client.get(url(theirs), headers=headers_of(team.admin)).status_code == 200


def test_unknown_and_malformed_ids_are_404(client, team, headers_of):
    headers = headers_of(team.front_desk)
    assert_problem(client.get(url(uuid.uuid4()), headers=headers), 404)
    assert client.get(f"{BASE}/12345", headers=headers).status_code == 404


def test_without_a_token_nothing_is_shown(client, team, make_patient):
    patient = make_patient(team.clinic)
    assert_problem(client.get(url(patient)), 401)
    assert_problem(client.get(BASE), 401)
    assert_problem(client.patch(url(patient), json={"phone": None}), 401)


def test_the_list_is_paginated(client, team, headers_of, make_patient):
    for name in ("Ames", "Bell", "Cole"):
        make_patient(team.clinic, family_name=name)
    response = client.get(f"{BASE}?page=2&page_size=2", headers=headers_of(team.front_desk))
    assert [p["family_name"] for p in response.get_json()] == ["Cole"]
    pagination = json.loads(response.headers["X-Pagination"])
    assert (pagination["total"], pagination["page"], pagination["total_pages"]) == (3, 2, 2)
    # The same, readable without parsing JSON: the count, and the other pages (RFC 8288).
    assert response.headers["X-Total-Count"] == "3"
    assert response.headers["Link"] == (
        f'<{BASE}?page=1&page_size=2>; rel="first", <{BASE}?page=1&page_size=2>; rel="prev", '
        f'<{BASE}?page=2&page_size=2>; rel="last"'
    )
    first = client.get(f"{BASE}?q=e&page_size=2", headers=headers_of(team.front_desk))
    assert first.headers["Link"] == (
        f'<{BASE}?q=e&page=1&page_size=2>; rel="first", <{BASE}?q=e&page=2&page_size=2>; '
        f'rel="next", <{BASE}?q=e&page=2&page_size=2>; rel="last"'
    )
    too_big = client.get(f"{BASE}?page_size=101", headers=headers_of(team.front_desk))
    assert_problem(too_big, 422, "page_size")


def test_list_filters_come_from_the_query(client, team, headers_of, make_patient):
    make_patient(team.clinic, given_name="Avery", family_name="Quill", care_team=[team.nurse])
    make_patient(team.clinic, given_name="Blake", family_name="Oakes", active=False)
    headers = headers_of(team.front_desk)

    def family_names(query):
        return [p["family_name"] for p in client.get(f"{BASE}?{query}", headers=headers).json]

    assert family_names("q=QUI") == ["Quill"]
    assert family_names(f"care_team_staff_id={team.nurse.id}") == ["Quill"]
    assert family_names("active=false") == ["Oakes"]
    assert_problem(client.get(f"{BASE}?clinic_id=nope", headers=headers), 422, "clinic_id")
    assert_problem(client.get(f"{BASE}?q=%00", headers=headers), 422, "q")


# --- changing: ETags -------------------------------------------------------------------


def test_a_change_without_if_match_is_428(client, team, headers_of, make_patient):
    patient = make_patient(team.clinic)
    response = client.patch(url(patient), json={"phone": None}, headers=headers_of(team.admin))
    assert_problem(response, 428)


def test_a_change_based_on_a_stale_version_is_412_and_changes_nothing(
    client, team, headers_of, make_patient
):
    patient = make_patient(team.clinic)
    headers = headers_of(team.front_desk)
    seen = get_etag(client, patient, headers)
    first = patch_with(client, patient, headers, {"phone": "+15555550111"}, seen)
    assert first.status_code == 200
    assert first.headers["ETag"] != seen
    second = patch_with(client, patient, headers, {"phone": "+15555550222"}, seen)
    assert_problem(second, 412)
    assert client.get(url(patient), headers=headers).get_json()["phone"] == "+15555550111"


def test_the_etag_after_a_change_is_the_one_a_read_gives(client, team, headers_of, make_patient):
    patient = make_patient(team.clinic)
    headers = headers_of(team.front_desk)
    changed = patch_seen(client, patient, headers, {"given_name": "Ava"})
    assert changed.headers["ETag"] == get_etag(client, patient, headers)
    not_modified = client.get(
        url(patient), headers={**headers, "If-None-Match": changed.headers["ETag"]}
    )
    assert not_modified.status_code == 304


def test_etags_follow_what_each_caller_sees(client, team, headers_of, make_patient):
    patient = make_patient(team.clinic, care_team=[team.nurse])
    desk, nurse = headers_of(team.front_desk), headers_of(team.nurse)
    desk_etag, nurse_etag = get_etag(client, patient, desk), get_etag(client, patient, nurse)
    assert desk_etag != nurse_etag

    # A clinical change is invisible to the front desk: their version is still current.
    clinical = patch_with(client, patient, nurse, {"clinical": {"allergies": "latex"}}, nurse_etag)
    assert clinical.status_code == 200
    assert get_etag(client, patient, desk) == desk_etag
    contact = patch_with(client, patient, desk, {"phone": "+15555550111"}, desk_etag)
    assert contact.status_code == 200

    # The nurse sees the new phone number, so their last version is stale.
    stale = patch_with(
        client, patient, nurse, {"clinical": {"allergies": "none known"}}, clinical.headers["ETag"]
    )
    assert_problem(stale, 412)
    # Nor does one caller's ETag stand for another's view.
    borrowed = patch_with(
        client, patient, nurse, {"clinical": {"allergies": "none known"}}, contact.headers["ETag"]
    )
    assert_problem(borrowed, 412)


# --- changing: who changes what --------------------------------------------------------


def test_front_desk_changes_contact_channel_consent_and_care_team(
    client, team, headers_of, make_patient, frozen_now
):
    patient = make_patient(team.clinic)
    headers = headers_of(team.front_desk)
    response = patch_seen(
        client,
        patient,
        headers,
        {
            "email": "New.Address@Mail.test",
            "preferred_reminder_channel": "sms",
            "sms_opt_in": True,
            "care_team": [str(team.therapist.id), str(team.prescriber.id)],
            "time_zone": "America/Chicago",
        },
    )
    assert response.status_code == 200, response.json
    body = response.get_json()
    assert body["email"] == "new.address@mail.test"
    assert body["preferred_reminder_channel"] == "sms"
    assert body["sms_opt_in_at"] == NOON.isoformat()
    assert sorted(body["care_team"]) == sorted([str(team.therapist.id), str(team.prescriber.id)])
    assert body["time_zone"] == "America/Chicago"
    assert "clinical" not in body


def test_a_care_team_therapist_changes_clinical_fields_and_sees_them(
    client, team, headers_of, make_patient
):
    patient = make_patient(team.clinic, care_team=[team.therapist])
    headers = headers_of(team.therapist)
    response = patch_seen(
        client,
        patient,
        headers,
        {"clinical": {"clinical_notes": "integration going well", "weight_kg": 68.2}},
    )
    assert response.status_code == 200
    clinical = response.get_json()["clinical"]
    assert clinical["clinical_notes"] == "integration going well"
    assert clinical["weight_kg"] == 68.2
    assert clinical["allergies"] == "penicillin"


def test_a_clinician_sending_contact_fields_is_403_naming_the_rule(
    client, team, headers_of, make_patient
):
    patient = make_patient(team.clinic, care_team=[team.prescriber])
    headers = headers_of(team.prescriber)
    response = patch_seen(
        client, patient, headers, {"phone": "+15555550111", "clinical": {"allergies": "latex"}}
    )
    problem = assert_problem(response, 403)
    assert [v["rule"] for v in problem["violations"]] == ["contact_fields_front_desk_or_admin"]
    assert client.get(url(patient), headers=headers).json["clinical"]["allergies"] == "penicillin"


def test_consent_stamps_are_set_by_the_server_as_time_passes(
    client, team, headers_of, patient_body
):
    headers = headers_of(team.front_desk)
    clock.freeze(datetime(2026, 3, 1, 14, 0, tzinfo=UTC))
    created = client.post(
        BASE,
        json=patient_body(team.clinic, sms_opt_in=True, preferred_reminder_channel="sms"),
        headers=headers,
    )
    body = created.get_json()
    assert (body["sms_opt_in_at"], body["sms_opt_out_at"]) == ("2026-03-01T14:00:00+00:00", None)

    clock.freeze(datetime(2026, 4, 2, 9, 30, tzinfo=UTC))
    withdrawn = client.patch(
        created.headers["Location"],
        json={"sms_opt_in": False},
        headers={**headers, "If-Match": created.headers["ETag"]},
    ).get_json()
    assert withdrawn["sms_opt_in"] is False
    assert withdrawn["sms_opt_in_at"] == "2026-03-01T14:00:00+00:00"
    assert withdrawn["sms_opt_out_at"] == "2026-04-02T09:30:00+00:00"
    assert withdrawn["preferred_reminder_channel"] == "email"


def test_clients_cannot_set_consent_stamps(client, team, headers_of, make_patient):
    patient = make_patient(team.clinic)
    headers = headers_of(team.front_desk)
    response = patch_seen(
        client, patient, headers, {"sms_opt_in": True, "sms_opt_in_at": "2020-01-01T00:00:00+00:00"}
    )
    assert_problem(response, 422, "sms_opt_in_at")


def test_the_clinic_of_a_patient_is_not_changed_by_patch(
    client, team, other_team, headers_of, make_patient
):
    patient = make_patient(team.clinic)
    headers = headers_of(team.admin)
    response = patch_seen(client, patient, headers, {"clinic_id": str(other_team.clinic.id)})
    assert_problem(response, 422, "clinic_id")


# --- the audit trail, as an administrator reads it ------------------------------------


def audit_events(client, admin_headers, **query):
    response = client.get("/api/v1/audit-events", query_string=query, headers=admin_headers)
    assert response.status_code == 200
    return response.get_json()


def test_reads_creates_and_updates_are_in_the_audit_log(
    client, team, headers_of, patient_body, admin_headers
):
    headers = headers_of(team.front_desk)
    created = client.post(BASE, json=patient_body(team.clinic), headers=headers)
    patient_id = created.get_json()["id"]
    read = client.get(created.headers["Location"], headers=headers)
    client.patch(
        created.headers["Location"],
        json={"phone": None},
        headers={**headers, "If-Match": read.headers["ETag"]},
    )
    events = audit_events(client, admin_headers, patient_id=patient_id)
    assert [(e["action"], e["outcome"]) for e in reversed(events)] == [
        ("create", "success"),
        ("read", "success"),
        ("update", "success"),
    ]
    assert {e["actor_id"] for e in events} == {str(team.front_desk.user_id)}
    assert all(e["resource_type"] == "patient" and e["resource_id"] == patient_id for e in events)
    assert all(e["request_id"] for e in events)


def test_each_listed_patient_is_in_the_audit_log(
    client, team, headers_of, make_patient, admin_headers
):
    shown = [make_patient(team.clinic, family_name=name) for name in ("Ames", "Bell", "Cole")]
    client.get(f"{BASE}?page_size=2", headers=headers_of(team.nurse))
    events = audit_events(client, admin_headers, action="list")
    assert sorted(e["patient_id"] for e in events) == sorted(str(p.id) for p in shown[:2])


def test_denied_attempts_are_in_the_audit_log_as_denied(
    client, team, other_team, headers_of, make_patient, admin_headers
):
    theirs = make_patient(other_team.clinic)
    ours = make_patient(team.clinic)
    desk = headers_of(team.front_desk)
    assert client.get(url(theirs), headers=desk).status_code == 404
    forbidden = patch_seen(client, ours, desk, {"clinical": {"allergies": "latex"}})
    assert forbidden.status_code == 403

    denied = audit_events(client, admin_headers, outcome="denied")
    assert {(e["action"], e["patient_id"]) for e in denied} == {
        ("read", str(theirs.id)),
        ("update", str(ours.id)),
    }
    assert {e["actor_id"] for e in denied} == {str(team.front_desk.user_id)}


def test_refused_changes_are_in_the_audit_log_as_refused(
    client, team, headers_of, make_patient, admin_headers
):
    patient = make_patient(team.clinic)
    headers = headers_of(team.front_desk)
    etag = get_etag(client, patient, headers)
    bad = patch_with(client, patient, headers, {"date_of_birth": "2099-01-01"}, etag)
    assert bad.status_code == 422
    stale = patch_with(client, patient, headers, {"phone": None}, '"x"')
    assert stale.status_code == 412
    events = audit_events(client, admin_headers, patient_id=str(patient.id), action="update")
    assert [e["outcome"] for e in events] == ["refused", "refused"]
