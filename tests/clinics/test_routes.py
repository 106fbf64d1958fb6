"""The HTTP contract of clinics, rooms, staff, working hours and time off."""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import func, select

from kapt_api.auth.models import AuditEvent, Role, User
from kapt_api.clinics.models import Clinic, Room, StaffMember, TimeOff
from kapt_api.db import db
from tests.clinics.conftest import API, assert_problem, assert_retry_answers_the_first, etag_of

WEEKDAY_HOURS = [
    {"weekday": day, "opens": "08:00", "closes": "18:00"}
    for day in ("monday", "tuesday", "wednesday", "thursday", "friday")
]
NEW_CLINIC = {
    "name": "Aspen Clinic",
    "time_zone": "Australia/Sydney",
    "phone": "+61255550100",
    "address": "2 George St",
    "opening_hours": WEEKDAY_HOURS,
}
PASSWORD = "a long enough password"


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def new_staff(clinic: Clinic, **overrides) -> dict:
    return {
        "email": "rae@clinic.test",
        "full_name": "Rae Prescriber",
        "password": PASSWORD,
        "roles": ["prescriber"],
        "clinic_id": str(clinic.id),
        **overrides,
    }


# --- clinics --------------------------------------------------------------------------------


def test_an_admin_opens_a_clinic(client, admin_headers):
    response = client.post(f"{API}/clinics", json=NEW_CLINIC, headers=admin_headers)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert {k: body[k] for k in NEW_CLINIC} == NEW_CLINIC
    assert response.headers["Location"].endswith(f"/api/v1/clinics/{body['id']}")
    assert response.headers["ETag"] == etag_of(client, response.headers["Location"], admin_headers)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"time_zone": "Mars/Olympus_Mons"}, "time_zone"),
        ({"time_zone": "America/New_York\x00"}, "time_zone"),
        ({"phone": "555-0100"}, "phone"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 201}, "name"),
        (
            {"opening_hours": [{"weekday": "funday", "opens": "08:00", "closes": "09:00"}]},
            "opening_hours.0.weekday",
        ),
        (
            {"opening_hours": [{"weekday": "monday", "opens": "8am", "closes": "09:00"}]},
            "opening_hours.0.opens",
        ),
        (
            {"opening_hours": [{"weekday": "monday", "opens": "18:00", "closes": "09:00"}]},
            "opening_hours.0",
        ),
        (
            {
                "opening_hours": [
                    *WEEKDAY_HOURS,
                    {"weekday": "friday", "opens": "17:00", "closes": "20:00"},
                ]
            },
            "opening_hours.5",
        ),
        ({"opening_hours": WEEKDAY_HOURS * 11}, "opening_hours"),
        ({"color": "green"}, "color"),
    ],
)
def test_opening_a_clinic_with_a_bad_field_is_refused_naming_it(
    client, admin_headers, change, field
):
    response = client.post(f"{API}/clinics", json={**NEW_CLINIC, **change}, headers=admin_headers)
    assert_problem(response, 422, field)
    assert count(Clinic) == 0


def test_a_missing_name_or_zone_is_named(client, admin_headers):
    response = client.post(f"{API}/clinics", json={"phone": "+15555550100"}, headers=admin_headers)
    assert_problem(response, 422, "name", "time_zone")


def test_overlapping_opening_hours_say_which_entry_they_overlap(client, admin_headers):
    hours = [
        {"weekday": "monday", "opens": "09:00", "closes": "13:00"},
        {"weekday": "monday", "opens": "12:00", "closes": "17:00"},
    ]
    response = client.post(
        f"{API}/clinics", json={**NEW_CLINIC, "opening_hours": hours}, headers=admin_headers
    )
    body = assert_problem(response, 422, "opening_hours.1")
    assert body["errors"]["opening_hours.1"] == ["Overlaps opening_hours.0 (monday 09:00-13:00)."]


