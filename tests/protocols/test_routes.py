"""The protocols HTTP contract: status codes, problem+json naming fields, ETags, 409s
that point to a new draft, and who may read or write."""

from __future__ import annotations

import pytest

from tests.protocols.conftest import API, PROBLEM


def _create(client, headers, definition_json, **extra):
    body = {
        "name": "Clinic IM KAP",
        "medication": "racemic_ketamine",
        "route": "intramuscular",
        "definition": definition_json,
        **extra,
    }
    return client.post(f"{API}/protocols", json=body, headers=headers)


@pytest.fixture
def draft(client, admin_headers, definition_json):
    created = _create(client, admin_headers, definition_json)
    assert created.status_code == 201, created.json
    return created.json


@pytest.fixture
def published(client, admin_headers, draft):
    version_id = draft["versions"][0]["id"]
    answer = client.post(f"{API}/protocol-versions/{version_id}/publish", headers=admin_headers)
    assert answer.status_code == 200, answer.json
    return answer.json


def _etag(client, headers, path):
    answer = client.get(path, headers=headers)
    assert answer.status_code == 200, answer.json
    return answer.headers["ETag"]


# --- creating -------------------------------------------------------------------------------


def test_an_admin_creates_a_protocol_with_a_draft_version(client, admin_headers, definition_json):
    answer = _create(client, admin_headers, definition_json, description="Our IM programme")
    assert answer.status_code == 201
    body = answer.json
    assert answer.headers["Location"].endswith(f"/protocols/{body['id']}")
    assert (body["medication"], body["route"], body["clinic_id"]) == (
        "racemic_ketamine",
        "intramuscular",
        None,
    )
    assert [(v["number"], v["status"]) for v in body["versions"]] == [(1, "draft")]
    assert body["current_version_id"] is None


def test_only_admins_create_protocols(client, therapist_headers, definition_json):
    answer = _create(client, therapist_headers, definition_json)
    assert answer.status_code == 403
    assert answer.mimetype == PROBLEM


def test_creating_needs_a_token(client, definition_json):
    assert _create(client, {}, definition_json).status_code == 401


def test_a_definition_that_makes_no_sense_is_refused_naming_every_field(
    client, admin_headers, definition_json
):
    definition_json["sequencing"]["integration_window_hours"] = {"start": 72, "end": 24}
    definition_json["session_types"].append(dict(definition_json["session_types"][1]))
    definition_json["checklist"]["thresholds"][2].update(low=200, high=100)
    definition_json["checklist"]["timepoints"][1]["offset_minutes"] = 150
    answer = _create(client, admin_headers, definition_json)
    assert answer.status_code == 422
    assert answer.mimetype == PROBLEM
    assert {
        "definition.sequencing.integration_window_hours.end",
        "definition.session_types.4.kind",
        "definition.checklist.thresholds.2.low",
        "definition.checklist.timepoints.1.offset_minutes",
    } <= set(answer.json["errors"])


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda d: d["sequencing"].update(dose_count=0), "definition.sequencing.dose_count"),
        (
            lambda d: d["checklist"]["thresholds"][0].update(measurement="glucose"),
            "definition.checklist.thresholds.0.measurement",
        ),
        (lambda d: d["sequencing"].update(colour="blue"), "definition.sequencing.colour"),
        (
            lambda d: d["session_types"][0].update(duration_minutes="90"),
            "definition.session_types.0.duration_minutes",
        ),
    ],
)
def test_malformed_fields_are_named(client, admin_headers, definition_json, edit, field):
    edit(definition_json)
    answer = _create(client, admin_headers, definition_json)
    assert answer.status_code == 422
    assert field in answer.json["errors"]


def test_esketamine_only_as_a_nasal_spray(client, admin_headers, definition_json):
    answer = _create(client, admin_headers, definition_json, medication="esketamine")
    assert answer.status_code == 422
    assert "route" in answer.json["errors"]


def test_a_taken_name_conflicts(client, admin_headers, definition_json, draft):
    answer = _create(client, admin_headers, definition_json)
    assert answer.status_code == 409
    assert answer.json["code"] == "protocol_name_taken"


