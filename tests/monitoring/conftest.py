"""Monitoring fixtures: a New York clinic with one staff member per role, a patient
whose care team is the prescriber, nurse and therapist, the built-in protocols
published, and dosing appointments checked in through scheduling (so the checklist
opens the way it does in production). The clock is frozen and moved by the tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kapt_api import clock
from kapt_api.auth.models import Role, User
from kapt_api.clinics.models import Clinic, Room, StaffMember
from kapt_api.db import db
from kapt_api.monitoring import service
from kapt_api.monitoring.models import MonitoringSession
from kapt_api.patients.models import Patient
from kapt_api.patients.policy import Caller, caller
from kapt_api.protocols import service as protocols
from kapt_api.protocols.models import ProtocolVersion
from kapt_api.scheduling.booking import attendance
from kapt_api.scheduling.booking.models import Appointment, AppointmentStaff
from kapt_api.scheduling.courses import service as course_service
from kapt_api.scheduling.courses.models import Course

API = "/api/v1"
PROBLEM = "application/problem+json"
IM_KAP = "im-kap"
ESKETAMINE = "esketamine-rems-induction"
# Tuesday 8 December 2026, 10:00 in New York.
ARRIVAL = datetime(2026, 12, 8, 15, 0, tzinfo=UTC)


@dataclass
class Team:
    clinic: Clinic
    room: Room
    prescriber: StaffMember
    nurse: StaffMember
    therapist: StaffMember
    front_desk: StaffMember
    patient: Patient

    def caller(self, member: StaffMember) -> Caller:
        return caller(db.session.get(User, member.user.id))


@pytest.fixture
def now() -> Iterator[datetime]:
    clock.freeze(ARRIVAL)
    yield ARRIVAL
    clock.unfreeze()


def at(minutes: float) -> datetime:
    """`minutes` after the patient's arrival."""
    return ARRIVAL + timedelta(minutes=minutes)


@pytest.fixture
def versions(admin: User) -> dict[str, ProtocolVersion]:
    installed = protocols.install_builtin_templates(by=admin, now=ARRIVAL - timedelta(days=30))
    db.session.commit()
    return {p.template_key or "": p.current_version for p in installed if p.current_version}


@pytest.fixture
def make_team(make_clinic, make_room, make_staff, make_patient) -> Callable[..., Team]:
    def make(name: str = "Cedar Clinic") -> Team:
        clinic = make_clinic(name=name, time_zone="America/New_York")
        room = make_room(clinic, name="Willow", kind="dosing")
        people = [
            make_staff(clinic, role, full_name=f"{role.value.title()} {name}")
            for role in (Role.PRESCRIBER, Role.NURSE, Role.THERAPIST, Role.FRONT_DESK)
        ]
        patient = make_patient(clinic, care_team=people[:3])
        db.session.commit()
        return Team(clinic, room, *people, patient)

    return make


@pytest.fixture
def team(make_team) -> Team:
    return make_team()


@pytest.fixture
def make_course(team, versions, admin) -> Callable[..., Course]:
    def make(key: str = IM_KAP, *, on: Team | None = None) -> Course:
        where = on or team
        course = course_service.enroll(
            patient_id=where.patient.id,
            protocol_version_id=versions[key].id,
            care_team={
                "prescriber_id": where.prescriber.id,
                "therapist_id": where.therapist.id,
                "nurse_id": where.nurse.id,
            },
            by=caller(admin),
            now=ARRIVAL - timedelta(days=10),
        )
        db.session.commit()
        return course

    return make


@pytest.fixture
def make_appointment(team) -> Callable[..., Appointment]:
    """A dosing appointment written directly (booking rules are scheduling's tests), as
    if booked with a prescriber's override of the preparations it has none of: its
    check-in is not refused for them (scheduling's readiness flags)."""

    def make(course: Course, *, starts_at: datetime = ARRIVAL, kind: str = "dosing") -> Appointment:
        appointment = Appointment(
            course_id=course.id,
            patient_id=course.patient_id,
            clinic_id=course.clinic_id,
            kind=kind,
            starts_at=starts_at,
            ends_at=starts_at + timedelta(minutes=150),
            held_until=starts_at + timedelta(minutes=180),
            room_id=team.room.id,
        )
        if kind == "dosing":
            appointment.override_rules = ["preparation_incomplete", "integration_missing"]
            appointment.override_reason = "Written directly for a monitoring test."
        appointment.staff = [AppointmentStaff(staff_id=team.prescriber.id, position=0)]
        db.session.add(appointment)
        db.session.commit()
        return appointment

    return make


@pytest.fixture
def check_in(team) -> Callable[..., MonitoringSession]:
    def arrive(appointment: Appointment, when: datetime = ARRIVAL) -> MonitoringSession:
        attendance.check_in(appointment=appointment, by=team.caller(team.front_desk), now=when)
        db.session.commit()
        session = service.session_of_appointment(appointment.id)
        assert session is not None
        return session

    return arrive


@pytest.fixture
def session(make_course, make_appointment, check_in, now) -> MonitoringSession:
    """An IM KAP dosing session, checked in at ARRIVAL."""
    return check_in(make_appointment(make_course(IM_KAP)))


@pytest.fixture
def rems_session(make_course, make_appointment, check_in, now) -> MonitoringSession:
    """An esketamine dosing session, checked in at ARRIVAL."""
    return check_in(make_appointment(make_course(ESKETAMINE)))


def vitals(
    systolic: float = 120,
    diastolic: float = 80,
    heart_rate: float = 72,
    spo2: float = 98,
    respiratory_rate: float = 14,
    **more: float,
) -> list[dict[str, Any]]:
    """Values with their UCUM units, as a client sends them."""
    units = {
        "systolic_bp": "mm[Hg]",
        "diastolic_bp": "mm[Hg]",
        "heart_rate": "/min",
        "spo2": "%",
        "respiratory_rate": "/min",
        "moaa_s": "{score}",
        "dissociation": "{score}",
    }
    given = {
        "systolic_bp": systolic,
        "diastolic_bp": diastolic,
        "heart_rate": heart_rate,
        "spo2": spo2,
        "respiratory_rate": respiratory_rate,
        **more,
    }
    return [{"measurement": k, "value": v, "unit": units[k]} for k, v in given.items()]