@pytest.mark.parametrize("role", ["nurse", "front_desk", "prescriber", "therapist"])
def test_only_admins_open_clinics(client, clinic, make_staff, staff_headers, role):
    member = make_staff(clinic, Role(role))
    response = client.post(f"{API}/clinics", json=NEW_CLINIC, headers=staff_headers(member))
    body = assert_problem(response, 403)
    assert "admin" in body["detail"]


def test_opening_a_clinic_needs_a_token(client):
    assert_problem(client.post(f"{API}/clinics", json=NEW_CLINIC), 401)


def test_a_retried_clinic_creation_returns_the_first_clinic(client, admin_headers):
    assert_retry_answers_the_first(client, f"{API}/clinics", NEW_CLINIC, admin_headers)
    assert count(Clinic) == 1


def test_admins_list_every_clinic_paginated(client, admin_headers, clinic, other_clinic):
    response = client.get(f"{API}/clinics?page_size=1", headers=admin_headers)
    assert response.status_code == 200
    assert [c["name"] for c in response.get_json()] == ["Birch Clinic"]
    pagination = json.loads(response.headers["X-Pagination"])
    assert (pagination["total"], pagination["total_pages"]) == (2, 2)
    second = client.get(f"{API}/clinics?page_size=1&page=2", headers=admin_headers)
    assert [c["name"] for c in second.get_json()] == ["Cedar Clinic"]


def test_staff_list_and_read_only_their_own_clinic(client, nurse_headers, clinic, other_clinic):
    listed = client.get(f"{API}/clinics", headers=nurse_headers)
    assert [c["id"] for c in listed.get_json()] == [str(clinic.id)]
    assert client.get(f"{API}/clinics/{clinic.id}", headers=nurse_headers).status_code == 200
    assert_problem(client.get(f"{API}/clinics/{other_clinic.id}", headers=nurse_headers), 404)
    assert_problem(client.get(f"{API}/clinics/{uuid.uuid4()}", headers=nurse_headers), 404)


def test_a_clinic_shows_its_hours_by_weekday_name(client, admin_headers, clinic):
    body = client.get(f"{API}/clinics/{clinic.id}", headers=admin_headers).get_json()
    assert body["time_zone"] == "America/New_York"
    assert body["opening_hours"][0] == {"weekday": "monday", "opens": "08:00", "closes": "18:00"}
    assert len(body["opening_hours"]) == 5