def test_a_retried_create_with_the_same_key_answers_the_first_result(
    client, admin_headers, definition_json
):
    headers = {**admin_headers, "Idempotency-Key": "create-protocol-1"}
    first = _create(client, headers, definition_json)
    again = _create(client, headers, definition_json)
    assert first.status_code == again.status_code == 201
    assert again.json["id"] == first.json["id"]
    assert again.headers["Idempotent-Replayed"] == "true"


# --- reading --------------------------------------------------------------------------------


def test_staff_read_published_versions_and_never_drafts(
    client, admin_headers, therapist_headers, published, draft
):
    protocol_id = draft["id"]
    assert client.get(f"{API}/protocols", headers=therapist_headers).json[0]["id"] == protocol_id
    version = client.get(f"{API}/protocol-versions/{published['id']}", headers=therapist_headers)
    assert version.status_code == 200
    assert version.json["definition"]["checklist"]["min_monitoring_minutes"] == 120
    new_draft = client.post(f"{API}/protocols/{protocol_id}/versions", headers=admin_headers)
    assert new_draft.status_code == 201
    as_staff = client.get(f"{API}/protocols/{protocol_id}", headers=therapist_headers).json
    assert [v["status"] for v in as_staff["versions"]] == ["published"]
    as_admin = client.get(f"{API}/protocols/{protocol_id}", headers=admin_headers).json
    assert [v["status"] for v in as_admin["versions"]] == ["published", "draft"]
    hidden = client.get(
        f"{API}/protocol-versions/{new_draft.json['id']}", headers=therapist_headers
    )
    assert hidden.status_code == 404
    assert hidden.mimetype == PROBLEM


def test_a_protocol_with_nothing_published_is_not_found_by_staff(client, therapist_headers, draft):
    assert (
        client.get(f"{API}/protocols/{draft['id']}", headers=therapist_headers).status_code == 404
    )
    assert client.get(f"{API}/protocols", headers=therapist_headers).json == []


def test_another_clinics_protocol_is_not_found(
    client, admin_headers, therapist_headers, definition_json, other_clinic
):
    created = _create(client, admin_headers, definition_json, clinic_id=str(other_clinic.id))
    version_id = created.json["versions"][0]["id"]
    client.post(f"{API}/protocol-versions/{version_id}/publish", headers=admin_headers)
    answer = client.get(f"{API}/protocols/{created.json['id']}", headers=therapist_headers)
    assert answer.status_code == 404


def test_the_list_is_paginated_and_filtered(client, admin_headers, draft):
    answer = client.get(
        f"{API}/protocols?medication=racemic_ketamine&page_size=1", headers=admin_headers
    )
    assert answer.status_code == 200
    assert "X-Pagination" in answer.headers
    assert [p["id"] for p in answer.json] == [draft["id"]]
    none = client.get(f"{API}/protocols?medication=esketamine", headers=admin_headers)
    assert none.json == []
    assert client.get(f"{API}/protocols?route=rectal", headers=admin_headers).status_code == 422


def test_an_unknown_protocol_is_not_found(client, admin_headers):
    missing = "00000000-0000-4000-8000-000000000000"
    assert client.get(f"{API}/protocols/{missing}", headers=admin_headers).status_code == 404
    assert (
        client.get(f"{API}/protocol-versions/{missing}", headers=admin_headers).status_code == 404
    )


# --- editing a draft ------------------------------------------------------------------------


def test_a_draft_is_edited_with_if_match(client, admin_headers, draft, definition_json):
    path = f"{API}/protocol-versions/{draft['versions'][0]['id']}"
    etag = _etag(client, admin_headers, path)
    sequencing = {**definition_json["sequencing"], "min_hours_between_doses": 72}
    changes = {"sequencing": sequencing, "notes": "3 days between doses"}
    assert client.patch(path, json=changes, headers=admin_headers).status_code == 428
    stale = client.patch(path, json=changes, headers={**admin_headers, "If-Match": '"stale"'})
    assert stale.status_code == 412
    answer = client.patch(path, json=changes, headers={**admin_headers, "If-Match": etag})
    assert answer.status_code == 200
    assert answer.json["definition"]["sequencing"]["min_hours_between_doses"] == 72
    assert answer.json["notes"] == "3 days between doses"
    assert answer.headers["ETag"] != etag
    assert _etag(client, admin_headers, path) == answer.headers["ETag"]


