"""Who sees and changes which part of a patient: decided on plain values."""

from __future__ import annotations

import uuid

import pytest

from kapt_api.auth.models import Role
from kapt_api.patients import policy
from kapt_api.patients.models import CareTeamMember, Patient
from kapt_api.patients.policy import Caller, PatientView

CLINIC = uuid.uuid4()
OTHER = uuid.uuid4()
ON_TEAM = uuid.uuid4()
OFF_TEAM = uuid.uuid4()


def patient(clinic=CLINIC):
    record = Patient(clinic_id=clinic)
    record.care_team = [CareTeamMember(staff_id=ON_TEAM)]
    return record


def caller(*roles, clinics=frozenset({CLINIC}), staff_id=ON_TEAM):
    return Caller(user_id=uuid.uuid4(), roles=frozenset(roles), clinics=clinics, staff_id=staff_id)


ADMIN = caller(Role.ADMIN, clinics=None, staff_id=None)


@pytest.mark.parametrize("role", [Role.PRESCRIBER, Role.NURSE, Role.THERAPIST])
def test_clinicians_on_the_care_team_see_clinical_fields(role):
    assert policy.view_of(caller(role), patient()) is PatientView.CLINICAL


@pytest.mark.parametrize(
    "who",
    [
        caller(Role.PRESCRIBER, staff_id=OFF_TEAM),
        caller(Role.NURSE, staff_id=None),
        caller(Role.FRONT_DESK),  # even if wrongly listed on the team
        caller(Role.ADMIN, clinics=None),
        ADMIN,
        caller(Role.THERAPIST, clinics=frozenset({OTHER})),
    ],
)
def test_everybody_else_gets_the_contact_view(who):
    assert policy.view_of(who, patient()) is PatientView.CONTACT
    assert not policy.can_view_clinical(who, patient())


def test_staff_see_their_own_clinic_and_admins_every_clinic():
    assert policy.can_see(caller(Role.FRONT_DESK), patient())
    assert not policy.can_see(caller(Role.FRONT_DESK), patient(OTHER))
    assert not policy.can_see(caller(Role.NURSE, clinics=frozenset()), patient())
    assert policy.can_see(ADMIN, patient(OTHER))


def test_front_desk_registers_in_their_own_clinic_admins_anywhere():
    assert policy.can_register_in(caller(Role.FRONT_DESK), CLINIC)
    assert not policy.can_register_in(caller(Role.FRONT_DESK), OTHER)
    assert policy.can_register_in(ADMIN, OTHER)
    assert not policy.can_register_in(caller(Role.PRESCRIBER), CLINIC)


@pytest.mark.parametrize(
    ("who", "fields", "broken"),
    [
        (caller(Role.FRONT_DESK), {"phone", "care_team"}, set()),
        (ADMIN, {"sms_opt_in", "active"}, set()),
        (caller(Role.FRONT_DESK), {"clinical"}, {"clinical_fields_care_team_only"}),
        (ADMIN, {"clinical", "email"}, {"clinical_fields_care_team_only"}),
        (caller(Role.NURSE), {"clinical"}, set()),
        (caller(Role.NURSE), {"email"}, {"contact_fields_front_desk_or_admin"}),
        (
            caller(Role.THERAPIST, staff_id=OFF_TEAM),
            {"clinical", "phone"},
            {"contact_fields_front_desk_or_admin", "clinical_fields_care_team_only"},
        ),
        (caller(Role.FRONT_DESK, Role.NURSE), {"clinical", "phone"}, set()),
    ],
)
def test_change_violations_name_each_rule_broken(who, fields, broken):
    violations = policy.change_violations(who, fields, care_team=[ON_TEAM])
    assert {v.rule for v in violations} == broken