def test_patching_a_clinic_needs_the_current_etag(client, admin_headers, clinic):
    url = f"{API}/clinics/{clinic.id}"
    assert_problem(client.patch(url, json={"name": "New"}, headers=admin_headers), 428)
    stale = {**admin_headers, "If-Match": '"not-the-etag"'}
    assert_problem(client.patch(url, json={"name": "New"}, headers=stale), 412)
    etag = etag_of(client, url, admin_headers)
    saturday = [{"weekday": "saturday", "opens": "10:00", "closes": "14:00"}]
    response = client.patch(
        url,
        json={"name": "Cedar Downtown", "opening_hours": saturday},
        headers={**admin_headers, "If-Match": etag},
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["name"] == "Cedar Downtown"
    assert response.get_json()["opening_hours"] == saturday
    assert response.headers["ETag"] != etag
    again = client.patch(url, json={"name": "Old"}, headers={**admin_headers, "If-Match": etag})
    assert_problem(again, 412)


def test_a_patch_without_opening_hours_keeps_them(client, admin_headers, clinic):
    url = f"{API}/clinics/{clinic.id}"
    headers = {**admin_headers, "If-Match": etag_of(client, url, admin_headers)}
    response = client.patch(url, json={"address": None}, headers=headers)
    assert response.get_json()["address"] is None
    assert len(response.get_json()["opening_hours"]) == 5


@pytest.mark.parametrize("change", [{"time_zone": None}, {"name": None}, {"time_zone": "EST5"}])
def test_a_clinic_cannot_lose_its_name_or_zone(client, admin_headers, clinic, change):
    url = f"{API}/clinics/{clinic.id}"
    headers = {**admin_headers, "If-Match": etag_of(client, url, admin_headers)}
    assert_problem(client.patch(url, json=change, headers=headers), 422, *change)


def test_staff_cannot_patch_their_clinic(client, nurse_headers, clinic):
    url = f"{API}/clinics/{clinic.id}"
    headers = {**nurse_headers, "If-Match": etag_of(client, url, nurse_headers)}
    assert_problem(client.patch(url, json={"name": "Mine"}, headers=headers), 403)
    assert clinic.name == "Cedar Clinic"


# --- rooms ----------------------------------------------------------------------------------


def test_an_admin_adds_a_room_and_reads_it_back(client, admin_headers, clinic):
    response = client.post(
        f"{API}/clinics/{clinic.id}/rooms",
        json={"name": "Dosing 1", "kind": "dosing"},
        headers=admin_headers,
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body == {
        "id": body["id"],
        "clinic_id": str(clinic.id),
        "name": "Dosing 1",
        "kind": "dosing",
        "active": True,
    }
    assert client.get(response.headers["Location"], headers=admin_headers).get_json() == body


def test_a_second_room_of_the_same_name_is_a_conflict_naming_the_field(
    client, admin_headers, clinic, make_room
):
    make_room(clinic, name="Dosing 1")
    response = client.post(
        f"{API}/clinics/{clinic.id}/rooms",
        json={"name": "DOSING 1", "kind": "therapy"},
        headers=admin_headers,
    )
    body = assert_problem(response, 409, "name")
    assert body["code"] == "room_name_taken"


@pytest.mark.parametrize(
    ("room", "field"),
    [
        ({"name": "A", "kind": "sauna"}, "kind"),
        ({"name": "", "kind": "dosing"}, "name"),
        ({"kind": "dosing"}, "name"),
        ({"name": "A", "kind": "dosing", "active": "yes"}, "active"),
    ],
)
def test_a_bad_room_is_refused_naming_the_field(client, admin_headers, clinic, room, field):
    response = client.post(f"{API}/clinics/{clinic.id}/rooms", json=room, headers=admin_headers)
    assert_problem(response, 422, field)


def test_a_room_for_an_unknown_clinic_is_404(client, admin_headers):
    response = client.post(
        f"{API}/clinics/{uuid.uuid4()}/rooms",
        json={"name": "A", "kind": "dosing"},
        headers=admin_headers,
    )
    assert_problem(response, 404)


def test_a_retried_room_creation_returns_the_first_room(client, admin_headers, clinic):
    url = f"{API}/clinics/{clinic.id}/rooms"
    assert_retry_answers_the_first(client, url, {"name": "Calm", "kind": "therapy"}, admin_headers)
    assert count(Room) == 1


def test_rooms_are_listed_with_filters(client, nurse_headers, clinic, other_clinic, make_room):
    make_room(clinic, name="B", kind="dosing")
    make_room(clinic, name="A", kind="therapy", active=False)
    make_room(clinic, name="C", kind="dosing", active=False)
    make_room(other_clinic, name="Elsewhere")
    url = f"{API}/clinics/{clinic.id}/rooms"

    def names(query=""):
        response = client.get(f"{url}{query}", headers=nurse_headers)
        assert response.status_code == 200, response.get_json()
        return [room["name"] for room in response.get_json()]

    assert names() == ["A", "B", "C"]
    assert names("?kind=dosing") == ["B", "C"]
    assert names("?active=false") == ["A", "C"]
    assert names("?kind=dosing&active=true") == ["B"]
    response = client.get(f"{url}?page_size=2", headers=nurse_headers)
    assert json.loads(response.headers["X-Pagination"])["total"] == 3
    assert_problem(client.get(f"{url}?kind=sauna", headers=nurse_headers), 422, "kind")
    assert_problem(client.get(f"{url}?page_size=101", headers=nurse_headers), 422, "page_size")


def test_another_clinics_rooms_are_404(client, nurse_headers, other_clinic, make_room):
    room = make_room(other_clinic)
    assert_problem(client.get(f"{API}/clinics/{other_clinic.id}/rooms", headers=nurse_headers), 404)
    assert_problem(client.get(f"{API}/rooms/{room.id}", headers=nurse_headers), 404)


def test_patching_a_room_needs_the_current_etag(client, admin_headers, clinic, make_room):
    room = make_room(clinic, name="Calm")
    make_room(clinic, name="Quiet")
    url = f"{API}/rooms/{room.id}"
    assert_problem(client.patch(url, json={"active": False}, headers=admin_headers), 428)
    stale = {**admin_headers, "If-Match": '"stale"'}
    assert_problem(client.patch(url, json={"active": False}, headers=stale), 412)
    headers = {**admin_headers, "If-Match": etag_of(client, url, admin_headers)}
    taken = client.patch(url, json={"name": "quiet"}, headers=headers)
    assert_problem(taken, 409, "name")
    response = client.patch(url, json={"kind": "telehealth", "active": False}, headers=headers)
    assert response.status_code == 200, response.get_json()
    assert (response.get_json()["kind"], response.get_json()["active"]) == ("telehealth", False)


def test_staff_cannot_add_or_change_rooms(client, nurse_headers, clinic, make_room):
    room = make_room(clinic)
    created = client.post(
        f"{API}/clinics/{clinic.id}/rooms",
        json={"name": "X", "kind": "dosing"},
        headers=nurse_headers,
    )
    assert_problem(created, 403)
    url = f"{API}/rooms/{room.id}"
    headers = {**nurse_headers, "If-Match": etag_of(client, url, nurse_headers)}
    assert_problem(client.patch(url, json={"active": False}, headers=headers), 403)


# --- staff ----------------------------------------------------------------------------------


def test_an_admin_creates_a_staff_member_who_can_then_log_in(client, admin_headers, clinic):
    response = client.post(
        f"{API}/staff",
        json=new_staff(
            clinic, roles=["therapist", "prescriber"], credentials="MD", phone="+15555550123"
        ),
        headers=admin_headers,
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body == {
        "id": body["id"],
        "user_id": body["user_id"],
        "email": "rae@clinic.test",
        "full_name": "Rae Prescriber",
        "roles": ["prescriber", "therapist"],
        "clinic_id": str(clinic.id),
        "credentials": "MD",
        "phone": "+15555550123",
        "active": True,
        "working_hours": [],
    }
    login = client.post(
        f"{API}/auth/tokens", json={"email": "rae@clinic.test", "password": PASSWORD}
    )
    assert login.status_code == 201
    assert sorted(login.get_json()["user"]["roles"]) == ["prescriber", "therapist"]
    audit = db.session.scalar(select(AuditEvent).where(AuditEvent.resource_id == body["id"]))
    assert (audit.action, audit.resource_type) == ("create", "staff")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"password": "too short"}, "password"),
        ({"roles": []}, "roles"),
        ({"roles": ["wizard"]}, "roles.0"),
        ({"email": "not-an-email"}, "email"),
        ({"clinic_id": "not-a-uuid"}, "clinic_id"),
        ({"phone": "0101"}, "phone"),
        ({"full_name": "\x00"}, "full_name"),
        ({"active": False}, "active"),
    ],
)
def test_a_bad_staff_member_is_refused_naming_the_field(
    client, admin_headers, clinic, change, field
):
    response = client.post(f"{API}/staff", json=new_staff(clinic, **change), headers=admin_headers)
    body = assert_problem(response, 422, field)
    assert PASSWORD not in json.dumps(body)
    assert count(StaffMember) == 0