def test_an_edit_that_makes_no_sense_names_its_field(client, admin_headers, draft, definition_json):
    path = f"{API}/protocol-versions/{draft['versions'][0]['id']}"
    checklist = definition_json["checklist"]
    checklist["thresholds"][0].update(low=120, high=100)
    answer = client.patch(
        path,
        json={"checklist": checklist},
        headers={**admin_headers, "If-Match": _etag(client, admin_headers, path)},
    )
    assert answer.status_code == 422
    assert "checklist.thresholds.0.low" in answer.json["errors"]


def test_a_published_version_answers_409_pointing_to_a_new_draft(client, admin_headers, published):
    path = f"{API}/protocol-versions/{published['id']}"
    answer = client.patch(
        path,
        json={"notes": "rewrite history"},
        headers={**admin_headers, "If-Match": _etag(client, admin_headers, path)},
    )
    assert answer.status_code == 409
    assert answer.mimetype == PROBLEM
    assert answer.json["code"] == "version_published"
    new_draft = f"/api/v1/protocols/{published['protocol']['id']}/versions"
    assert new_draft in answer.json["detail"]
    assert new_draft in answer.headers["Link"]
    again = client.post(f"{API}/protocol-versions/{published['id']}/publish", headers=admin_headers)
    assert again.status_code == 409


def test_only_admins_edit_or_publish(client, therapist_headers, admin_headers, draft):
    path = f"{API}/protocol-versions/{draft['versions'][0]['id']}"
    etag = _etag(client, admin_headers, path)
    answer = client.patch(
        path, json={"notes": "x"}, headers={**therapist_headers, "If-Match": etag}
    )
    assert answer.status_code == 403
    assert client.post(f"{path}/publish", headers=therapist_headers).status_code == 403


def test_publishing_answers_the_frozen_version(client, admin_headers, draft):
    version_id = draft["versions"][0]["id"]
    answer = client.post(f"{API}/protocol-versions/{version_id}/publish", headers=admin_headers)
    assert answer.status_code == 200
    assert answer.json["status"] == "published"
    assert answer.json["published_at"] is not None
    protocol = client.get(f"{API}/protocols/{draft['id']}", headers=admin_headers).json
    assert protocol["current_version_id"] == version_id


# --- new drafts -----------------------------------------------------------------------------


def test_a_new_draft_copies_the_latest_version(client, admin_headers, published):
    protocol_id = published["protocol"]["id"]
    answer = client.post(
        f"{API}/protocols/{protocol_id}/versions", json={"notes": "v2"}, headers=admin_headers
    )
    assert answer.status_code == 201
    assert (answer.json["number"], answer.json["status"]) == (2, "draft")
    assert answer.json["based_on_version_id"] == published["id"]
    assert answer.json["definition"] == published["definition"]
    assert answer.headers["Location"].endswith(f"/protocol-versions/{answer.json['id']}")
    second = client.post(f"{API}/protocols/{protocol_id}/versions", headers=admin_headers)
    assert second.status_code == 409
    assert second.json["code"] == "draft_exists"


def test_a_new_draft_from_a_template(client, admin_headers, published):
    protocol_id = published["protocol"]["id"]
    answer = client.post(
        f"{API}/protocols/{protocol_id}/versions",
        json={"template": "im-kap"},
        headers=admin_headers,
    )
    assert answer.status_code == 201
    assert answer.json["template_key"] == "im-kap"
    wrong = client.post(
        f"{API}/protocols/{protocol_id}/versions",
        json={"template": "im-kap", "from_version_id": published["id"]},
        headers=admin_headers,
    )
    assert wrong.status_code == 422


# --- reminder policy ------------------------------------------------------------------------


