"""Protocol fixtures: a valid definition and its JSON, protocols made through the
service, and staff of two clinics.

Factories commit to the test's savepoint: an error answer rolls the session back, and
what a test set up must survive that (the test's own transaction still undoes it all).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from kapt_api.auth.models import Role, User
from kapt_api.clinics.models import Clinic, StaffMember
from kapt_api.db import db
from kapt_api.protocols import service
from kapt_api.protocols.definition import Medication, ProtocolDefinition, Route
from kapt_api.protocols.definition_schemas import DefinitionSchema
from kapt_api.protocols.models import Protocol
from kapt_api.protocols.templates import TEMPLATES

API = "/api/v1"
PROBLEM = "application/problem+json"
NOW = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
IM_KAP = TEMPLATES["im-kap"]
ESKETAMINE = TEMPLATES["esketamine-rems-induction"]


@pytest.fixture
def definition() -> ProtocolDefinition:
    """A valid definition: the IM KAP template's."""
    return IM_KAP.definition


@pytest.fixture
def definition_json() -> dict[str, Any]:
    """The IM KAP definition as a client sends it (a fresh copy per test)."""
    return copy.deepcopy(DefinitionSchema().dump(IM_KAP.definition))


@pytest.fixture
def make_protocol(admin: User) -> Callable[..., Protocol]:
    """A protocol made through the service; its first version a draft unless published."""

    def make(
        *,
        name: str = "Clinic IM KAP",
        definition: ProtocolDefinition | None = None,
        medication: Medication = Medication.RACEMIC_KETAMINE,
        route: Route = Route.INTRAMUSCULAR,
        published: bool = False,
        clinic_id: Any = None,
    ) -> Protocol:
        protocol = service.create_protocol(
            name=name,
            description="",
            medication=medication,
            route=route,
            clinic_id=clinic_id,
            definition=definition or IM_KAP.definition,
            by=admin,
            now=NOW,
        )
        if published:
            service.publish(version=protocol.versions[0], by=admin, now=NOW)
        db.session.commit()
        return protocol

    return make


@pytest.fixture
def clinic(make_clinic: Callable[..., Clinic]) -> Clinic:
    return make_clinic(name="Cedar Clinic")


@pytest.fixture
def other_clinic(make_clinic: Callable[..., Clinic]) -> Clinic:
    return make_clinic(name="Birch Clinic")


@pytest.fixture
def therapist(make_staff: Callable[..., StaffMember], clinic: Clinic) -> User:
    return make_staff(clinic, Role.THERAPIST).user


@pytest.fixture
def therapist_headers(
    therapist: User, auth_headers: Callable[[User], dict[str, str]]
) -> dict[str, str]:
    return auth_headers(therapist)
