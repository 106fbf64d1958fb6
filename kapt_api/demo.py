"""The demo clinic that `make run` loads into an empty database.

Fictional people only. The logins are printed by `flask kapt demo-data` and
listed in the README; they exist so a newcomer can try every role at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time

from sqlalchemy import func, select

from kapt_api import clock
from kapt_api.auth import service as auth_service
from kapt_api.auth.models import Role, User
from kapt_api.clinics.models import Clinic, OpeningHours, Room, StaffMember, WorkingHours
from kapt_api.db import db
from kapt_api.patients.models import CareTeamMember, Patient
from kapt_api.protocols import service as protocol_service


@dataclass(frozen=True)
class DemoLogin:
    email: str
    password: str
    roles: tuple[str, ...]
    full_name: str


LOGINS: tuple[DemoLogin, ...] = (
    DemoLogin("admin@cedargrove.example", "demo-admin-cedar-grove", ("admin",), "Morgan Ellis"),
    DemoLogin(
        "dr.reyes@cedargrove.example", "demo-prescriber-reyes", ("prescriber",), "Dr. Ana Reyes"
    ),
    DemoLogin(
        "nurse.okafor@cedargrove.example", "demo-nurse-okafor", ("nurse",), "Chidi Okafor, RN"
    ),
    DemoLogin(
        "sam.lindqvist@cedargrove.example",
        "demo-therapist-lindqvist",
        ("therapist",),
        "Sam Lindqvist, LMFT",
    ),
    DemoLogin(
        "front.desk@cedargrove.example", "demo-frontdesk-patel", ("front_desk",), "Priya Patel"
    ),
)
CLINIC_ZONE = "America/New_York"
WEEKDAYS = range(5)


def database_has_users() -> bool:
    return bool(db.session.scalar(select(func.count()).select_from(User)))


def demo_loaded() -> bool:
    return auth_service.find_user_by_email(LOGINS[0].email) is not None


def _clinic() -> Clinic:
    clinic = Clinic(
        name="Cedar Grove Clinic",
        time_zone=CLINIC_ZONE,
        phone="+15555550100",
        address="12 Cedar Grove Lane, Springfield",
    )
    clinic.opening_hours = [
        OpeningHours(weekday=d, opens=time(8), closes=time(18)) for d in WEEKDAYS
    ]
    clinic.opening_hours.append(OpeningHours(weekday=5, opens=time(9), closes=time(13)))
    db.session.add(clinic)
    db.session.flush()
    for name, kind in (
        ("Dosing Suite A", "dosing"),
        ("Dosing Suite B", "dosing"),
        ("Therapy Room 1", "therapy"),
        ("Telehealth", "telehealth"),
    ):
        db.session.add(Room(clinic_id=clinic.id, name=name, kind=kind))
    return clinic


def _staff(clinic: Clinic) -> dict[str, StaffMember]:
    members: dict[str, StaffMember] = {}
    # Staff records are keyed by their first role; the admin has one too (it runs the clinic).
    for login in LOGINS:
        user = auth_service.create_user(
            email=login.email,
            full_name=login.full_name,
            password=login.password,
            roles={Role(r) for r in login.roles},
        )
        staff = StaffMember(user_id=user.id, clinic_id=clinic.id)
        staff.working_hours = [
            WorkingHours(weekday=d, starts=time(8, 30), ends=time(17, 30)) for d in WEEKDAYS
        ]
        db.session.add(staff)
        members[login.roles[0]] = staff
    db.session.flush()
    return members


def _patients(clinic: Clinic, staff: dict[str, StaffMember]) -> None:
    care_team = [staff["prescriber"], staff["nurse"], staff["therapist"]]
    people = (
        ("Jordan", "Hale", date(1986, 3, 14), "sms", True),
        ("Riley", "Moreau", date(1972, 11, 2), "email", False),
        ("Casey", "Nakamura", date(1994, 7, 29), "email", False),
    )
    for given, family, born, channel, sms in people:
        patient = Patient(
            clinic_id=clinic.id,
            given_name=given,
            family_name=family,
            date_of_birth=born,
            email=f"{given.lower()}.{family.lower()}@patients.example",
            phone="+15555550142",
            time_zone=CLINIC_ZONE,
            preferred_reminder_channel=channel,
            sms_opt_in=sms,
            sms_opt_in_at=clock.now() if sms else None,
        )
        patient.care_team = [CareTeamMember(staff_id=s.id) for s in care_team]
        db.session.add(patient)


def load() -> list[DemoLogin]:
    """Create the demo clinic, its rooms, staff and patients; returns the logins to print."""
    clinic = _clinic()
    staff = _staff(clinic)
    _patients(clinic, staff)
    protocol_service.install_builtin_templates(by=staff["admin"].user)
    db.session.flush()
    return list(LOGINS)
