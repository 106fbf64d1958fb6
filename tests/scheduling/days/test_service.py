"""Day schedules: readiness flags over plain values, a clinic's day by room and by staff
(DST days of 23 and 25 hours included), one person's day, what monitoring may supply,
the access matrix of both endpoints, and the audit of every patient shown."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from kapt_api.auth.models import User
from kapt_api.db import db
from kapt_api.errors import Forbidden, NotFound
from kapt_api.protocols.definition import SessionKind
from kapt_api.scheduling.booking.models import Appointment, AppointmentStaff
from kapt_api.scheduling.courses.models import Course
from kapt_api.scheduling.courses.values import AppointmentStatus
from kapt_api.scheduling.days import readiness, service
from kapt_api.scheduling.days.schemas import ClinicDayOut, StaffDayOut
from tests.scheduling import builders as b
from tests.scheduling import test_calendar_helpers as helpers
from tests.scheduling.conftest import API, ESKETAMINE_KEY, PROBLEM, at, audit_rows

DOSING, PREPARATION, INTEGRATION = (
    SessionKind.DOSING,
    SessionKind.PREPARATION,
    SessionKind.INTEGRATION,
)
DONE = AppointmentStatus.COMPLETED
MONDAY = date(2026, 12, 7)

pytestmark = pytest.mark.usefixtures("now")


# --- readiness over plain values -----------------------------------------------------------


def test_preparation_is_done_only_when_the_required_sessions_were_completed_before_the_dose():
    dose = b.session(DOSING, b.MONDAY + timedelta(days=2))
    booked = [b.session(PREPARATION, b.MONDAY), b.session(PREPARATION, b.MONDAY + timedelta(1))]
    done = [b.session(PREPARATION, s.starts_at, status=DONE) for s in booked]
    after = b.session(PREPARATION, b.MONDAY + timedelta(days=3), status=DONE)

    assert readiness.preparation_done(dose, [*booked, dose], 2) is False
    assert readiness.preparation_done(dose, [*done, dose], 2) is True
    assert readiness.preparation_done(dose, [done[0], after, dose], 2) is False
    assert readiness.preparation_done(dose, [dose], 0) is True


def test_the_previous_doses_integration_must_be_booked_inside_its_window():
    first = b.session(DOSING, b.MONDAY)
    second = b.session(DOSING, b.MONDAY + timedelta(days=7))
    inside = b.session(INTEGRATION, b.MONDAY + timedelta(days=1, hours=4))
    too_late = b.session(INTEGRATION, b.MONDAY + timedelta(days=5))
    cancelled = b.session(INTEGRATION, inside.starts_at, status=AppointmentStatus.CANCELLED)

    def flag(*sessions):
        return readiness.previous_integration_booked(second, [first, second, *sessions], b.IM_KAP)

    assert flag(inside) is True
    assert flag(too_late) is False
    assert flag(cancelled) is False
    assert readiness.previous_integration_booked(first, [first, second], b.IM_KAP) is None
    # A protocol without integration sessions has nothing to be ready for.
    doses = [b.session(DOSING, s.starts_at, b.ESKETAMINE) for s in (first, second)]
    assert readiness.previous_integration_booked(doses[1], doses, b.ESKETAMINE) is None


def test_sessions_other_than_doses_have_no_readiness_to_show():
    preparation = b.session(PREPARATION, b.MONDAY)
    assert readiness.readiness_of(preparation, [preparation], b.IM_KAP) == {
        "preparation_done": None,
        "previous_integration_booked": None,
    }


def test_monitoring_supplies_its_flags_through_the_registry_and_only_known_states(monkeypatch):
    # The registry as it was comes back after the test (monitoring's own sources with it).
    monkeypatch.setattr(readiness, "_sources", dict(readiness._sources))
    ids = [uuid.uuid4(), uuid.uuid4()]
    assert readiness.supplied("checklist_state", ids) == dict.fromkeys(ids, "not_started")
    assert readiness.supplied("escort_confirmed", ids) == dict.fromkeys(ids, "unknown")
    readiness.supply("checklist_state", lambda asked: {asked[0]: "hold"})
    try:
        assert readiness.supplied("checklist_state", ids) == {ids[0]: "hold", ids[1]: "not_started"}
        readiness.supply("checklist_state", lambda asked: {asked[0]: "fine"})
        with pytest.raises(ValueError, match="unknown states"):
            readiness.supplied("checklist_state", ids)
    finally:
        readiness.supply("checklist_state", None)
    with pytest.raises(ValueError, match="unknown readiness flag"):
        readiness.supply("weather", lambda asked: {})


def test_flags_supplied_together_are_read_once_and_a_flags_own_source_comes_first():
    ids = [uuid.uuid4(), uuid.uuid4()]
    asked: list[list[uuid.UUID]] = []

    def both(dose_ids: Any) -> dict[str, dict[uuid.UUID, str]]:
        asked.append(list(dose_ids))
        return {"checklist_state": {dose_ids[0]: "hold"}, "escort_confirmed": {}}

    flags = ("checklist_state", "escort_confirmed")
    monitoring = dict(readiness._joint)  # the application's own (monitoring's)
    readiness._joint.clear()
    readiness.supply_together(flags, both)
    try:
        assert readiness.supplied_all(ids) == {
            "checklist_state": {ids[0]: "hold", ids[1]: "not_started"},
            "escort_confirmed": dict.fromkeys(ids, "unknown"),
        }
        assert asked == [ids]
        assert readiness.supplied_all([]) == {flag: {} for flag in flags} and asked == [ids]
        readiness.supply("checklist_state", lambda dose_ids: {dose_ids[1]: "completed"})
        assert readiness.supplied("checklist_state", ids) == {
            ids[0]: "not_started",
            ids[1]: "completed",
        }
        assert asked == [ids]  # nothing left for the joint source to answer
        readiness.supply("checklist_state", None)
        readiness.supply_together(flags, lambda dose_ids: {"escort_confirmed": {ids[0]: "ok"}})
        with pytest.raises(ValueError, match="unknown states"):
            readiness.supplied_all(ids)
        with pytest.raises(ValueError, match="unknown readiness flag"):
            readiness.supply_together(("weather",), both)
    finally:
        readiness._joint.clear()
        readiness._joint.update(monitoring)


# --- the clinic's day ----------------------------------------------------------------------


@pytest.fixture
def book(place, caller_of, now):
    def make(course: Course, kind: SessionKind, starts_at: datetime, **kwargs: Any) -> Appointment:
        return helpers.book(
            place, course, kind, starts_at, by=caller_of(place.front_desk), now=now, **kwargs
        )

    return make


@pytest.fixture
def week(course, book):
    """The IM KAP course: preparations on Monday (the first done), a dose on Wednesday."""
    first = book(course, PREPARATION, at(0, 9))
    second = book(course, PREPARATION, at(0, 13))
    dose = book(course, DOSING, at(2, 10))
    first.status = DONE
    db.session.commit()
    return first, second, dose


def _items(day: dict[str, Any], key: str) -> dict[str, list[str]]:
    groups = day[key]
    name = "room" if key == "by_room" else "staff"
    return {g[name]["name"]: [a["id"] for a in g["appointments"]] for g in groups}


def test_a_clinics_day_lists_every_room_and_clinician_with_their_appointments(
    place, week, caller_of
):
    first, second, _dose = week
    day = service.clinic_day(
        clinic_id=place.clinic.id, day=MONDAY, by=caller_of(place.admin)
    ).answer

    assert ClinicDayOut().load(day)  # the documented shape
    assert day["hours"] == 24 and day["time_zone"] == "America/New_York"
    assert _items(day, "by_room") == {"Oak": [str(first.id), str(second.id)], "Willow": []}
    staff = _items(day, "by_staff")
    assert staff == {
        place.nurse.full_name: [],
        place.prescriber.full_name: [],
        place.therapist.full_name: [str(first.id), str(second.id)],
    }
    shown = day["by_room"][0]["appointments"][0]
    assert shown["patient_name"] == "Avery Quill"
    assert shown["local_starts_at"] == "2026-12-07T09:00:00-05:00"
    assert shown["starts_at"] == "2026-12-07T14:00:00+00:00"
    assert shown["readiness"] == {
        "preparation_done": None,
        "previous_integration_booked": None,
        "flags": [],
        "checklist_state": "not_applicable",
        "escort_confirmed": "not_applicable",
    }
    assert "clinical_notes" not in str(day) and "baseline anxiety" not in str(day)


def test_a_dose_shows_whether_it_is_ready(place, week, caller_of):
    second = week[1]
    wednesday = date(2026, 12, 9)

    def ready() -> dict[str, Any]:
        day = service.clinic_day(
            clinic_id=place.clinic.id, day=wednesday, by=caller_of(place.front_desk)
        ).answer
        (shown,) = [a for g in day["by_room"] for a in g["appointments"]]
        return shown["readiness"]

    assert ready() == {
        "preparation_done": False,  # the second preparation is booked, not done
        "previous_integration_booked": None,  # the first dose
        "flags": [],  # both preparations are booked before it
        "checklist_state": "not_started",
        "escort_confirmed": "unknown",
    }
    second.status = DONE
    db.session.commit()
    readiness.supply("escort_confirmed", lambda ids: dict.fromkeys(ids, "confirmed"))
    try:
        assert ready()["preparation_done"] is True
        assert ready()["escort_confirmed"] == "confirmed"
    finally:
        readiness.supply("escort_confirmed", None)


def test_the_second_doses_readiness_sees_the_first_doses_integration(
    place, week, book, course, caller_of
):
    _first, _second, _dose = week
    for appointment in _first, _second:
        appointment.status = DONE
    db.session.commit()
    book(course, INTEGRATION, at(3, 15))
    later = book(course, DOSING, at(9, 10))  # course week 2: the protocol doses weekly

    rows = service.clinic_day(
        clinic_id=place.clinic.id,
        day=date(2026, 12, 16),
        by=caller_of(place.front_desk),
    ).answer
    (shown,) = [a for g in rows["by_room"] for a in g["appointments"]]
    assert shown["id"] == str(later.id)
    assert shown["readiness"]["previous_integration_booked"] is True


def _direct(course: Course, starts_at: datetime, room, staff, minutes: int = 60) -> Appointment:
    """An appointment row written as is (a day's edges, not the booking rules, under test)."""
    appointment = Appointment(
        course_id=course.id,
        patient_id=course.patient_id,
        clinic_id=course.clinic_id,
        kind="preparation",
        status="booked",
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=minutes),
        held_until=starts_at + timedelta(minutes=minutes),
        room_id=room.id,
    )
    appointment.staff = [AppointmentStaff(staff_id=staff.id, position=0)]
    db.session.add(appointment)
    db.session.commit()
    return appointment


