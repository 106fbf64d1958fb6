"""Patients test fixtures: a clinic with one staff member per role, a second clinic,
and helpers for the HTTP contract (bodies, ETags, audit rows)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from kapt_api import clock
from kapt_api.auth.models import AuditEvent, Role, User
from kapt_api.clinics.models import Clinic, StaffMember
from kapt_api.db import db
from kapt_api.patients import policy
from kapt_api.patients.models import Patient

NOON = datetime(2026, 12, 1, 17, 0, tzinfo=UTC)


@dataclass
class Team:
    """One staff member per role at a clinic."""

    clinic: Clinic
    admin: StaffMember
    prescriber: StaffMember
    nurse: StaffMember
    therapist: StaffMember
    front_desk: StaffMember

    def member(self, role: Role) -> StaffMember:
        return getattr(self, role.value)


@pytest.fixture
def frozen_now() -> datetime:
    clock.freeze(NOON)
    return NOON


# A refused request rolls the session back; what a test set up must survive that,
# so the factories here commit (into the test's own transaction, rolled back after it).


@pytest.fixture
def make_team(make_clinic, make_staff) -> Callable[..., Team]:
    def make(**clinic_overrides: Any) -> Team:
        clinic = make_clinic(**clinic_overrides)
        team = Team(clinic, *(make_staff(clinic, role) for role in Role))
        db.session.commit()
        return team

    return make


@pytest.fixture
def make_patient(make_patient) -> Callable[..., Patient]:
    def make(*args: Any, **kwargs: Any) -> Patient:
        patient = make_patient(*args, **kwargs)
        db.session.commit()
        return patient

    return make


@pytest.fixture
def team(make_team) -> Team:
    return make_team(name="Cedar Clinic")


@pytest.fixture
def other_team(make_team) -> Team:
    return make_team(name="Birch Clinic", time_zone="America/Los_Angeles")


@pytest.fixture
def user_of() -> Callable[[StaffMember], User]:
    return lambda staff: db.session.get(User, staff.user_id)


@pytest.fixture
def caller_of(user_of) -> Callable[[StaffMember], policy.Caller]:
    return lambda staff: policy.caller(user_of(staff))


@pytest.fixture
def headers_of(user_of, auth_headers) -> Callable[..., dict[str, str]]:
    def headers(staff: StaffMember, **extra: str) -> dict[str, str]:
        return {**auth_headers(user_of(staff)), **extra}

    return headers


@pytest.fixture
def patient_body() -> Callable[..., dict[str, Any]]:
    def body(clinic: Clinic, **overrides: Any) -> dict[str, Any]:
        values: dict[str, Any] = {
            "clinic_id": str(clinic.id),
            "given_name": "Jordan",
            "family_name": "Hale",
            "date_of_birth": "1986-03-14",
            "email": "jordan.hale@mail.test",
            "phone": "+15555550142",
        }
        values.update(overrides)
        return {k: v for k, v in values.items() if v is not ...}

    return body


def audit_rows(**where: Any) -> list[AuditEvent]:
    """Audit events matching column == value, oldest first."""
    stmt = select(AuditEvent).order_by(AuditEvent.occurred_at, AuditEvent.id)
    for name, value in where.items():
        stmt = stmt.where(getattr(AuditEvent, name) == value)
    return list(db.session.scalars(stmt))


def ids(items: list[dict[str, Any]]) -> list[uuid.UUID]:
    return [uuid.UUID(item["id"]) for item in items]