def test_a_staff_member_in_an_unknown_clinic_leaves_no_login_behind(client, admin_headers, clinic):
    data = new_staff(clinic, clinic_id=str(uuid.uuid4()))
    assert_problem(client.post(f"{API}/staff", json=data, headers=admin_headers), 422, "clinic_id")
    assert db.session.scalar(select(User).where(User.email == "rae@clinic.test")) is None


def test_a_taken_email_is_a_conflict_naming_the_field(client, admin_headers, clinic, nurse):
    data = new_staff(clinic, email=nurse.email)
    body = assert_problem(
        client.post(f"{API}/staff", json=data, headers=admin_headers), 409, "email"
    )
    assert body["code"] == "email_taken"


def test_a_retried_staff_creation_returns_the_first_staff_member(client, admin_headers, clinic):
    assert_retry_answers_the_first(client, f"{API}/staff", new_staff(clinic), admin_headers)
    assert count(StaffMember) == 1


def test_only_admins_create_staff(client, nurse_headers, clinic):
    response = client.post(f"{API}/staff", json=new_staff(clinic), headers=nurse_headers)
    assert_problem(response, 403)
    assert db.session.scalar(select(User).where(User.email == "rae@clinic.test")) is None


def test_staff_are_listed_by_name_with_filters(
    client, admin_headers, nurse_headers, clinic, other_clinic, make_staff, nurse, other_nurse
):
    make_staff(clinic, Role.THERAPIST, full_name="Ari Therapist", active=False)

    def names(headers, query=""):
        response = client.get(f"{API}/staff{query}", headers=headers)
        assert response.status_code == 200, response.get_json()
        return [s["full_name"] for s in response.get_json()]

    assert names(admin_headers) == ["Ari Therapist", "Nia Nurse", "Olu Other"]
    assert names(admin_headers, f"?clinic_id={other_clinic.id}") == ["Olu Other"]
    assert names(admin_headers, "?role=nurse") == ["Nia Nurse", "Olu Other"]
    assert names(admin_headers, "?active=false") == ["Ari Therapist"]
    assert names(nurse_headers) == ["Ari Therapist", "Nia Nurse"]
    assert names(nurse_headers, f"?clinic_id={other_clinic.id}") == []
    response = client.get(f"{API}/staff?page_size=1", headers=admin_headers)
    assert json.loads(response.headers["X-Pagination"])["total"] == 3
    assert_problem(client.get(f"{API}/staff?role=wizard", headers=admin_headers), 422, "role")