@pytest.mark.parametrize(
    ("zone", "day", "hours", "inside", "outside"),
    [
        # London springs forward on 29 March 2026: 23 hours, 00:00Z to 23:00Z.
        (
            "Europe/London",
            date(2026, 3, 29),
            23,
            "2026-03-29T22:30+00:00",
            "2026-03-29T23:15+00:00",
        ),
        # New York falls back on 1 November 2026: 25 hours, 04:00Z to 05:00Z the next day.
        (
            "America/New_York",
            date(2026, 11, 1),
            25,
            "2026-11-02T04:30+00:00",
            "2026-11-02T05:10+00:00",
        ),
        # Sydney falls back on 5 April 2026: 25 hours, from 13:00Z the day before.
        (
            "Australia/Sydney",
            date(2026, 4, 5),
            25,
            "2026-04-04T13:00+00:00",
            "2026-04-04T12:00+00:00",
        ),
    ],
)
def test_a_day_is_the_clinics_calendar_day_of_23_or_25_hours(
    make_place, make_patient, make_course, caller_of, zone, day, hours, inside, outside
):
    where = make_place(name=f"Clinic {zone}", time_zone=zone)
    course = make_course(on=make_patient(where.clinic), at=where)
    kept = _direct(course, datetime.fromisoformat(inside), where.therapy_room, where.therapist, 30)
    _direct(course, datetime.fromisoformat(outside), where.therapy_room, where.therapist, 30)

    shown = service.clinic_day(clinic_id=where.clinic.id, day=day, by=caller_of(where.admin)).answer

    assert shown["hours"] == hours
    assert _items(shown, "by_room")["Oak"] == [str(kept.id)]
    local = datetime.fromisoformat(shown["by_room"][0]["appointments"][0]["local_starts_at"])
    assert (
        local.date() == day
        and local.utcoffset() == kept.starts_at.astimezone(ZoneInfo(zone)).utcoffset()
    )


