"""Clinic, room and staff use cases against the database."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import func, select

from kapt_api.auth.models import Role, User
from kapt_api.auth.passwords import verify_password
from kapt_api.clinics import policy, service
from kapt_api.clinics.models import OpeningHours, RoomKind, StaffMember
from kapt_api.clinics.schemas import ClinicOut, RoomOut, StaffOut, TimeOffOut, WorkingWeekOut
from kapt_api.db import db
from kapt_api.errors import Conflict, InvalidInput, NotFound
from tests.clinics.conftest import audited

NOON = datetime(2026, 12, 1, 17, tzinfo=UTC)
PASSWORD = "a long enough password"


def hours(*items: tuple[int, int, int]) -> list[dict]:
    return [{"weekday": d, "opens": time(a), "closes": time(b)} for d, a, b in items]


# --- clinics --------------------------------------------------------------------------------


def test_create_clinic_stores_the_week_in_order_and_audits(admin):
    clinic = service.create_clinic(
        data={
            "name": "Aspen",
            "time_zone": "Australia/Sydney",
            "phone": "+61255550100",
            "opening_hours": hours((1, 13, 17), (0, 9, 12), (1, 8, 12)),
        },
        by=admin,
    )
    db.session.expire_all()
    assert [(h.weekday, h.opens) for h in clinic.opening_hours] == [
        (0, time(9)),
        (1, time(8)),
        (1, time(13)),
    ]
    assert clinic.address is None
    [event] = audited("clinic", clinic.id)
    assert (event.action, event.actor_id) == ("create", admin.id)


def test_create_clinic_refuses_overlapping_hours_naming_the_entry(admin):
    with pytest.raises(InvalidInput) as refused:
        service.create_clinic(
            data={
                "name": "Aspen",
                "time_zone": "UTC",
                "opening_hours": hours((0, 9, 17), (0, 16, 18), (2, 10, 9)),
            },
            by=admin,
        )
    assert set(refused.value.errors) == {"opening_hours.1", "opening_hours.2"}


def test_update_clinic_replaces_the_week_only_when_sent(admin, clinic):
    service.update_clinic(clinic=clinic, changes={"name": "Cedar Downtown"}, by=admin)
    assert len(clinic.opening_hours) == 5
    service.update_clinic(clinic=clinic, changes={"opening_hours": hours((5, 10, 14))}, by=admin)
    db.session.expire_all()
    stored = db.session.scalars(
        select(OpeningHours).where(OpeningHours.clinic_id == clinic.id)
    ).all()
    assert [(h.weekday, h.opens, h.closes) for h in stored] == [(5, time(10), time(14))]
    assert clinic.name == "Cedar Downtown"


def test_admins_find_every_clinic_staff_only_their_own(admin, clinic, other_clinic, nurse):
    assert service.find_clinic(clinic_id=other_clinic.id, by=admin) is other_clinic
    assert service.find_clinic(clinic_id=clinic.id, by=nurse.user) is clinic
    with pytest.raises(NotFound):
        service.find_clinic(clinic_id=other_clinic.id, by=nurse.user)


def test_a_user_without_an_active_staff_record_sees_no_clinic(make_user, clinic, nurse):
    stranger = make_user(Role.THERAPIST)
    with pytest.raises(NotFound):
        service.find_clinic(clinic_id=clinic.id, by=stranger)
    nurse.active = False
    with pytest.raises(NotFound):
        service.find_clinic(clinic_id=clinic.id, by=nurse.user)
    assert db.session.scalars(service.clinics_for(by=stranger)).all() == []


def test_clinics_for_lists_by_name_within_scope(admin, clinic, other_clinic, nurse):
    assert db.session.scalars(service.clinics_for(by=admin)).all() == [other_clinic, clinic]
    assert db.session.scalars(service.clinics_for(by=nurse.user)).all() == [clinic]


# --- rooms ----------------------------------------------------------------------------------


def test_room_names_are_unique_per_clinic_ignoring_case(admin, clinic, other_clinic):
    service.create_room(clinic=clinic, data={"name": "Dosing 1", "kind": RoomKind.DOSING}, by=admin)
    with pytest.raises(Conflict) as refused:
        service.create_room(
            clinic=clinic, data={"name": "dosing 1", "kind": RoomKind.THERAPY}, by=admin
        )
    assert refused.value.code == "room_name_taken"
    assert list(refused.value.errors) == ["name"]
    elsewhere = service.create_room(
        clinic=other_clinic, data={"name": "Dosing 1", "kind": RoomKind.DOSING}, by=admin
    )
    assert elsewhere.active is True


def test_update_room_may_keep_its_own_name_but_not_take_another(admin, clinic, make_room):
    first = make_room(clinic, name="Calm")
    make_room(clinic, name="Quiet")
    service.update_room(room=first, changes={"name": "CALM", "active": False}, by=admin)
    assert (first.name, first.active) == ("CALM", False)
    with pytest.raises(Conflict):
        service.update_room(room=first, changes={"name": "quiet"}, by=admin)
    assert [e.action for e in audited("room", first.id)] == ["update"]


def test_rooms_of_filters_by_kind_and_activity(clinic, other_clinic, make_room):
    dosing = make_room(clinic, name="B dosing", kind="dosing")
    therapy = make_room(clinic, name="a therapy", kind="therapy", active=False)
    make_room(other_clinic, name="elsewhere", kind="dosing")
    assert db.session.scalars(service.rooms_of(clinic=clinic)).all() == [therapy, dosing]
    assert db.session.scalars(service.rooms_of(clinic=clinic, kind="dosing")).all() == [dosing]
    assert db.session.scalars(service.rooms_of(clinic=clinic, active=False)).all() == [therapy]


def test_find_room_hides_another_clinics_room(clinic, other_clinic, nurse, make_room):
    mine, theirs = make_room(clinic), make_room(other_clinic)
    assert service.find_room(room_id=mine.id, by=nurse.user) is mine
    with pytest.raises(NotFound):
        service.find_room(room_id=theirs.id, by=nurse.user)


# --- staff ----------------------------------------------------------------------------------


def staff_data(clinic, **overrides) -> dict:
    return {
        "email": "Rae.Prescriber@clinic.test",
        "full_name": "Rae Prescriber",
        "password": PASSWORD,
        "roles": [Role.PRESCRIBER, Role.THERAPIST],
        "clinic_id": clinic.id,
        "credentials": "MD",
        **overrides,
    }


def test_create_staff_makes_a_login_with_roles_and_a_staff_record(admin, clinic):
    staff = service.create_staff(data=staff_data(clinic), by=admin)
    db.session.expire_all()
    assert staff.user.email == "rae.prescriber@clinic.test"
    assert staff.sorted_roles == [Role.PRESCRIBER, Role.THERAPIST]
    assert verify_password(staff.user.password_hash, PASSWORD)
    assert (staff.clinic_id, staff.credentials, staff.phone, staff.active) == (
        clinic.id,
        "MD",
        None,
        True,
    )
    assert [e.action for e in audited("staff", staff.id)] == ["create"]


def test_create_staff_refuses_a_taken_email_naming_it(admin, clinic, nurse):
    with pytest.raises(Conflict) as refused:
        service.create_staff(data=staff_data(clinic, email=nurse.email.upper()), by=admin)
    assert refused.value.errors == {"email": ["An account with this email already exists."]}


def test_create_staff_in_an_unknown_clinic_creates_no_login(admin, clinic):
    data = staff_data(clinic, clinic_id=admin.id)
    with pytest.raises(InvalidInput) as refused:
        service.create_staff(data=data, by=admin)
    assert list(refused.value.errors) == ["clinic_id"]
    count = select(func.count()).select_from(User).where(User.email == data["email"].lower())
    assert db.session.scalar(count) == 0


def test_create_staff_refuses_a_short_password(admin, clinic):
    with pytest.raises(InvalidInput) as refused:
        service.create_staff(data=staff_data(clinic, password="short"), by=admin)
    assert list(refused.value.errors) == ["password"]


def test_deactivating_staff_disables_the_login_and_reactivating_restores_it(admin, nurse):
    service.update_staff(staff=nurse, changes={"active": False}, by=admin)
    assert (nurse.active, nurse.user.active) == (False, False)
    service.update_staff(staff=nurse, changes={"active": True}, by=admin)
    assert (nurse.active, nurse.user.active) == (True, True)


def test_update_staff_changes_name_roles_clinic_and_details(admin, nurse, other_clinic):
    service.update_staff(
        staff=nurse,
        changes={
            "full_name": "Nia N. Nurse",
            "roles": [Role.NURSE, Role.FRONT_DESK],
            "clinic_id": other_clinic.id,
            "phone": "+15555550111",
            "credentials": None,
        },
        by=admin,
    )
    db.session.expire_all()
    assert nurse.full_name == "Nia N. Nurse"
    assert nurse.user.roles == {Role.NURSE, Role.FRONT_DESK}
    assert nurse.clinic_id == other_clinic.id
    assert nurse.clinic is other_clinic
    assert (nurse.phone, nurse.credentials) == ("+15555550111", None)


def test_moving_staff_to_an_unknown_clinic_is_refused(admin, nurse):
    with pytest.raises(InvalidInput) as refused:
        service.update_staff(staff=nurse, changes={"clinic_id": admin.id}, by=admin)
    assert list(refused.value.errors) == ["clinic_id"]


@pytest.mark.parametrize("changes", [{"active": False}, {"roles": [Role.NURSE]}])
def test_the_last_active_admin_cannot_be_removed(clinic, make_staff, changes):
    boss = make_staff(clinic, Role.ADMIN, Role.NURSE)
    with pytest.raises(Conflict) as refused:
        service.update_staff(staff=boss, changes=changes, by=boss.user)
    assert refused.value.code == "last_admin"
    assert boss.user.active and Role.ADMIN in boss.user.roles


def test_an_admin_may_be_removed_while_another_remains(admin, clinic, make_staff):
    boss = make_staff(clinic, Role.ADMIN)
    service.update_staff(staff=boss, changes={"roles": [Role.NURSE]}, by=admin)
    assert boss.user.roles == {Role.NURSE}


def test_staff_directory_filters_and_keeps_to_the_callers_clinic(
    admin, clinic, other_clinic, make_staff, nurse, other_nurse
):
    therapist = make_staff(clinic, Role.THERAPIST, full_name="Ari Therapist", active=False)

    def listed(by, **filters):
        return db.session.scalars(service.staff_directory(by=by, **filters)).all()

    assert listed(admin) == [therapist, nurse, other_nurse]
    assert listed(admin, clinic_id=other_clinic.id) == [other_nurse]
    assert listed(admin, role=Role.NURSE) == [nurse, other_nurse]
    assert listed(admin, active=True) == [nurse, other_nurse]
    assert listed(nurse.user) == [therapist, nurse]
    assert listed(nurse.user, clinic_id=other_clinic.id) == []


def test_find_staff_hides_another_clinics_staff(nurse, other_nurse):
    assert service.find_staff(staff_id=nurse.id, by=nurse.user) is nurse
    with pytest.raises(NotFound):
        service.find_staff(staff_id=other_nurse.id, by=nurse.user)


def test_within_scope_narrows_a_query_to_the_callers_clinic(admin, nurse, other_nurse):
    stmt = select(StaffMember).order_by(StaffMember.id)
    assert (
        len(db.session.scalars(policy.within_scope(stmt, StaffMember.clinic_id, admin)).all()) == 2
    )
    assert db.session.scalars(
        policy.within_scope(stmt, StaffMember.clinic_id, nurse.user)
    ).all() == [nurse]


def test_every_out_schema_dumps_a_stored_object(admin, clinic, nurse, make_room):
    room = make_room(clinic, name="Calm")
    entry = service.add_time_off(
        staff=nurse, starts_at=NOON, ends_at=NOON + timedelta(hours=4), by=admin, now=NOON
    )
    assert ClinicOut().dump(clinic)["opening_hours"][0] == {
        "weekday": "monday",
        "opens": "08:00",
        "closes": "18:00",
    }
    assert RoomOut().dump(room)["kind"] == "dosing"
    shown = StaffOut().dump(nurse)
    assert shown["roles"] == ["nurse"] and shown["email"] == nurse.user.email
    assert "password" not in shown and "password_hash" not in shown
    assert WorkingWeekOut().dump(nurse)["time_zone"] == "America/New_York"
    assert TimeOffOut().dump(entry)["starts_at"] == "2026-12-01T17:00:00+00:00"
