"""Patient use cases against the database: registration, changes, consent stamps,
care team, the directory query and its audit."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest
from flask_smorest.pagination import PaginationParameters

from kapt_api import clock
from kapt_api.auth.models import Role
from kapt_api.db import db
from kapt_api.errors import Forbidden, InvalidInput, NotFound
from kapt_api.patients import service
from kapt_api.patients.models import Patient
from tests.patients.conftest import NOON, audit_rows


@pytest.fixture(autouse=True)
def _now(frozen_now):
    return frozen_now


def registration(clinic, **overrides):
    data = {
        "clinic_id": clinic.id,
        "given_name": "Jordan",
        "family_name": "Hale",
        "date_of_birth": date(1986, 3, 14),
        "email": "jordan.hale@mail.test",
        "phone": "+15555550142",
    }
    data.update(overrides)
    return data


def register(team, caller_of, by=None, **overrides):
    return service.register_patient(
        data=registration(team.clinic, **overrides),
        by=caller_of(by or team.front_desk),
        now=clock.now(),
    )


def update(patient, by, caller_of, **changes):
    return service.update_patient(
        patient=patient, changes=changes, by=caller_of(by), now=clock.now()
    )


# --- registration ----------------------------------------------------------------------


def test_the_sex_is_kept_when_given_and_left_unknown_otherwise(team, caller_of):
    assert register(team, caller_of).sex is None
    patient = register(team, caller_of, sex="male")
    assert patient.sex == "male"
    update(patient, team.front_desk, caller_of, sex=None)
    assert patient.sex is None


def test_registration_fills_the_defaults_from_the_clinic_and_is_audited(team, caller_of):
    patient = register(team, caller_of)
    assert patient.time_zone == "America/New_York"
    assert patient.preferred_reminder_channel == "email"
    assert patient.active is True
    assert (patient.sms_opt_in, patient.sms_opt_in_at, patient.sms_opt_out_at) == (
        False,
        None,
        None,
    )
    [event] = audit_rows(patient_id=patient.id)
    assert (event.action, event.resource_type, event.resource_id) == (
        "create",
        "patient",
        str(patient.id),
    )
    assert event.actor_id == team.front_desk.user_id
    assert event.occurred_at == NOON


def test_without_an_email_no_automated_reminders_are_chosen(team, caller_of):
    assert register(team, caller_of, email=None).preferred_reminder_channel == "none"


def test_consent_given_at_registration_is_stamped_by_the_server(team, caller_of):
    patient = register(team, caller_of, sms_opt_in=True, preferred_reminder_channel="sms")
    assert (patient.sms_opt_in_at, patient.sms_opt_out_at) == (NOON, None)


def test_front_desk_cannot_register_in_another_clinic_and_learns_nothing_about_it(
    team, other_team, caller_of
):
    for clinic_id in (other_team.clinic.id, uuid.uuid4()):
        with pytest.raises(InvalidInput) as refused:
            register(team, caller_of, clinic_id=clinic_id)
        assert list(refused.value.errors) == ["clinic_id"]
    assert db.session.query(Patient).count() == 0


def test_admins_register_in_any_clinic(team, other_team, caller_of):
    patient = register(team, caller_of, by=team.admin, clinic_id=other_team.clinic.id)
    assert patient.clinic_id == other_team.clinic.id
    assert patient.time_zone == "America/Los_Angeles"


def test_front_desk_sending_clinical_fields_is_refused_naming_the_rule(team, caller_of):
    with pytest.raises(Forbidden) as refused:
        register(team, caller_of, clinical={"allergies": "latex"})
    assert [v.rule for v in refused.value.violations] == ["clinical_fields_care_team_only"]


def test_an_admin_prescriber_joining_the_team_may_record_clinical_fields_at_registration(
    team, caller_of, make_staff
):
    both = make_staff(team.clinic, Role.ADMIN, Role.PRESCRIBER)
    patient = register(
        team, caller_of, by=both, care_team=[both.id], clinical={"weight_kg": Decimal("72.5")}
    )
    assert patient.weight_kg == Decimal("72.5")


def test_every_broken_rule_is_reported_at_once(team, caller_of, other_team):
    with pytest.raises(InvalidInput) as refused:
        register(
            team,
            caller_of,
            date_of_birth=date(2030, 1, 1),
            preferred_reminder_channel="sms",
            care_team=[team.front_desk.id, other_team.nurse.id],
        )
    assert set(refused.value.errors) == {
        "date_of_birth",
        "preferred_reminder_channel",
        "care_team.0",
        "care_team.1",
    }


def test_birth_date_is_judged_in_the_patients_own_day(team, caller_of):
    # 17:00 UTC on 1 December is still 1 December in New York but 2 December in Auckland.
    with pytest.raises(InvalidInput):
        register(team, caller_of, date_of_birth=date(2026, 12, 1))
    patient = register(
        team, caller_of, date_of_birth=date(2026, 12, 1), time_zone="Pacific/Auckland"
    )
    assert patient.date_of_birth == date(2026, 12, 1)


# --- consent over time -----------------------------------------------------------------


def test_consent_stamps_follow_each_decision(team, caller_of):
    patient = register(team, caller_of)
    t1, t2, t3 = NOON + timedelta(days=1), NOON + timedelta(days=2), NOON + timedelta(days=3)

    clock.freeze(t1)
    update(patient, team.front_desk, caller_of, sms_opt_in=True)
    assert (patient.sms_opt_in_at, patient.sms_opt_out_at) == (t1, None)

    clock.freeze(t2)
    update(patient, team.front_desk, caller_of, sms_opt_in=True, phone="+15555550143")
    assert (patient.sms_opt_in_at, patient.sms_opt_out_at) == (t1, None)

    update(patient, team.admin, caller_of, sms_opt_in=False)
    assert (patient.sms_opt_in, patient.sms_opt_in_at, patient.sms_opt_out_at) == (False, t1, t2)

    clock.freeze(t3)
    update(patient, team.front_desk, caller_of, sms_opt_in=True)
    assert (patient.sms_opt_in, patient.sms_opt_in_at, patient.sms_opt_out_at) == (True, t3, t2)


@pytest.mark.parametrize(("email", "fallback"), [("a@mail.test", "email"), (None, "none")])
def test_withdrawing_sms_consent_is_never_refused_and_reminders_fall_back(
    team, caller_of, email, fallback
):
    patient = register(
        team, caller_of, email=email, sms_opt_in=True, preferred_reminder_channel="sms"
    )
    update(patient, team.front_desk, caller_of, sms_opt_in=False)
    assert patient.sms_opt_in is False
    assert patient.preferred_reminder_channel == fallback
    assert patient.sms_opt_out_at == NOON


def test_withdrawing_consent_while_choosing_sms_is_a_contradiction(team, caller_of):
    patient = register(team, caller_of, sms_opt_in=True, preferred_reminder_channel="sms")
    with pytest.raises(InvalidInput) as refused:
        update(
            patient, team.front_desk, caller_of, sms_opt_in=False, preferred_reminder_channel="sms"
        )
    assert list(refused.value.errors) == ["preferred_reminder_channel"]


def test_removing_the_email_that_reminders_go_to_names_the_email(team, caller_of):
    patient = register(team, caller_of)
    with pytest.raises(InvalidInput) as refused:
        update(patient, team.front_desk, caller_of, email=None)
    assert list(refused.value.errors) == ["email"]


# --- care team -------------------------------------------------------------------------


def test_the_care_team_can_be_changed_keeping_members_who_stay(team, caller_of):
    patient = register(team, caller_of, care_team=[team.prescriber.id, team.nurse.id])
    update(patient, team.front_desk, caller_of, care_team=[team.nurse.id, team.therapist.id])
    db.session.expire_all()
    assert set(db.session.get(Patient, patient.id).care_team_ids) == {
        team.nurse.id,
        team.therapist.id,
    }


def test_inactive_staff_cannot_join_a_care_team(team, caller_of, make_staff):
    gone = make_staff(team.clinic, Role.NURSE, active=False)
    with pytest.raises(InvalidInput) as refused:
        register(team, caller_of, care_team=[gone.id])
    assert "no longer active" in refused.value.errors["care_team.0"][0]


def test_clinicians_cannot_change_the_care_team(team, caller_of):
    patient = register(team, caller_of, care_team=[team.prescriber.id])
    with pytest.raises(Forbidden) as refused:
        update(patient, team.prescriber, caller_of, care_team=[team.prescriber.id, team.nurse.id])
    assert [v.rule for v in refused.value.violations] == ["contact_fields_front_desk_or_admin"]


# --- clinical fields -------------------------------------------------------------------


def test_a_nurse_on_the_care_team_records_clinical_fields(team, caller_of):
    patient = register(team, caller_of, care_team=[team.nurse.id])
    update(
        patient,
        team.nurse,
        caller_of,
        clinical={
            "rems_enrolled": True,
            "rems_enrolled_on": date(2026, 11, 20),
            "weight_kg": Decimal("81.4"),
            "concomitant_medications": "sertraline 50 mg",
        },
    )
    db.session.expire_all()
    stored = db.session.get(Patient, patient.id)
    assert (stored.rems_enrolled, stored.rems_enrolled_on, stored.weight_kg) == (
        True,
        date(2026, 11, 20),
        Decimal("81.4"),
    )
    assert stored.concomitant_medications == "sertraline 50 mg"


def test_rems_enrolment_cannot_be_dated_in_the_future(team, caller_of):
    patient = register(team, caller_of, care_team=[team.prescriber.id])
    with pytest.raises(InvalidInput) as refused:
        update(
            patient,
            team.prescriber,
            caller_of,
            clinical={"rems_enrolled": True, "rems_enrolled_on": date(2026, 12, 2)},
        )
    assert list(refused.value.errors) == ["clinical.rems_enrolled_on"]


def test_a_clinician_off_the_care_team_cannot_change_clinical_fields(team, caller_of):
    patient = register(team, caller_of, care_team=[team.nurse.id])
    with pytest.raises(Forbidden) as refused:
        update(patient, team.therapist, caller_of, clinical={"clinical_notes": "x"})
    assert [v.rule for v in refused.value.violations] == ["clinical_fields_care_team_only"]


# --- finding and listing ---------------------------------------------------------------


def test_another_clinics_patient_is_not_found_for_staff_but_is_for_admins(
    team, other_team, caller_of, make_patient
):
    theirs = make_patient(other_team.clinic)
    with pytest.raises(NotFound):
        service.find_patient(patient_id=theirs.id, by=caller_of(team.front_desk))
    assert service.find_patient(patient_id=theirs.id, by=caller_of(team.admin)) is theirs


def test_staff_whose_record_is_inactive_see_no_patients(team, caller_of, make_patient):
    patient = make_patient(team.clinic)
    team.front_desk.active = False
    who = caller_of(team.front_desk)
    assert service.list_patients(by=who, page=PaginationParameters(1, 10)) == []
    with pytest.raises(NotFound):
        service.find_patient(patient_id=patient.id, by=who)


def page(number=1, size=10):
    return PaginationParameters(number, size)


def names(patients):
    return [f"{p.given_name} {p.family_name}" for p in patients]


@pytest.fixture
def directory(team, other_team, make_patient):
    make_patient(team.clinic, given_name="Avery", family_name="Quill", care_team=[team.nurse])
    make_patient(team.clinic, given_name="Blake", family_name="Oakes", active=False)
    make_patient(team.clinic, given_name="Quinn", family_name="Adler", care_team=[team.nurse])
    make_patient(team.clinic, given_name="Rae", family_name="100%_Real")
    make_patient(other_team.clinic, given_name="Cyd", family_name="Quillon")


def test_the_directory_is_the_callers_clinic_sorted_by_family_name(directory, team, caller_of):
    found = service.list_patients(by=caller_of(team.front_desk), page=page())
    assert names(found) == ["Rae 100%_Real", "Quinn Adler", "Blake Oakes", "Avery Quill"]


def test_admins_see_every_clinic_and_may_narrow_to_one(directory, team, other_team, caller_of):
    admin = caller_of(team.admin)
    assert len(service.list_patients(by=admin, page=page())) == 5
    only = service.list_patients(by=admin, page=page(), clinic_id=other_team.clinic.id)
    assert names(only) == ["Cyd Quillon"]


def test_asking_for_another_clinic_gives_nothing_to_staff(directory, team, other_team, caller_of):
    assert (
        service.list_patients(
            by=caller_of(team.front_desk), page=page(), clinic_id=other_team.clinic.id
        )
        == []
    )


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("quil", ["Avery Quill"]),
        ("QUINN", ["Quinn Adler"]),
        ("q", ["Quinn Adler", "Avery Quill"]),
        ("avery quill", ["Avery Quill"]),
        ("avery adler", []),
        ("%", ["Rae 100%_Real"]),
        ("_", ["Rae 100%_Real"]),
    ],
)
def test_name_search_is_case_insensitive_on_given_and_family_name(
    directory, team, caller_of, q, expected
):
    assert names(service.list_patients(by=caller_of(team.front_desk), page=page(), q=q)) == (
        expected
    )


def test_filters_by_care_team_member_and_active(directory, team, caller_of):
    who = caller_of(team.front_desk)
    on_team = service.list_patients(by=who, page=page(), care_team_staff_id=team.nurse.id)
    assert names(on_team) == ["Quinn Adler", "Avery Quill"]
    assert names(service.list_patients(by=who, page=page(), active=False)) == ["Blake Oakes"]


def test_each_patient_on_the_page_and_only_those_are_audited_as_listed(directory, team, caller_of):
    params = page(2, 3)
    listed = service.list_patients(by=caller_of(team.front_desk), page=params)
    assert names(listed) == ["Avery Quill"]
    assert params.item_count == 4
    events = audit_rows(action="list")
    assert [e.patient_id for e in events] == [listed[0].id]
    assert events[0].actor_id == team.front_desk.user_id