def test_another_clinics_staff_member_is_404(client, nurse_headers, other_nurse):
    for path in ("", "/working-hours", "/time-off"):
        response = client.get(f"{API}/staff/{other_nurse.id}{path}", headers=nurse_headers)
        assert_problem(response, 404)


def test_patching_staff_needs_the_current_etag(client, admin_headers, nurse):
    url = f"{API}/staff/{nurse.id}"
    assert_problem(client.patch(url, json={"credentials": "RN"}, headers=admin_headers), 428)
    stale = {**admin_headers, "If-Match": '"stale"'}
    assert_problem(client.patch(url, json={"credentials": "RN"}, headers=stale), 412)
    headers = {**admin_headers, "If-Match": etag_of(client, url, admin_headers)}
    response = client.patch(
        url, json={"credentials": "RN", "roles": ["nurse", "front_desk"]}, headers=headers
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["roles"] == ["front_desk", "nurse"]
    assert response.get_json()["credentials"] == "RN"


def test_a_deactivated_staff_member_can_no_longer_use_their_token(
    client, admin_headers, nurse, nurse_headers
):
    url = f"{API}/staff/{nurse.id}"
    assert client.get(f"{API}/auth/me", headers=nurse_headers).status_code == 200
    headers = {**admin_headers, "If-Match": etag_of(client, url, admin_headers)}
    response = client.patch(url, json={"active": False}, headers=headers)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["active"] is False
    assert_problem(client.get(f"{API}/auth/me", headers=nurse_headers), 401)


def test_reactivating_a_staff_member_opens_none_of_their_old_sessions(
    client, admin_headers, nurse, nurse_headers
):
    url = f"{API}/staff/{nurse.id}"
    for active in (False, True):
        headers = {**admin_headers, "If-Match": etag_of(client, url, admin_headers)}
        assert client.patch(url, json={"active": active}, headers=headers).status_code == 200

    body = assert_problem(client.get(f"{API}/auth/me", headers=nurse_headers), 401)
    assert body["code"] == "token_revoked"


def test_moving_staff_to_an_unknown_clinic_is_refused(client, admin_headers, nurse):
    url = f"{API}/staff/{nurse.id}"
    headers = {**admin_headers, "If-Match": etag_of(client, url, admin_headers)}
    response = client.patch(url, json={"clinic_id": str(uuid.uuid4())}, headers=headers)
    assert_problem(response, 422, "clinic_id")


@pytest.mark.parametrize("change", [{"email": "new@clinic.test"}, {"password": PASSWORD}])
def test_email_and_password_are_not_changed_through_staff(client, admin_headers, nurse, change):
    url = f"{API}/staff/{nurse.id}"
    headers = {**admin_headers, "If-Match": etag_of(client, url, admin_headers)}
    assert_problem(client.patch(url, json=change, headers=headers), 422, *change)


def test_staff_cannot_change_staff(client, nurse_headers, nurse):
    url = f"{API}/staff/{nurse.id}"
    headers = {**nurse_headers, "If-Match": etag_of(client, url, nurse_headers)}
    assert_problem(client.patch(url, json={"roles": ["admin"]}, headers=headers), 403)
    assert "admin" not in client.get(url, headers=nurse_headers).get_json()["roles"]


# --- working hours --------------------------------------------------------------------------


def test_an_admin_replaces_the_working_week(client, admin_headers, nurse_headers, nurse):
    url = f"{API}/staff/{nurse.id}/working-hours"
    etag = etag_of(client, f"{API}/staff/{nurse.id}", admin_headers)
    week = [
        {"weekday": "tuesday", "starts": "12:00", "ends": "20:00"},
        {"weekday": "monday", "starts": "07:30", "ends": "11:00"},
    ]
    response = client.put(url, json={"working_hours": week}, headers=admin_headers)
    assert response.status_code == 200, response.get_json()
    shown = client.get(url, headers=nurse_headers).get_json()
    assert shown == {
        "staff_id": str(nurse.id),
        "clinic_id": str(nurse.clinic_id),
        "time_zone": "America/New_York",
        "working_hours": [week[1], week[0]],
    }
    assert response.get_json() == shown
    assert etag_of(client, f"{API}/staff/{nurse.id}", admin_headers) != etag


def test_overlapping_working_hours_are_refused_naming_the_entry(client, admin_headers, nurse):
    week = [
        {"weekday": "monday", "starts": "09:00", "ends": "17:00"},
        {"weekday": "monday", "starts": "16:00", "ends": "18:00"},
        {"weekday": "friday", "starts": "17:00", "ends": "09:00"},
    ]
    response = client.put(
        f"{API}/staff/{nurse.id}/working-hours", json={"working_hours": week}, headers=admin_headers
    )
    assert_problem(response, 422, "working_hours.1", "working_hours.2")
    assert len(nurse.working_hours) == 5


def test_an_empty_week_is_allowed_but_a_missing_one_is_not(client, admin_headers, nurse):
    url = f"{API}/staff/{nurse.id}/working-hours"
    assert_problem(client.put(url, json={}, headers=admin_headers), 422, "working_hours")
    response = client.put(url, json={"working_hours": []}, headers=admin_headers)
    assert response.get_json()["working_hours"] == []


def test_staff_cannot_set_working_hours(client, nurse_headers, nurse):
    response = client.put(
        f"{API}/staff/{nurse.id}/working-hours", json={"working_hours": []}, headers=nurse_headers
    )
    assert_problem(response, 403)


# --- time off -------------------------------------------------------------------------------


def test_an_admin_records_time_off_answered_in_utc(client, admin, admin_headers, nurse):
    response = client.post(
        f"{API}/staff/{nurse.id}/time-off",
        json={
            "starts_at": "2026-12-24T00:00:00-05:00",
            "ends_at": "2026-12-27T00:00:00-05:00",
            "reason": "Holiday",
        },
        headers=admin_headers,
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert (body["starts_at"], body["ends_at"]) == (
        "2026-12-24T05:00:00+00:00",
        "2026-12-27T05:00:00+00:00",
    )
    assert (body["staff_id"], body["created_by"], body["reason"]) == (
        str(nurse.id),
        str(admin.id),
        "Holiday",
    )


@pytest.mark.parametrize(
    ("span", "field"),
    [
        ({"starts_at": "2026-12-24T00:00:00"}, "starts_at"),
        ({"ends_at": "2026-12-24"}, "ends_at"),
        ({"ends_at": "2026-12-23T00:00:00-05:00"}, "ends_at"),
        ({"ends_at": "2027-12-26T00:00:00-05:00"}, "ends_at"),
        ({"reason": "x" * 501}, "reason"),
    ],
)
def test_bad_time_off_is_refused_naming_the_field(client, admin_headers, nurse, span, field):
    data = {"starts_at": "2026-12-24T00:00:00-05:00", "ends_at": "2026-12-27T00:00:00-05:00"}
    response = client.post(
        f"{API}/staff/{nurse.id}/time-off", json={**data, **span}, headers=admin_headers
    )
    assert_problem(response, 422, field)
    assert count(TimeOff) == 0


def test_a_retried_time_off_returns_the_first_entry(client, admin_headers, nurse):
    data = {"starts_at": "2026-12-24T00:00:00Z", "ends_at": "2026-12-25T00:00:00Z"}
    assert_retry_answers_the_first(client, f"{API}/staff/{nurse.id}/time-off", data, admin_headers)
    assert count(TimeOff) == 1


def test_time_off_is_listed_earliest_first_within_a_window(
    client, admin_headers, nurse_headers, nurse
):
    url = f"{API}/staff/{nurse.id}/time-off"
    for start, end in [
        ("2026-12-20", "2026-12-22"),
        ("2026-12-01", "2026-12-02"),
        ("2027-01-10", "2027-01-11"),
    ]:
        data = {"starts_at": f"{start}T00:00:00Z", "ends_at": f"{end}T00:00:00Z"}
        assert client.post(url, json=data, headers=admin_headers).status_code == 201

    def starts(query=""):
        response = client.get(f"{url}{query}", headers=nurse_headers)
        assert response.status_code == 200, response.get_json()
        return [entry["starts_at"][:10] for entry in response.get_json()]

    assert starts() == ["2026-12-01", "2026-12-20", "2027-01-10"]
    assert starts("?from=2026-12-21T00:00:00Z&to=2027-01-10T00:00:00Z") == ["2026-12-20"]
    response = client.get(f"{url}?page_size=2", headers=nurse_headers)
    assert json.loads(response.headers["X-Pagination"])["total"] == 3
    assert_problem(client.get(f"{url}?from=2026-12-21", headers=nurse_headers), 422, "from")


def test_staff_cannot_record_time_off(client, nurse_headers, nurse):
    data = {"starts_at": "2026-12-24T00:00:00Z", "ends_at": "2026-12-25T00:00:00Z"}
    response = client.post(f"{API}/staff/{nurse.id}/time-off", json=data, headers=nurse_headers)
    assert_problem(response, 403)
    assert count(TimeOff) == 0