def test_the_reminder_policy_of_a_draft_is_replaced_with_if_match(
    client, admin_headers, therapist_headers, draft
):
    path = f"{API}/protocol-versions/{draft['versions'][0]['id']}/reminder-policy"
    current = client.get(path, headers=admin_headers)
    assert current.status_code == 200
    policy = current.json
    policy["rules"][2]["offsets_hours"] = [72, 24, 2]
    del policy["rules"][2]["templates"]  # the default wording
    assert client.put(path, json=policy, headers=admin_headers).status_code == 428
    answer = client.put(
        path, json=policy, headers={**admin_headers, "If-Match": current.headers["ETag"]}
    )
    assert answer.status_code == 200
    assert answer.json["rules"][2]["offsets_hours"] == [72, 24, 2]
    assert "STOP" in answer.json["rules"][2]["templates"]["sms_body"]
    assert client.get(path, headers=therapist_headers).status_code == 404  # still a draft


def test_a_reminder_naming_the_treatment_is_refused_naming_the_template(
    client, admin_headers, draft
):
    path = f"{API}/protocol-versions/{draft['versions'][0]['id']}/reminder-policy"
    current = client.get(path, headers=admin_headers)
    policy = current.json
    policy["rules"][2]["templates"]["sms_body"] = (
        "{clinic_name}: your infusion is on {date}. Call {clinic_phone}. Reply STOP to opt out."
    )
    answer = client.put(
        path, json=policy, headers={**admin_headers, "If-Match": current.headers["ETag"]}
    )
    assert answer.status_code == 422
    assert list(answer.json["errors"]) == ["rules.2.templates.sms_body"]


def test_the_reminder_policy_of_a_published_version_answers_409(
    client, admin_headers, therapist_headers, published
):
    path = f"{API}/protocol-versions/{published['id']}/reminder-policy"
    current = client.get(path, headers=therapist_headers)
    assert current.status_code == 200
    answer = client.put(
        path, json=current.json, headers={**admin_headers, "If-Match": current.headers["ETag"]}
    )
    assert answer.status_code == 409
    assert "versions" in answer.headers["Link"]


# --- templates ------------------------------------------------------------------------------


def test_admins_list_the_built_in_templates(client, admin_headers, therapist_headers):
    answer = client.get(f"{API}/protocol-templates", headers=admin_headers)
    assert answer.status_code == 200
    assert [t["name"] for t in answer.json] == [
        "Esketamine nasal spray (REMS) induction",
        "IV racemic ketamine series (6 infusions over 3 weeks)",
        "IM KAP",
        "Sublingual KAP",
    ]
    assert all(t["definition"]["sources"] for t in answer.json)
    assert all("medical director" in t["definition"]["approval_note"] for t in answer.json)
    assert client.get(f"{API}/protocol-templates", headers=therapist_headers).status_code == 403


def test_one_template_or_404(client, admin_headers):
    answer = client.get(
        f"{API}/protocol-templates/esketamine-rems-induction", headers=admin_headers
    )
    assert answer.status_code == 200
    assert answer.json["route"] == "intranasal"
    assert client.get(f"{API}/protocol-templates/nope", headers=admin_headers).status_code == 404


def test_copying_a_template_makes_a_draft_to_approve(client, admin_headers, clinic):
    answer = client.post(
        f"{API}/protocol-templates/sublingual-kap/copy",
        json={"name": "Cedar sublingual KAP", "clinic_id": str(clinic.id)},
        headers=admin_headers,
    )
    assert answer.status_code == 201
    body = answer.json
    assert (body["name"], body["clinic_id"], body["template_key"]) == (
        "Cedar sublingual KAP",
        str(clinic.id),
        "sublingual-kap",
    )
    assert [v["status"] for v in body["versions"]] == ["draft"]
    default_name = client.post(
        f"{API}/protocol-templates/sublingual-kap/copy", json={}, headers=admin_headers
    )
    assert default_name.json["name"] == "Sublingual KAP (copy)"


def test_the_document_lists_the_protocol_operations(client):
    paths = client.get("/openapi.json").json["paths"]
    for path in (
        "/api/v1/protocols",
        "/api/v1/protocols/{protocol_id}",
        "/api/v1/protocols/{protocol_id}/versions",
        "/api/v1/protocol-versions/{version_id}",
        "/api/v1/protocol-versions/{version_id}/publish",
        "/api/v1/protocol-versions/{version_id}/reminder-policy",
        "/api/v1/protocol-templates",
        "/api/v1/protocol-templates/{key}/copy",
    ):
        assert path in paths
    assert "409" in paths["/api/v1/protocol-versions/{version_id}"]["patch"]["responses"]
