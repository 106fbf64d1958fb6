"""The audit log: append-only in the database, readable by admins only."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from flask import jsonify
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from kapt_api.auth import audit
from kapt_api.auth.identity import requires
from kapt_api.auth.models import AuditEvent, Role
from kapt_api.clinics.models import Clinic
from kapt_api.db import db
from kapt_api.errors import PROBLEM_MIMETYPE, Forbidden
from tests.conftest import engine_name
from tests.conftest import test_overrides as overrides_for
from tests.separate_app import separate_app

URL = "/api/v1/audit-events"
START = datetime(2026, 4, 6, 8, 0, tzinfo=UTC)
SECOND_ON_SCREEN = uuid.UUID(int=2)


def _event(minutes: int, **values) -> AuditEvent:
    values.setdefault("actor_id", uuid.uuid4())
    values.setdefault("action", "read")
    values.setdefault("resource_type", "patient")
    values.setdefault("resource_id", str(uuid.uuid4()))
    values.setdefault("outcome", "success")
    event = AuditEvent(occurred_at=START + timedelta(minutes=minutes), **values)
    db.session.add(event)
    db.session.flush()
    return event


# --- append-only ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    ["UPDATE audit_events SET action = 'tampered'", "DELETE FROM audit_events"],
)
def test_the_database_refuses_to_change_or_remove_an_audit_event(statement):
    _event(0, action="read")

    with pytest.raises(DBAPIError) as refused, db.session.begin_nested():
        db.session.execute(text(statement))

    assert "append-only" in str(refused.value)
    assert db.session.scalar(select(AuditEvent.action)) == "read"


def test_audit_events_can_still_be_added():
    _event(0)
    _event(1)

    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == 2


# --- GET /audit-events ----------------------------------------------------------------------


@pytest.fixture
def history():
    nurse, prescriber = uuid.uuid4(), uuid.uuid4()
    patient = uuid.uuid4()
    events = {
        "nurse_read": _event(0, actor_id=nurse, patient_id=patient),
        "nurse_update": _event(10, actor_id=nurse, patient_id=patient, action="update"),
        "prescriber_read": _event(20, actor_id=prescriber, patient_id=patient),
        "prescriber_denied": _event(
            30, actor_id=prescriber, resource_type="appointment", outcome="denied"
        ),
        "other_patient": _event(40, actor_id=nurse, patient_id=uuid.uuid4(), action="create"),
    }
    return {"nurse": nurse, "prescriber": prescriber, "patient": patient, **events}


def _ids(response):
    assert response.status_code == 200, response.get_data(as_text=True)
    return [item["id"] for item in response.get_json()]


def test_admins_read_the_audit_log_newest_first(client, admin_headers, history):
    response = client.get(URL, headers=admin_headers)

    assert _ids(response) == [
        str(history[name].id)
        for name in (
            "other_patient",
            "prescriber_denied",
            "prescriber_read",
            "nurse_update",
            "nurse_read",
        )
    ]
    first = response.get_json()[0]
    assert first["occurred_at"] == "2026-04-06T08:40:00+00:00"
    assert first["action"] == "create"
    assert first["outcome"] == "success"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (lambda h: {"actor_id": h["prescriber"]}, ["prescriber_denied", "prescriber_read"]),
        (lambda h: {"patient_id": h["patient"]}, ["prescriber_read", "nurse_update", "nurse_read"]),
        (lambda h: {"resource_type": "appointment"}, ["prescriber_denied"]),
        (lambda h: {"action": "update"}, ["nurse_update"]),
        (lambda h: {"outcome": "denied"}, ["prescriber_denied"]),
        (
            lambda h: {"from": "2026-04-06T04:10:00-04:00", "to": "2026-04-06T08:30:00Z"},
            ["prescriber_read", "nurse_update"],
        ),
        (
            lambda h: {"actor_id": h["nurse"], "patient_id": h["patient"], "action": "read"},
            ["nurse_read"],
        ),
    ],
)
def test_the_audit_log_filters(client, admin_headers, history, query, expected):
    response = client.get(URL, headers=admin_headers, query_string=query(history))

    assert _ids(response) == [str(history[name].id) for name in expected]


def test_the_audit_log_is_paginated(client, admin_headers, history):
    first = client.get(URL, headers=admin_headers, query_string={"page_size": 2})
    last = client.get(URL, headers=admin_headers, query_string={"page_size": 2, "page": 3})

    assert _ids(first) == [str(history["other_patient"].id), str(history["prescriber_denied"].id)]
    assert _ids(last) == [str(history["nurse_read"].id)]
    pagination = json.loads(first.headers["X-Pagination"])
    assert pagination["total"] == 5
    assert pagination["total_pages"] == 3


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"page_size": 101}, "page_size"),
        ({"page": 0}, "page"),
        ({"from": "2026-04-06T08:00:00"}, "from"),
        ({"actor_id": "not-a-uuid"}, "actor_id"),
        ({"outcome": "maybe"}, "outcome"),
        ({"resource_type": "pat\x00ient"}, "resource_type"),
        ({"action": "x" * 41}, "action"),
    ],
)
def test_bad_audit_filters_get_422_naming_the_parameter(client, admin_headers, query, field):
    response = client.get(URL, headers=admin_headers, query_string=query)

    assert response.status_code == 422
    assert response.mimetype == PROBLEM_MIMETYPE
    assert list(response.get_json()["errors"]) == [field]


@pytest.mark.parametrize("role", [r for r in Role if r is not Role.ADMIN])
def test_only_admins_read_the_audit_log(client, make_user, auth_headers, role):
    response = client.get(URL, headers=auth_headers(make_user(role)))

    assert response.status_code == 403
    assert response.get_json()["code"] == "missing_role"


# --- what a request leaves in the log -------------------------------------------------------


@pytest.fixture
def audited_app(database_url):
    """An app with one test-only route that reads a "patient" and may then be refused."""
    with separate_app(overrides_for(database_url)) as application:

        @requires()
        def look(patient_id: uuid.UUID):
            audit.record("read", "patient", patient_id, patient_id=patient_id)
            if patient_id.int % 2:
                raise Forbidden("Not on this patient's care team.")
            return jsonify(id=str(patient_id))

        @requires()
        def screen(patient_id: uuid.UUID):
            """A screen showing this patient and a second one, refused like `look`."""
            shown = [patient_id, SECOND_ON_SCREEN]
            audit.record_shown("read", "schedule", patients=audit.Shown.of(shown))
            if patient_id.int % 2:
                raise Forbidden("Not this clinic's day.")
            return jsonify(shown=[str(p) for p in shown])

        application.add_url_rule("/api/v1/test-look/<uuid:patient_id>", view_func=look)
        application.add_url_rule("/api/v1/test-screen/<uuid:patient_id>", view_func=screen)
        yield application


@pytest.fixture
def look(audited_app, admin, auth_headers):
    """GET the test route for a patient id that is refused when `refused` is true."""

    def get(*, refused: bool):
        value = uuid.uuid4().int
        patient_id = uuid.UUID(int=value | 1 if refused else value & ~1)
        response = audited_app.test_client().get(
            f"/api/v1/test-look/{patient_id}", headers=auth_headers(admin)
        )
        events = db.session.scalars(select(AuditEvent).where(AuditEvent.patient_id == patient_id))
        return response, patient_id, list(events)

    return get


def test_a_read_is_audited_with_who_and_which_request(look, admin):
    response, patient_id, [event] = look(refused=False)

    assert response.status_code == 200
    assert (event.actor_id, event.action, event.outcome) == (admin.id, "read", "success")
    assert event.resource_id == str(patient_id)
    assert event.request_id == response.headers["X-Request-ID"]


def test_a_refused_look_is_audited_as_denied(look, admin):
    response, _patient_id, [event] = look(refused=True)

    assert response.status_code == 403
    assert (event.actor_id, event.action, event.outcome) == (admin.id, "read", "denied")


@pytest.mark.parametrize("refused", [False, True], ids=["shown", "refused"])
def test_a_screen_of_several_patients_is_one_event_found_by_each_patient(
    audited_app, admin, auth_headers, admin_headers, client, refused
):
    value = uuid.uuid4().int
    patient_id = uuid.UUID(int=value | 1 if refused else value & ~1)
    screen = audited_app.test_client().get(
        f"/api/v1/test-screen/{patient_id}", headers=auth_headers(admin)
    )
    assert screen.status_code == (403 if refused else 200)

    for shown in (patient_id, SECOND_ON_SCREEN):
        found = client.get(URL, headers=admin_headers, query_string={"patient_id": shown})
        assert found.status_code == 200
        (event,) = found.get_json()
        assert (event["action"], event["resource_type"]) == ("read", "schedule")
        assert event["outcome"] == ("denied" if refused else "success")
        assert event["patient_id"] is None
        assert event["patient_ids"] == sorted([str(patient_id), str(SECOND_ON_SCREEN)])
        assert event["request_id"] == screen.headers["X-Request-ID"]


@pytest.mark.parametrize(
    "statement",
    ["UPDATE audit_event_patients SET patient_id = event_id", "DELETE FROM audit_event_patients"],
)
def test_the_database_refuses_to_change_or_remove_who_a_screen_showed(statement):
    audit.record_shown("read", "schedule", patients=audit.Shown.of([SECOND_ON_SCREEN]))

    with pytest.raises(DBAPIError) as refused, db.session.begin_nested():
        db.session.execute(text(statement))

    assert "append-only" in str(refused.value)
    (event,) = db.session.scalars(select(AuditEvent))
    assert event.patient_ids == [SECOND_ON_SCREEN]


# --- the commit of a read's audit rows (PostgreSQL) ------------------------------------------

on_postgresql = pytest.mark.skipif(
    engine_name() != "postgresql", reason="synchronous_commit is PostgreSQL's"
)


def _commit_setting() -> str:
    """This transaction's synchronous_commit (a SELECT: it writes nothing)."""
    return str(db.session.scalar(text("SELECT current_setting('synchronous_commit')")))


