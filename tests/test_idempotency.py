"""Idempotency-Key: a front end that retries a creating POST gets the first answer again,
never a second patient or booking."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from flask import jsonify, make_response, request
from sqlalchemy import func, select

from kapt_api import clock
from kapt_api.auth.identity import current_user, requires
from kapt_api.auth.models import Role, User
from kapt_api.db import db
from kapt_api.errors import PROBLEM_MIMETYPE
from kapt_api.idempotency import (
    IN_PROGRESS_LEASE,
    IdempotencyRecord,
    _canonical,
    idempotent,
    purge_expired,
)
from kapt_api.patients.models import Patient
from tests.conftest import test_overrides as overrides_for
from tests.separate_app import separate_app

PATIENTS = "/api/v1/patients"
HEADER_FIELD = "header:Idempotency-Key"
CLAIMED = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def _records() -> int:
    return db.session.scalar(select(func.count()).select_from(IdempotencyRecord))


def _patients(family_name: str) -> int:
    stmt = select(func.count()).select_from(Patient).where(Patient.family_name == family_name)
    return db.session.scalar(stmt)


@pytest.fixture
def desk(make_clinic, make_staff, auth_headers):
    """Two front-desk users of one clinic, and a patient body for it."""
    clinic = make_clinic()
    first, second = (
        db.session.get(User, make_staff(clinic, Role.FRONT_DESK).user_id) for _ in range(2)
    )
    db.session.commit()

    def body(family_name: str = "Okonkwo-Lind", **overrides) -> dict:
        return {
            "clinic_id": str(clinic.id),
            "given_name": "Rue",
            "family_name": family_name,
            "date_of_birth": "1990-07-01",
            **overrides,
        }

    def headers(user=first, key: str | None = None) -> dict[str, str]:
        extra = {"Idempotency-Key": key} if key is not None else {}
        return {**auth_headers(user), **extra}

    return type("Desk", (), {"first": first, "second": second, "body": body, "headers": headers})


# --- on the real patient registration -------------------------------------------------------


def test_a_retry_with_the_same_key_gets_the_first_answer_again(client, desk):
    key = str(uuid.uuid4())

    first = client.post(PATIENTS, json=desk.body(), headers=desk.headers(key=key))
    again = client.post(PATIENTS, json=desk.body(), headers=desk.headers(key=key))

    assert first.status_code == 201, first.get_data(as_text=True)
    assert "Idempotent-Replayed" not in first.headers
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["ETag"] == first.headers["ETag"]
    assert _patients("Okonkwo-Lind") == 1


def test_without_a_key_each_post_creates(client, desk):
    for given_name in ("Rue", "Ray"):
        response = client.post(
            PATIENTS, json=desk.body(given_name=given_name), headers=desk.headers()
        )
        assert response.status_code == 201
        assert "Idempotent-Replayed" not in response.headers

    assert _patients("Okonkwo-Lind") == 2
    assert _records() == 0


def test_the_same_key_with_another_body_is_refused_naming_the_header(client, desk):
    key = "retry-7f3a"
    client.post(PATIENTS, json=desk.body(), headers=desk.headers(key=key))

    response = client.post(PATIENTS, json=desk.body("Other"), headers=desk.headers(key=key))

    assert response.status_code == 422
    assert response.mimetype == PROBLEM_MIMETYPE
    assert list(response.get_json()["errors"]) == [HEADER_FIELD]
    assert _patients("Other") == 0


def _post_text(client, desk, key: str, text: str):
    return client.post(
        PATIENTS, data=text, content_type="application/json", headers=desk.headers(key=key)
    )


@pytest.mark.parametrize(
    "retry",
    [
        lambda body: json.dumps(dict(reversed(list(body.items())))),
        lambda body: json.dumps(body, indent=4),
        lambda body: json.dumps(body, separators=(",", ":"), sort_keys=True),
        lambda body: json.dumps({**body, "sms_opt_in": False}).replace("false", "false "),
        lambda body: json.dumps(body, ensure_ascii=False).replace("Rue", "\\u0052ue"),
    ],
    ids=["key-order", "indented", "compact", "spaces-inside", "escaped-letter"],
)
def test_the_same_json_written_another_way_is_the_same_request(client, desk, retry):
    body = desk.body(sms_opt_in=False)
    key = f"same-meaning-{uuid.uuid4().hex[:8]}"

    first = _post_text(client, desk, key, json.dumps(body))
    again = _post_text(client, desk, key, retry(body))

    assert first.status_code == 201, first.get_data(as_text=True)
    assert again.status_code == 201, again.get_data(as_text=True)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert _patients("Okonkwo-Lind") == 1


def test_a_whole_number_written_with_a_decimal_point_is_the_same_request():
    assert _canonical(b'{"n": 5.0, "m": [1.0, 2.5]}') == _canonical(b'{"m":[1,2.5],"n":5}')
    assert _canonical(b'{"n": 5.5}') != _canonical(b'{"n": 5}')


def test_the_same_keys_with_another_value_are_still_another_request(client, desk):
    key = "same-keys-other-value"
    _post_text(client, desk, key, json.dumps(desk.body(sms_opt_in=False)))

    response = _post_text(client, desk, key, json.dumps(desk.body(sms_opt_in=True)))

    assert response.status_code == 422
    assert list(response.get_json()["errors"]) == [HEADER_FIELD]


def test_a_record_fingerprinted_by_its_bytes_still_replays_the_same_bytes(client, desk):
    key = "from-before-meaning"
    text = json.dumps(desk.body())
    first = _post_text(client, desk, key, text)
    record = db.session.scalar(select(IdempotencyRecord).where(IdempotencyRecord.key == key))
    digest = hashlib.sha256(b"POST" + PATIENTS.encode() + text.encode()).hexdigest()
    record.fingerprint = digest  # as it was stored before bodies were compared by meaning
    db.session.commit()

    again = _post_text(client, desk, key, text)

    assert first.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"


def test_a_body_that_is_not_json_is_fingerprinted_as_sent(client, desk):
    key = "not-json"
    refused = _post_text(client, desk, key, '{"given_name": "Rue",')

    assert refused.status_code == 400
    assert _records() == 0
    assert _canonical(b"{not json") == b"{not json"
    assert _canonical(b"[" * 100_000) == b"[" * 100_000


def test_a_failed_first_attempt_releases_the_key(client, desk):
    key = "fix-and-retry-1"
    refused = client.post(
        PATIENTS, json=desk.body(date_of_birth="not a date"), headers=desk.headers(key=key)
    )

    fixed = client.post(PATIENTS, json=desk.body(), headers=desk.headers(key=key))

    assert refused.status_code == 422
    assert fixed.status_code == 201
    assert "Idempotent-Replayed" not in fixed.headers
    assert _patients("Okonkwo-Lind") == 1


def test_a_key_belongs_to_one_user(client, desk):
    key = "shared-key-0001"
    mine = client.post(PATIENTS, json=desk.body("Mine"), headers=desk.headers(desk.first, key))

    theirs = client.post(PATIENTS, json=desk.body("Theirs"), headers=desk.headers(desk.second, key))
    same_from_them = client.post(
        PATIENTS, json=desk.body("Mine"), headers=desk.headers(desk.second, "shared-key-0002")
    )

    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert "Idempotent-Replayed" not in theirs.headers
    assert theirs.get_json()["id"] != mine.get_json()["id"]
    assert same_from_them.get_json()["id"] != mine.get_json()["id"]


def test_the_key_holds_across_login_sessions_of_the_same_user(client, desk):
    key = "one-user-two-tokens"
    first = client.post(PATIENTS, json=desk.body(), headers=desk.headers(key=key))

    again = client.post(PATIENTS, json=desk.body(), headers=desk.headers(key=key))

    assert desk.headers(key=key)["Authorization"] != desk.headers(key=key)["Authorization"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json()["id"] == first.get_json()["id"]


@pytest.mark.parametrize("key", ["", "has space", "x" * 256, "tab\tkey"])
def test_a_malformed_key_is_refused(client, desk, key):
    response = client.post(PATIENTS, json=desk.body(), headers=desk.headers(key=key))

    assert response.status_code == 422
    assert list(response.get_json()["errors"]) == [HEADER_FIELD]
    assert _patients("Okonkwo-Lind") == 0


def test_a_key_without_a_token_is_401(client, desk):
    response = client.post(PATIENTS, json=desk.body(), headers={"Idempotency-Key": "no-token-1"})

    assert response.status_code == 401
    assert _records() == 0


# --- the mechanism, on a test-only route ----------------------------------------------------


@pytest.fixture
def notes_app(database_url):
    """POST /api/v1/test-notes: counts its runs; fails while `failures` holds exceptions."""
    runs: list[dict] = []
    failures: list[Exception] = []

    @idempotent
    @requires()
    def create_note():
        if failures:
            raise failures.pop(0)
        runs.append(request.get_json())
        body = {"id": str(uuid.uuid4()), "run": len(runs), "by": str(current_user().id)}
        return make_response(jsonify(body), 201, {"Location": f"/notes/{len(runs)}"})

    with separate_app(overrides_for(database_url)) as application:
        application.add_url_rule("/api/v1/test-notes", view_func=create_note, methods=["POST"])
        application.runs, application.failures = runs, failures
        yield application


def test_a_replay_does_not_run_the_view_again(notes_app, admin_headers):
    client = notes_app.test_client()
    headers = {**admin_headers, "Idempotency-Key": "note-1"}

    answers = [
        client.post("/api/v1/test-notes", json={"text": "a"}, headers=headers) for _ in range(3)
    ]

    assert len(notes_app.runs) == 1
    assert {a.get_json()["run"] for a in answers} == {1}
    assert [a.headers.get("Idempotent-Replayed") for a in answers] == [None, "true", "true"]
    assert {a.headers["Location"] for a in answers} == {"/notes/1"}
    assert {a.mimetype for a in answers} == {"application/json"}


def test_a_crash_releases_the_key_so_the_retry_runs(notes_app, admin_headers):
    client = notes_app.test_client()
    headers = {**admin_headers, "Idempotency-Key": "note-crash"}
    notes_app.failures.append(RuntimeError("lost the connection"))

    crashed = client.post("/api/v1/test-notes", json={"text": "a"}, headers=headers)
    assert _records() == 0
    retried = client.post("/api/v1/test-notes", json={"text": "a"}, headers=headers)

    assert crashed.status_code == 500
    assert retried.status_code == 201
    assert "Idempotent-Replayed" not in retried.headers
    assert len(notes_app.runs) == 1


@pytest.fixture
def claim_left_behind(notes_app, admin, admin_headers):
    """A claim on key "left" for the same request, as a worker killed mid-request leaves it;
    returns a function posting that request with the key."""
    client = notes_app.test_client()

    def post(key: str):
        headers = {**admin_headers, "Idempotency-Key": key}
        return client.post("/api/v1/test-notes", json={"text": "a"}, headers=headers)

    post("model")
    model = db.session.scalar(select(IdempotencyRecord).where(IdempotencyRecord.key == "model"))
    db.session.add(
        IdempotencyRecord(
            user_id=admin.id, key="left", fingerprint=model.fingerprint, created_at=CLAIMED
        )
    )
    db.session.commit()
    notes_app.runs.clear()
    return post


def test_a_request_still_running_with_the_key_gets_409(notes_app, claim_left_behind):
    clock.freeze(CLAIMED + IN_PROGRESS_LEASE)

    response = claim_left_behind("left")

    assert response.status_code == 409
    assert response.get_json()["code"] == "idempotency_in_progress"
    assert notes_app.runs == []


def test_a_claim_abandoned_past_the_lease_is_taken_over_by_the_retry(notes_app, claim_left_behind):
    clock.freeze(CLAIMED + IN_PROGRESS_LEASE + timedelta(seconds=1))

    retried = claim_left_behind("left")
    replayed = claim_left_behind("left")

    assert retried.status_code == 201
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert len(notes_app.runs) == 1


def test_keys_older_than_a_day_are_forgotten(admin):
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    for key, age in (("old", timedelta(hours=25)), ("recent", timedelta(hours=23))):
        db.session.add(
            IdempotencyRecord(user_id=admin.id, key=key, fingerprint="f", created_at=now - age)
        )
    db.session.flush()

    assert purge_expired(now=now) == 1

    assert list(db.session.scalars(select(IdempotencyRecord.key))) == ["recent"]


def test_the_openapi_document_offers_the_header_on_creating_posts(client):
    operation = client.get("/openapi.json").get_json()["paths"][PATIENTS]["post"]

    assert "Idempotency-Key" in {p["name"] for p in operation["parameters"]}
    assert "409" in operation["responses"]
