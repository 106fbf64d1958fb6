"""Clinics test fixtures: two clinics in different zones, a nurse at each, and helpers
for the HTTP contract."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from kapt_api.auth.models import AuditEvent, Role, User
from kapt_api.clinics.models import Clinic, StaffMember
from kapt_api.db import db

API = "/api/v1"
PROBLEM = "application/problem+json"


@pytest.fixture
def clinic(make_clinic: Callable[..., Clinic]) -> Clinic:
    return make_clinic(name="Cedar Clinic", time_zone="America/New_York")


@pytest.fixture
def other_clinic(make_clinic: Callable[..., Clinic]) -> Clinic:
    return make_clinic(name="Birch Clinic", time_zone="Europe/London")


@pytest.fixture
def nurse(clinic: Clinic, make_staff: Callable[..., StaffMember]) -> StaffMember:
    return make_staff(clinic, Role.NURSE, full_name="Nia Nurse")


@pytest.fixture
def other_nurse(other_clinic: Clinic, make_staff: Callable[..., StaffMember]) -> StaffMember:
    return make_staff(other_clinic, Role.NURSE, full_name="Olu Other")


@pytest.fixture
def staff_headers(
    auth_headers: Callable[[User], dict[str, str]],
) -> Callable[[StaffMember], dict[str, str]]:
    def headers(staff: StaffMember) -> dict[str, str]:
        return auth_headers(staff.user)

    return headers


@pytest.fixture
def nurse_headers(nurse: StaffMember, staff_headers: Any) -> dict[str, str]:
    return staff_headers(nurse)


def etag_of(client: FlaskClient, url: str, headers: dict[str, str]) -> str:
    """The ETag a GET of `url` answers."""
    response = client.get(url, headers=headers)
    assert response.status_code == 200, response.get_json()
    assert response.headers["ETag"]
    return response.headers["ETag"]


def assert_problem(response: Any, status: int, *fields: str) -> dict[str, Any]:
    """The answer is problem+json with this status, naming these fields among its errors."""
    assert response.status_code == status, response.get_json()
    assert response.mimetype == PROBLEM
    body = response.get_json()
    assert body["status"] == status
    for name in fields:
        assert name in body.get("errors", {}), body
    return body


def assert_retry_answers_the_first(
    client: FlaskClient, url: str, body: dict[str, Any], headers: dict[str, str]
) -> None:
    """A creating POST sent twice with one Idempotency-Key answers the first result twice."""
    headers = {**headers, "Idempotency-Key": f"retry-{url}"}
    first = client.post(url, json=body, headers=headers)
    again = client.post(url, json=body, headers=headers)
    assert first.status_code == again.status_code == 201, first.get_json()
    assert again.get_json()["id"] == first.get_json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers.get("Location") == first.headers.get("Location")


def audited(resource_type: str, resource_id: Any) -> list[AuditEvent]:
    return list(
        db.session.scalars(
            select(AuditEvent).where(
                AuditEvent.resource_type == resource_type,
                AuditEvent.resource_id == str(resource_id),
            )
        )
    )