def test_an_appointment_running_past_midnight_shows_on_both_days(place, course, caller_of):
    late = _direct(course, at(0, 23), place.therapy_room, place.therapist, minutes=120)
    for day in (MONDAY, MONDAY + timedelta(days=1)):
        shown = service.clinic_day(
            clinic_id=place.clinic.id, day=day, by=caller_of(place.admin)
        ).answer
        assert _items(shown, "by_room")["Oak"] == [str(late.id)]


def test_reading_a_day_audits_one_read_with_every_patient_shown(place, week, caller_of):
    service.clinic_day(clinic_id=place.clinic.id, day=MONDAY, by=caller_of(place.front_desk))
    rows = audit_rows(resource_type="schedule")
    assert [(r.action, r.patient_ids, r.actor_id) for r in rows] == [
        ("read", [week[0].patient_id], place.front_desk.user_id)
    ]


def test_who_sees_which_day(place, other_place, caller_of):
    for who in (place.therapist, place.nurse, place.prescriber):
        with pytest.raises(Forbidden):
            service.clinic_day(clinic_id=place.clinic.id, day=MONDAY, by=caller_of(who))
        with pytest.raises(Forbidden):
            service.find_staff_for_day(staff_id=place.front_desk.id, by=caller_of(who))
        assert service.find_staff_for_day(staff_id=who.id, by=caller_of(who)) == who
    with pytest.raises(NotFound):
        service.clinic_day(
            clinic_id=place.clinic.id, day=MONDAY, by=caller_of(other_place.front_desk)
        )
    with pytest.raises(NotFound):
        service.find_staff_for_day(staff_id=place.nurse.id, by=caller_of(other_place.nurse))


