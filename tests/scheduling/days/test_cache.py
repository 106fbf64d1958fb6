"""Computed days are kept per process and served again only while their clinic's
schedule version is unchanged: every change a day shows must replace the version (the
database triggers of migration 0009), so the next read shows it; a rolled-back change
must never leave a day behind that a later change could be mistaken for; every read,
kept or computed, is audited."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from kapt_api import clock
from kapt_api.auth.audit import Shown
from kapt_api.auth.models import Role, User, UserRole
from kapt_api.clinics.models import Clinic, Room
from kapt_api.db import db
from kapt_api.patients.models import Patient
from kapt_api.protocols.definition import SessionKind
from kapt_api.scheduling.booking import attendance
from kapt_api.scheduling.booking.models import Appointment, AppointmentStaff
from kapt_api.scheduling.courses.values import AppointmentStatus
from kapt_api.scheduling.days import cache, service
from kapt_api.scheduling.days.cache import ComputedDay, DayCache
from tests.scheduling import test_calendar_helpers as helpers
from tests.scheduling.conftest import API, Place, at, audit_rows

MONDAY = date(2026, 12, 7)

pytestmark = pytest.mark.usefixtures("now")


def _day(name: str) -> ComputedDay:
    return ComputedDay({"name": name}, Shown(()))


# --- the cache over plain values --------------------------------------------------------------


def test_a_kept_day_is_served_only_at_the_version_it_was_computed_at():
    days = DayCache(size=4)
    days.put("monday", 7, _day("at 7"))
    assert days.get("monday", 7) == _day("at 7")
    assert days.get("monday", 8) is None
    assert days.get("tuesday", 7) is None


def test_an_encoded_day_keeps_its_bytes_and_gives_the_same_answer_back():
    answer = {"date": "2026-12-07", "by_room": [{"room": {"id": "r", "name": "Cedar"},
              "appointments": [{"hours": 2.5, "late": False, "note": None}]}]}  # fmt: skip
    day = ComputedDay(answer, Shown((uuid.uuid4(),)))
    encoded = day.encoded(lambda a: json.dumps(a, separators=(",", ":")).encode())
    # What a process keeps is the bytes; the Python answer is read back from them.
    assert day._answer is None and day._encoded is encoded
    assert day.answer == answer and json.loads(encoded) == answer
    assert day.encoded(lambda _: b"never called") is encoded
    assert day.etag(lambda _: b"never called") == day.etag(lambda _: b"")


def test_the_least_recently_read_day_goes_first_and_size_zero_keeps_nothing():
    days = DayCache(size=2)
    days.put("a", 1, _day("a"))
    days.put("b", 1, _day("b"))
    assert days.get("a", 1) is not None  # a is now the most recently read
    days.put("c", 1, _day("c"))
    assert days.get("b", 1) is None
    assert days.get("a", 1) is not None and days.get("c", 1) is not None

    nothing = DayCache(size=0)
    nothing.put("a", 1, _day("a"))
    assert nothing.get("a", 1) is None


def test_a_computed_days_encoding_is_made_once():
    calls = []
    day = _day("monday")

    def dumps(answer: Any) -> bytes:
        calls.append(answer)
        return b'{"name":"monday"}'

    assert day.encoded(dumps) == day.encoded(dumps) == b'{"name":"monday"}'
    assert len(calls) == 1


# --- every change a day shows replaces the version ---------------------------------------------


@pytest.fixture
def day_of(place, caller_of) -> Callable[[], dict[str, Any]]:
    """The clinic's Monday as the front desk reads it (kept or computed)."""

    def read() -> dict[str, Any]:
        return service.clinic_day(
            clinic_id=place.clinic.id, day=MONDAY, by=caller_of(place.front_desk)
        ).answer

    return read


@pytest.fixture
def fresh_day(place) -> Callable[[], dict[str, Any]]:
    """The same day computed from the database now, bypassing what is kept."""

    def compute() -> dict[str, Any]:
        zone = db.session.get(Clinic, place.clinic.id).time_zone
        return service._clinic_day(place.clinic.id, zone, MONDAY).answer

    return compute


@pytest.fixture
def monday(place, course, caller_of, now) -> tuple[Appointment, Appointment]:
    """Two preparation sessions on Monday, 09:00 and 13:00."""
    front_desk = caller_of(place.front_desk)
    made = tuple(
        helpers.book(place, course, SessionKind.PREPARATION, at(0, hour), by=front_desk, now=now)
        for hour in (9, 13)
    )
    db.session.commit()
    return made  # type: ignore[return-value]


def _rename_patient(place: Place, first: Appointment, _second: Appointment) -> None:
    db.session.get(Patient, first.patient_id).given_name = "Renamed"


def _rename_staff(place: Place, *_: Appointment) -> None:
    db.session.get(User, place.therapist.user_id).full_name = "Dr Renamed"


def _add_role(place: Place, *_: Appointment) -> None:
    db.session.add(UserRole(user_id=place.front_desk.user_id, role=Role.NURSE.value))


def _deactivate_staff(place: Place, *_: Appointment) -> None:
    place.nurse.active = False


def _rename_room(place: Place, first: Appointment, _second: Appointment) -> None:
    db.session.get(Room, first.room_id).name = "Renamed room"


def _open_room(place: Place, *_: Appointment) -> None:
    db.session.add(Room(clinic_id=place.clinic.id, name="Aspen", kind="therapy"))


def _move_clinic(place: Place, *_: Appointment) -> None:
    db.session.get(Clinic, place.clinic.id).time_zone = "America/Chicago"