def _read_audited() -> None:
    patients = audit.Shown.of([uuid.uuid4(), uuid.uuid4()])
    audit.record_shown("read", "schedule", uuid.uuid4(), patients=patients, actor_id=uuid.uuid4())


def _new_clinic() -> None:
    db.session.add(Clinic(name="Elm Clinic", time_zone="Europe/Paris"))


WRITES = {
    "orm flush": lambda: (_new_clinic(), db.session.flush()),
    "another audit row": lambda: _event(0, action="update"),
    "sql text": lambda: db.session.execute(
        text(
            "INSERT INTO clinics (id, name, time_zone, created_at, updated_at) "
            "VALUES (:id, 'Ash Clinic', 'UTC', now(), now())"
        ),
        {"id": uuid.uuid4()},
    ),
}


@on_postgresql
def test_a_transaction_whose_only_writes_are_a_reads_audit_rows_commits_without_waiting():
    assert _commit_setting() == "on"
    _read_audited()
    _read_audited()
    assert _commit_setting() == "off"
    db.session.commit()
    assert _commit_setting() == "on"  # for that transaction only


@on_postgresql
@pytest.mark.parametrize("write", WRITES)
@pytest.mark.parametrize("first", [True, False], ids=["write first", "read audit first"])
def test_a_transaction_with_any_other_write_still_commits_synchronously(write, first):
    if first:
        WRITES[write]()
    _read_audited()
    if not first:
        assert _commit_setting() == "off"
        WRITES[write]()
    assert _commit_setting() == "on"


