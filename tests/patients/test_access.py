"""The access matrix: every patient endpoint, as every role, from the patient's care
team, from elsewhere in the patient's clinic, and from another clinic.

Every answer is checked for its status and for clinical data: the `clinical`
object, or any of its values, must appear only for prescribers, nurses and
therapists on the patient's own care team, and never in a refusal.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Any

import pytest

from kapt_api.auth.models import CLINICAL_ROLES, Role

BASE = "/api/v1/patients"
SECRET = "SENTINEL-7731"
CLINICAL_VALUES = {
    "allergies": f"{SECRET} allergy",
    "concomitant_medications": f"{SECRET} medication",
    "clinical_notes": f"{SECRET} note",
    "weight_kg": Decimal("88.8"),
    "rems_enrolled": True,
}
CLINICAL_KEYS = {"clinical", "rems_enrolled", "rems_enrolled_on", "weight_kg", *CLINICAL_VALUES}


class Place(StrEnum):
    ON_TEAM = "own clinic, on the care team"
    OFF_TEAM = "own clinic, off the care team"
    OTHER_CLINIC = "another clinic"


class Op(StrEnum):
    READ = "GET /patients/{id}"
    LIST = "GET /patients"
    CHANGE_CONTACT = "PATCH contact fields"
    CHANGE_CLINICAL = "PATCH clinical"
    REGISTER = "POST /patients"
    REGISTER_WITH_CLINICAL = "POST /patients with clinical"


def sees_patient(role: Role, place: Place) -> bool:
    return role is Role.ADMIN or place is not Place.OTHER_CLINIC


def sees_clinical(role: Role, place: Place) -> bool:
    return role in CLINICAL_ROLES and place is Place.ON_TEAM


def expected_status(role: Role, place: Place, op: Op) -> int:
    visible = sees_patient(role, place)
    if op in (Op.READ, Op.LIST):
        return 200 if visible or op is Op.LIST else 404
    if op is Op.CHANGE_CONTACT:
        return 404 if not visible else 200 if role in (Role.ADMIN, Role.FRONT_DESK) else 403
    if op is Op.CHANGE_CLINICAL:
        return 404 if not visible else 200 if sees_clinical(role, place) else 403
    if role in CLINICAL_ROLES:
        return 403  # clinicians do not register patients
    if role is Role.FRONT_DESK and place is Place.OTHER_CLINIC:
        return 422  # clinic_id: not a clinic they may register in
    return 201 if op is Op.REGISTER else 403


def expected_refusal(role: Role, op: Op) -> str:
    if op in (Op.REGISTER, Op.REGISTER_WITH_CLINICAL) and role in CLINICAL_ROLES:
        return "missing_role"
    if op is Op.CHANGE_CONTACT:
        return "contact_fields_front_desk_or_admin"
    return "clinical_fields_care_team_only"


def refusal_reason(problem: dict[str, Any]) -> str:
    """The rule a 403 names (or its code, for a refusal by role)."""
    rules = [violation["rule"] for violation in problem.get("violations", [])]
    return rules[0] if len(rules) == 1 else problem["code"]


def clinical_keys_in(value: Any) -> set[str]:
    if isinstance(value, dict):
        found = set(value) & CLINICAL_KEYS
        for item in value.values():
            found |= clinical_keys_in(item)
        return found
    if isinstance(value, list):
        return set().union(*(clinical_keys_in(item) for item in value))
    return set()


@pytest.fixture
def scene(make_team, make_patient):
    """A patient whose care team lists a staff member of every role, even the roles
    that may never see clinical data."""
    here = make_team(name="Cedar Clinic")
    patient = make_patient(
        here.clinic, care_team=[here.member(role) for role in Role], **CLINICAL_VALUES
    )
    return here, patient


@pytest.fixture
def actor_at(scene, make_clinic, make_staff, db_session):
    """The staff member of `role` who stands in `place` relative to the patient."""

    def actor(role: Role, place: Place):
        here, _ = scene
        if place is Place.ON_TEAM:
            return here.member(role)
        clinic = here.clinic if place is Place.OFF_TEAM else make_clinic(name="Birch Clinic")
        staff = make_staff(clinic, role)
        db_session.commit()
        return staff

    return actor


def call(client, op, patient, headers, admin_headers):
    url = f"{BASE}/{patient.id}"
    if op is Op.READ:
        return client.get(url, headers=headers)
    if op is Op.LIST:
        return client.get(BASE, query_string={"page_size": 100}, headers=headers)
    if op in (Op.CHANGE_CONTACT, Op.CHANGE_CLINICAL):
        own = client.get(url, headers=headers)
        # Someone who may not see the patient gets a valid ETag elsewhere: 404 must not
        # depend on guessing it.
        seen = own if own.status_code == 200 else client.get(url, headers=admin_headers)
        changes = (
            {"phone": "+15555550177"}
            if op is Op.CHANGE_CONTACT
            else {"clinical": {"clinical_notes": f"{SECRET} new note"}}
        )
        return client.patch(
            url, json=changes, headers={**headers, "If-Match": seen.headers["ETag"]}
        )
    body = {
        "clinic_id": str(patient.clinic_id),
        "given_name": "Riley",
        "family_name": "Moreau",
        "date_of_birth": "1972-11-02",
        "email": "riley.moreau@mail.test",
    }
    if op is Op.REGISTER_WITH_CLINICAL:
        body["clinical"] = {"allergies": f"{SECRET} sent"}
    return client.post(BASE, json=body, headers=headers)


@pytest.mark.parametrize("op", list(Op), ids=lambda op: op.name.lower())
@pytest.mark.parametrize("place", list(Place), ids=lambda place: place.name.lower())
@pytest.mark.parametrize("role", list(Role), ids=lambda role: role.value)
def test_access_matrix(client, scene, actor_at, headers_of, role, place, op):
    here, patient = scene
    actor = actor_at(role, place)
    response = call(client, op, patient, headers_of(actor), headers_of(here.admin))
    body = response.get_json()

    assert response.status_code == expected_status(role, place, op), body
    if response.status_code >= 400:
        assert response.mimetype == "application/problem+json"
    if response.status_code == 403:
        assert refusal_reason(body) == expected_refusal(role, op)
    if op is Op.LIST:
        ours = [item for item in body if item["id"] == str(patient.id)]
        assert len(ours) == (1 if sees_patient(role, place) else 0)
        body = ours[0] if ours else {}

    shown = sees_clinical(role, place) and response.status_code == 200
    if shown:
        assert body["clinical"]["allergies"] == CLINICAL_VALUES["allergies"]
        assert body["clinical"]["weight_kg"] == 88.8
    else:
        assert clinical_keys_in(response.get_json()) == set()
        assert SECRET not in response.get_data(as_text=True)
