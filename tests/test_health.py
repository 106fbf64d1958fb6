"""Liveness, readiness, and the scheduler's heartbeat as /readyz reports it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from flask_jwt_extended import create_access_token

from kapt_api import clock, health
from kapt_api.db import db
from kapt_api.errors import PROBLEM_MIMETYPE
from tests.conftest import test_overrides as overrides_for
from tests.separate_app import separate_app

BEAT = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def test_healthz_says_the_process_is_alive(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readyz_reports_the_database_and_a_scheduler_never_seen(client):
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.get_json() == {
        "status": "ready",
        "database": "ok",
        "scheduler": {"status": "never_seen", "last_heartbeat": None},
    }


@pytest.mark.parametrize(
    ("after", "status"),
    [
        (timedelta(0), "ok"),
        (timedelta(seconds=90), "ok"),
        (health.HEARTBEAT_STALE_AFTER, "ok"),
        (health.HEARTBEAT_STALE_AFTER + timedelta(seconds=1), "stale"),
        (timedelta(hours=3), "stale"),
    ],
)
def test_readyz_reports_the_scheduler_ok_then_stale(client, after, status):
    health.beat("scheduler-a", now=BEAT)
    db.session.commit()
    clock.freeze(BEAT + after)

    response = client.get("/readyz")

    assert response.status_code == 200  # a quiet scheduler does not take the API out
    assert response.get_json()["scheduler"] == {
        "status": status,
        "last_heartbeat": "2026-11-26T09:00:00+00:00",
    }


def test_the_newest_beat_of_any_scheduler_counts(client):
    health.beat("scheduler-a", now=BEAT - timedelta(hours=1))
    health.beat("scheduler-b", now=BEAT - timedelta(minutes=3))
    health.beat("scheduler-b", now=BEAT - timedelta(seconds=30))
    db.session.commit()
    clock.freeze(BEAT)

    scheduler = client.get("/readyz").get_json()["scheduler"]

    assert scheduler == {"status": "ok", "last_heartbeat": "2026-11-26T08:59:30+00:00"}


# --- a database that does not answer --------------------------------------------------------

UNREACHABLE = [
    "sqlite:////nonexistent-kapt-directory/kapt.db",
    "postgresql+psycopg://kapt@127.0.0.1:1/kapt",
]


@pytest.fixture(params=UNREACHABLE, ids=["sqlite", "postgresql"])
def unreachable_app(request, monkeypatch):
    with separate_app(overrides_for(request.param)) as application:
        # The suite binds db.session to its test transaction; this app needs its own.
        monkeypatch.setattr(db, "session", db._make_scoped_session({}))
        yield application
        db.session.remove()


def test_readyz_answers_503_when_the_database_is_unreachable(unreachable_app):
    response = unreachable_app.test_client().get("/readyz")

    assert response.status_code == 503
    assert response.mimetype == PROBLEM_MIMETYPE
    body = response.get_json()
    assert body["detail"] == "The database is not reachable."
    assert body["request_id"] == response.headers["X-Request-ID"]


def test_healthz_stays_200_when_the_database_is_unreachable(unreachable_app):
    assert unreachable_app.test_client().get("/healthz").status_code == 200


def test_any_endpoint_answers_503_with_retry_after_when_the_database_is_down(unreachable_app):
    token = create_access_token(identity=str(uuid.uuid4()), additional_claims={"sid": "s" * 32})

    response = unreachable_app.test_client().get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}
    )

    assert response.status_code == 503
    assert response.mimetype == PROBLEM_MIMETYPE
    assert response.json["code"] == "database_unavailable"
    assert response.headers["Retry-After"] == "5"


def test_a_login_while_the_database_is_down_is_a_503_too(unreachable_app):
    response = unreachable_app.test_client().post(
        "/api/v1/auth/tokens", json={"email": "a@clinic.test", "password": "x" * 12}
    )

    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0