def _reschedule(place: Place, first: Appointment, _second: Appointment) -> None:
    first.starts_at = at(0, 9, 30)


def _change_status(place: Place, first: Appointment, _second: Appointment) -> None:
    first.status = AppointmentStatus.COMPLETED.value


def _swap_staff(place: Place, first: Appointment, _second: Appointment) -> None:
    booked = db.session.query(AppointmentStaff).filter_by(appointment_id=first.id).one()
    booked.staff_id = place.nurse.id


def _unassign_staff(place: Place, first: Appointment, _second: Appointment) -> None:
    db.session.delete(db.session.query(AppointmentStaff).filter_by(appointment_id=first.id).one())


def _confirm(place: Place, first: Appointment, _second: Appointment) -> None:
    first.confirmed_at = clock.now()  # the patient's link or text (scheduling/links)


CHANGES = [
    _rename_patient,
    _rename_staff,
    _add_role,
    _deactivate_staff,
    _rename_room,
    _open_room,
    _move_clinic,
    _reschedule,
    _change_status,
    _swap_staff,
    _unassign_staff,
    _confirm,
]


@pytest.mark.parametrize("change", CHANGES, ids=[c.__name__.strip("_") for c in CHANGES])
def test_the_next_read_after_any_change_the_day_shows_is_the_fresh_day(
    place, monday, day_of, fresh_day, change
):
    before = day_of()
    assert day_of() == before == fresh_day()
    version = cache.version_of(place.clinic.id)

    change(place, *monday)
    db.session.commit()

    assert cache.version_of(place.clinic.id) != version
    after = day_of()
    assert after == fresh_day()
    assert after != before


def test_a_login_or_another_clinics_change_keeps_the_version(
    place, other_place, monday, make_patient
):
    version = cache.version_of(place.clinic.id)
    db.session.get(User, place.front_desk.user_id).last_login_at = clock.now()
    make_patient(other_place.clinic)
    db.session.commit()
    assert cache.version_of(place.clinic.id) == version


def test_checking_in_a_dose_shows_its_checklist_on_the_next_read(
    place, course, caller_of, now, monday
):
    for preparation in monday:
        preparation.status = AppointmentStatus.COMPLETED.value
    dose = helpers.book(
        place, course, SessionKind.DOSING, at(1, 10), by=caller_of(place.front_desk), now=now
    )
    db.session.commit()

    def checklist() -> str:
        answer = service.clinic_day(
            clinic_id=place.clinic.id, day=at(1, 10).date(), by=caller_of(place.front_desk)
        ).answer
        shown = {a["id"]: a for g in answer["by_room"] for a in g["appointments"]}
        return str(shown[str(dose.id)]["readiness"]["checklist_state"])

    assert checklist() == "not_started"
    clock.freeze(at(1, 9, 50))
    attendance.check_in(appointment=dose, by=caller_of(place.front_desk), now=clock.now())
    db.session.commit()
    assert checklist() == "in_progress"


def test_a_day_read_inside_a_rolled_back_change_is_never_served_after_another_change(
    place, monday, day_of, fresh_day
):
    first, _second = monday
    day_of()
    with db.session.begin_nested():
        db.session.get(Patient, first.patient_id).given_name = "Rolled"
        db.session.flush()
        assert "Rolled" in str(day_of())  # computed, and kept, inside the change
        db.session.rollback()
    db.session.get(Patient, first.patient_id).given_name = "Kept"
    db.session.commit()

    shown = day_of()
    assert shown == fresh_day()
    assert "Kept" in str(shown) and "Rolled" not in str(shown)


def test_every_read_is_audited_even_when_the_day_is_kept(place, monday, day_of):
    day_of()
    day_of()
    reads = [r.patient_ids for r in audit_rows(resource_type="schedule")]
    assert reads == [[monday[0].patient_id], [monday[0].patient_id]]


def test_a_kept_staff_day_follows_changes_too(place, monday, caller_of):
    def nurse_names() -> str:
        answer = service.staff_day(
            staff=place.therapist, day=MONDAY, by=caller_of(place.therapist)
        ).answer
        return str([a["patient_name"] for a in answer["appointments"]])

    before = nurse_names()
    db.session.get(Patient, monday[0].patient_id).given_name = "Renamed"
    db.session.commit()
    assert nurse_names() != before and "Renamed" in nurse_names()


def test_an_unknown_clinic_reads_version_zero():
    assert cache.version_of(uuid.uuid4()) == 0


# --- over HTTP: a polling front desk ---------------------------------------------------------


def test_a_polling_front_desk_gets_304_until_the_day_changes(
    client, auth_headers, place, monday, day_of
):
    url = f"{API}/schedule"
    query = {"clinic_id": str(place.clinic.id), "date": MONDAY.isoformat()}
    desk = auth_headers(place.front_desk.user)
    first = client.get(url, query_string=query, headers=desk)
    assert first.status_code == 200 and first.headers["ETag"]
    assert first.get_json() == day_of()

    again = client.get(
        url, query_string=query, headers={**desk, "If-None-Match": first.headers["ETag"]}
    )
    assert again.status_code == 304 and again.data == b""
    assert len(audit_rows(resource_type="schedule")) == 3 * len({a.patient_id for a in monday})

    db.session.get(Patient, monday[0].patient_id).given_name = "Renamed"
    db.session.commit()
    changed = client.get(
        url, query_string=query, headers={**desk, "If-None-Match": first.headers["ETag"]}
    )
    assert changed.status_code == 200 and changed.headers["ETag"] != first.headers["ETag"]
    assert "Renamed" in changed.get_data(as_text=True)
