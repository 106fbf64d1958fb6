"""What the app's error handlers make of a body schema's refusal, an unexpected failure
and a constraint violation: problem+json that quotes no patient's data."""

from __future__ import annotations

import json

import marshmallow as ma
import pytest
from flask_smorest import Blueprint

from kapt_api.auth.identity import current_user, requires
from kapt_api.auth.models import User
from kapt_api.db import db
from kapt_api.extensions import api
from kapt_api.fields import AwareDateTime, Text
from tests.conftest import test_overrides as overrides_for
from tests.errors.conftest import assert_problem
from tests.separate_app import separate_app

PHI = "Zephyrine Quillfeather"


# --- a body schema and unexpected failures, on an app with test-only routes -----------------


@pytest.fixture
def probe_app(database_url):
    class ProbeIn(ma.Schema):
        at = AwareDateTime(required=True)
        note = Text(max_length=10)

    class ProbeOut(ma.Schema):
        at = AwareDateTime(required=True)

    bp = Blueprint("probe", __name__, url_prefix="/api/v1")

    @bp.route("/test-probe", methods=["POST"])
    @bp.arguments(ProbeIn)
    @bp.response(201, ProbeOut)
    @requires()
    def probe(data):
        """Echo the time, in UTC."""
        return data

    @bp.route("/test-boom", methods=["GET"])
    @requires()
    def boom():
        """Fail the way a bug does, with a patient's name in the message."""
        raise RuntimeError(f"could not schedule {PHI}")

    @bp.route("/test-collide", methods=["POST"])
    @requires()
    def collide():
        """Hit a unique constraint no service checked first."""
        db.session.add(User(email=current_user().email, full_name=PHI, password_hash="x"))
        db.session.flush()

    with separate_app(overrides_for(database_url)) as application:
        api.register_blueprint(bp)
        yield application


def test_a_naive_datetime_in_a_body_gets_422(probe_app, admin_headers):
    client = probe_app.test_client()

    naive = client.post(
        "/api/v1/test-probe", json={"at": "2026-05-01T09:00:00"}, headers=admin_headers
    )
    aware = client.post(
        "/api/v1/test-probe", json={"at": "2026-05-01T09:00:00-04:00"}, headers=admin_headers
    )

    body = assert_problem(naive, 422)
    assert list(body["errors"]) == ["at"]
    assert aware.status_code == 201
    assert aware.get_json() == {"at": "2026-05-01T13:00:00+00:00"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"at": "2026-05-01T09:00:00Z", "note": "nul\x00byte"}, "note"),
        ({"at": "2026-05-01T09:00:00Z", "note": "far too long for it"}, "note"),
        ({"at": "0001-01-01T00:00:00Z"}, "at"),
        ({"at": "yesterday"}, "at"),
        ({"at": 1714554000}, "at"),
    ],
)
def test_values_the_database_could_not_take_get_422(probe_app, admin_headers, body, field):
    response = probe_app.test_client().post("/api/v1/test-probe", json=body, headers=admin_headers)

    assert list(assert_problem(response, 422)["errors"]) == [field]


def test_an_unexpected_error_is_a_500_whose_log_has_frames_but_not_the_message(
    probe_app, admin_headers, caplog
):
    response = probe_app.test_client().get("/api/v1/test-boom", headers=admin_headers)

    body = assert_problem(response, 500)
    assert PHI not in json.dumps(body)
    [line] = [
        json.loads(r.getMessage()) for r in caplog.records if "unhandled_error" in r.getMessage()
    ]
    assert line["error_type"] == "RuntimeError"
    assert "in boom" in line["frames"]
    assert line["request_id"] == body["request_id"]
    assert PHI not in caplog.text


def test_a_constraint_violation_is_a_409_that_quotes_no_value(
    probe_app, admin, admin_headers, caplog
):
    response = probe_app.test_client().post("/api/v1/test-collide", headers=admin_headers)

    body = assert_problem(response, 409)
    assert admin.email not in json.dumps(body)
    assert admin.email not in caplog.text
    assert PHI not in caplog.text


def test_test_only_routes_stay_out_of_the_suites_own_app(app, database_url):
    before = app.test_client().get("/openapi.json").get_json()
    with separate_app(overrides_for(database_url)):
        api.register_blueprint(Blueprint("extra", __name__, url_prefix="/api/v1/test-extra"))

    assert app.test_client().get("/openapi.json").get_json() == before