def _read_and_audited(read: Callable[[], Any]) -> tuple[Any, list[tuple[Any, ...]]]:
    """What a read answered (or the refusal) and the audit rows it wrote."""
    before = {r.id for r in audit_rows(resource_type="schedule")}
    try:
        answer: Any = read()
    except (Forbidden, NotFound) as refused:
        answer = (type(refused), refused.code, refused.detail)
    audited = [r for r in audit_rows(resource_type="schedule") if r.id not in before]
    return answer, sorted((r.action, r.patient_ids, r.actor_id, r.resource_id) for r in audited)


def test_the_routes_read_of_the_caller_with_the_clinic_answers_as_the_general_one(
    place, other_place, week, caller_of, admin
):
    """clinic_day_for (the route's: the caller's staff record read in the statement that
    reads the clinic's zone and version) answers, refuses and audits as clinic_day does,
    for every kind of caller (an administrator with no staff record included) and clinic
    (their own, another, none)."""
    members = (place.admin, place.front_desk, place.therapist, place.nurse, other_place.front_desk)
    for user in [*(m.user for m in members), admin]:
        for clinic_id in (place.clinic.id, other_place.clinic.id, uuid.uuid4()):
            general = partial(service.clinic_day, by=caller_of(user))
            routes = partial(service.clinic_day_for, user=db.session.get(User, user.id))
            seen = [
                _read_and_audited(partial(read, clinic_id=clinic_id, day=MONDAY))
                for read in (general, routes)
            ]
            assert seen[0] == seen[1], (user.full_name, clinic_id)


# --- one person's day ----------------------------------------------------------------------


