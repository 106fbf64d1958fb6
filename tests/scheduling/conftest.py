"""Scheduling fixtures: a New York clinic (open 08-18 on weekdays) with a dosing and a
therapy room, one staff member per role (working 09-17), a patient, the built-in
protocols published, and courses enrolled through the service.

What a test sets up is committed to its savepoint: an error answer rolls the session
back, and the setup must survive that (the test's own transaction still undoes it).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from kapt_api import clock
from kapt_api.auth.models import AuditEvent, Role, User
from kapt_api.clinics.models import Clinic, Room, StaffMember
from kapt_api.db import db
from kapt_api.patients.models import Patient
from kapt_api.patients.policy import Caller, caller
from kapt_api.protocols import service as protocols
from kapt_api.protocols.models import ProtocolVersion
from kapt_api.scheduling.booking import signals
from kapt_api.scheduling.booking.models import ResourceHold
from kapt_api.scheduling.courses import service
from kapt_api.scheduling.courses.models import Course
from tests.scheduling.builders import MONDAY, NOW

API = "/api/v1"
PROBLEM = "application/problem+json"
IM_KAP_KEY = "im-kap"
ESKETAMINE_KEY = "esketamine-rems-induction"
SUBLINGUAL_KEY = "sublingual-kap"


@dataclass
class Place:
    """A clinic with its rooms and one staff member per role."""

    clinic: Clinic
    dosing_room: Room
    therapy_room: Room
    prescriber: StaffMember
    nurse: StaffMember
    therapist: StaffMember
    front_desk: StaffMember
    admin: StaffMember

    def member(self, role: Role) -> StaffMember:
        return getattr(self, role.value)


@pytest.fixture
def now() -> Iterator[datetime]:
    clock.freeze(NOW)
    yield NOW
    clock.unfreeze()


@pytest.fixture
def versions(admin: User) -> dict[str, ProtocolVersion]:
    """The built-in protocols, installed and published."""
    installed = protocols.install_builtin_templates(by=admin, now=NOW - timedelta(days=30))
    db.session.commit()
    found = {}
    for protocol in installed:
        assert protocol.current_version is not None
        found[protocol.template_key or ""] = protocol.current_version
    return found


@pytest.fixture
def make_place(make_clinic, make_room, make_staff) -> Callable[..., Place]:
    def make(**clinic_overrides: Any) -> Place:
        clinic = make_clinic(**clinic_overrides)
        place = Place(
            clinic,
            make_room(clinic, name="Willow", kind="dosing"),
            make_room(clinic, name="Oak", kind="therapy"),
            *(
                make_staff(clinic, role, full_name=f"{role.value.title()} {clinic.name}")
                for role in (
                    Role.PRESCRIBER,
                    Role.NURSE,
                    Role.THERAPIST,
                    Role.FRONT_DESK,
                    Role.ADMIN,
                )
            ),
        )
        db.session.commit()
        return place

    return make


@pytest.fixture
def place(make_place) -> Place:
    return make_place(name="Cedar Clinic", time_zone="America/New_York")


@pytest.fixture
def other_place(make_place) -> Place:
    return make_place(name="Birch Clinic", time_zone="Europe/London")


@pytest.fixture
def patient(place, make_patient) -> Patient:
    made = make_patient(place.clinic)
    db.session.commit()
    return made


@pytest.fixture
def caller_of() -> Callable[[StaffMember | User], Caller]:
    def make(who: StaffMember | User) -> Caller:
        user = who.user if isinstance(who, StaffMember) else who
        return caller(db.session.get(User, user.id))

    return make


@pytest.fixture
def make_course(place, patient, versions, admin, caller_of) -> Callable[..., Course]:
    def make(
        key: str = IM_KAP_KEY,
        *,
        on: Patient | None = None,
        at: Place | None = None,
        nurse: bool = True,
    ) -> Course:
        where = at or place
        course = service.enroll(
            patient_id=(on or patient).id,
            protocol_version_id=versions[key].id,
            care_team={
                "prescriber_id": where.prescriber.id,
                "therapist_id": where.therapist.id,
                "nurse_id": where.nurse.id if nurse else None,
            },
            by=caller_of(admin),
            now=NOW - timedelta(days=10),
        )
        db.session.commit()
        return course

    return make


@pytest.fixture
def course(make_course) -> Course:
    """An IM KAP course: 2 preparations, 6 weekly doses with integration after each."""
    return make_course(IM_KAP_KEY)


@pytest.fixture
def esketamine_course(make_course) -> Course:
    return make_course(ESKETAMINE_KEY)


@pytest.fixture
def received() -> Iterator[list[tuple[str, Any, dict[str, Any]]]]:
    """Every scheduling signal sent during the test: (name, sender, keyword arguments)."""
    log: list[tuple[str, Any, dict[str, Any]]] = []
    named = {
        "booked": signals.appointment_booked,
        "moved": signals.appointment_moved,
        "cancelled": signals.appointment_cancelled,
        "completed": signals.appointment_completed,
    }
    receivers = {}
    for name, signal in named.items():

        def receive(sender: Any, _name: str = name, **kwargs: Any) -> None:
            log.append((_name, sender, kwargs))

        receivers[name] = receive
        signal.connect(receive)
    yield log
    for name, signal in named.items():
        signal.disconnect(receivers[name])


def holds_of(appointment_id: uuid.UUID) -> list[ResourceHold]:
    return list(
        db.session.scalars(
            select(ResourceHold)
            .where(ResourceHold.appointment_id == appointment_id)
            .order_by(ResourceHold.resource_key)
        )
    )


def audit_rows(**where: Any) -> list[AuditEvent]:
    stmt = select(AuditEvent).order_by(AuditEvent.occurred_at, AuditEvent.id)
    for name, value in where.items():
        stmt = stmt.where(getattr(AuditEvent, name) == value)
    return list(db.session.scalars(stmt))


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """`day` days after MONDAY (7 Dec 2026), at hour:minute New York time."""
    return (MONDAY + timedelta(days=day)).replace(hour=hour, minute=minute)


# --- over HTTP: the route tests' fixtures ------------------------------------------------


@pytest.fixture
def headers(auth_headers):
    def make(staff, **extra: str) -> dict[str, str]:
        return {**auth_headers(staff.user), **extra}

    return make


@pytest.fixture
def post_appointment(client, headers, place, course):
    def post(kind: str, starts_at, *, who=None, course_id=None, **extra: Any):
        room = place.dosing_room if kind == "dosing" else place.therapy_room
        body = {
            "course_id": str(course_id or course.id),
            "kind": kind,
            "starts_at": starts_at.isoformat() if starts_at else None,
            "room_id": str(room.id),
            **extra,
        }
        body = {k: v for k, v in body.items() if v is not None}
        return client.post(
            f"{API}/appointments", json=body, headers=headers(who or place.front_desk)
        )

    return post


@pytest.fixture
def prepared(post_appointment):
    made = [post_appointment("preparation", at(0, 9)), post_appointment("preparation", at(0, 13))]
    assert [r.status_code for r in made] == [201, 201], made[0].get_json()
    return [r.get_json() for r in made]


def problem(response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_json()
    assert response.mimetype == PROBLEM
    return response.get_json()


def rules_in(body: dict[str, Any]) -> list[str]:
    return [v["rule"] for v in body["violations"]]


def rules_of(error) -> list[str]:
    return [v.rule for v in error.value.violations]