@on_postgresql
def test_a_write_left_pending_is_made_synchronous_when_it_is_flushed():
    _read_audited()
    _new_clinic()
    assert _commit_setting() == "off"  # nothing written yet: a text query does not flush
    db.session.scalars(select(Clinic.id)).all()  # an ORM query flushes it first
    assert _commit_setting() == "on"


@pytest.mark.skipif(engine_name() != "postgresql", reason="SQLite's rows take Python's ids")
def test_a_screens_audit_rows_have_time_ordered_ids_with_the_write_time_in_them():
    # Version-7 UUIDs (RFC 9562): unique, 74 random bits, their first 48 bits the
    # milliseconds of the write, so each lands beside the last in the key's index.
    milliseconds = text("SELECT floor(extract(epoch FROM clock_timestamp()) * 1000)")
    before = int(db.session.scalar(milliseconds))
    _read_audited()
    _read_audited()
    after = int(db.session.scalar(milliseconds))
    written = select(AuditEvent.id).where(AuditEvent.resource_type == "schedule")
    ids = db.session.scalars(written).all()
    assert len(ids) == len(set(ids)) == 2  # one event per read, its patients beside it
    for found in ids:
        assert found.version == 7 and found.variant == uuid.RFC_4122
        assert before <= found.int >> 80 <= after