def test_a_staff_members_day_has_only_their_appointments(place, week, caller_of):
    _first, _second, dose = week
    wednesday = date(2026, 12, 9)
    nurse_day = service.staff_day(
        staff=place.nurse, day=wednesday, by=caller_of(place.nurse)
    ).answer
    assert StaffDayOut().load(nurse_day)
    assert [a["id"] for a in nurse_day["appointments"]] == [str(dose.id)]
    assert nurse_day["staff"]["name"] == place.nurse.full_name
    prescriber_day = service.staff_day(
        staff=place.prescriber, day=wednesday, by=caller_of(place.prescriber)
    ).answer
    assert prescriber_day["appointments"] == []


# --- over HTTP -------------------------------------------------------------------------------


@pytest.fixture
def get(client, auth_headers):
    def call(url: str, who=None, **params: Any):
        headers = auth_headers(who.user) if who is not None else {}
        return client.get(f"{API}{url}", query_string=params, headers=headers)

    return call


def test_the_schedule_endpoints_access_matrix(get, place, other_place, week, admin):
    monday = MONDAY.isoformat()
    clinic = {"clinic_id": str(place.clinic.id), "date": monday}
    expected_clinic = {
        place.admin: 200,
        place.front_desk: 200,
        place.therapist: 403,
        place.nurse: 403,
        place.prescriber: 403,
        other_place.front_desk: 404,
        other_place.therapist: 404,
        other_place.admin: 200,  # administrators see every clinic
    }
    for who, status in expected_clinic.items():
        answer = get("/schedule", who, **clinic)
        assert answer.status_code == status, (who.full_name, answer.get_json())
    therapist_url = f"/staff/{place.therapist.id}/schedule"
    expected_staff = {
        place.therapist: 200,
        place.admin: 200,
        place.front_desk: 200,
        place.nurse: 403,
        place.prescriber: 403,
        other_place.front_desk: 404,
        other_place.therapist: 404,
    }
    for who, status in expected_staff.items():
        answer = get(therapist_url, who, date=monday)
        assert answer.status_code == status, (who.full_name, answer.get_json())
    assert get("/schedule", None, **clinic).status_code == 401


def test_schedule_queries_are_checked_and_errors_are_problems(get, place):
    missing = get("/schedule", place.front_desk, clinic_id=str(place.clinic.id))
    assert missing.status_code == 422 and missing.mimetype == PROBLEM
    assert "date" in missing.get_json()["errors"]
    bad = get("/schedule", place.front_desk, clinic_id=str(place.clinic.id), date="2026-13-01")
    assert bad.status_code == 422
    unknown = get("/schedule", place.front_desk, clinic_id=str(uuid.uuid4()), date="2026-12-07")
    assert unknown.status_code == 404 and unknown.mimetype == PROBLEM
    nobody = get(f"/staff/{uuid.uuid4()}/schedule", place.front_desk, date="2026-12-07")
    assert nobody.status_code == 404


def test_a_therapist_sees_their_own_day_over_http(get, place, week):
    answer = get(f"/staff/{place.therapist.id}/schedule", place.therapist, date="2026-12-07")
    assert answer.status_code == 200
    body = answer.get_json()
    assert [a["id"] for a in body["appointments"]] == [str(week[0].id), str(week[1].id)]
    assert body["appointments"][0]["patient_name"] == "Avery Quill"
    rows = audit_rows(resource_type="schedule", actor_id=place.therapist.user_id)
    assert [(r.action, r.outcome, r.resource_id) for r in rows] == [
        ("read", "success", str(place.therapist.id))
    ]


def test_an_esketamine_dose_reads_without_integration(
    place, make_course, make_patient, book, caller_of
):
    course = make_course(ESKETAMINE_KEY, on=make_patient(place.clinic, given_name="Rowan"))
    dose = book(course, DOSING, at(2, 9))
    day = service.staff_day(
        staff=place.prescriber, day=date(2026, 12, 9), by=caller_of(place.admin)
    ).answer
    (shown,) = day["appointments"]
    assert shown["id"] == str(dose.id) and shown["patient_name"] == "Rowan Quill"
    assert shown["readiness"]["preparation_done"] is True  # none required
    assert shown["readiness"]["previous_integration_booked"] is None
