"""The demo clinic's places and people: Cedar Grove Clinic, open every day 07:00-21:00,
its rooms, its staff on an early and a late shift, and its fictional patients.

Everything is made through the services an administrator and the front desk use
(auth, clinics, patients), at the moment the clinic opened in the demo's history.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time

from kapt_api.auth import service as auth_service
from kapt_api.auth.models import Role, User
from kapt_api.clinics import service as clinics
from kapt_api.clinics.models import Clinic, Room, StaffMember
from kapt_api.patients import service as patients
from kapt_api.patients.models import Patient
from kapt_api.patients.policy import Caller, caller

CLINIC_NAME = "Cedar Grove Clinic"
CLINIC_ZONE = "America/New_York"
# Open every day, so the demo has a day to show whatever day it is loaded on.
OPENS, CLOSES = time(7), time(21)
EVERY_DAY = range(7)
# Two overlapping shifts cover the opening hours; a 150-minute session starting
# before 12:30 ends inside the early one, any later one inside the late one.
EARLY = (time(7), time(15, 30))
LATE = (time(12, 30), time(21))


@dataclass(frozen=True)
class DemoLogin:
    email: str
    password: str
    roles: tuple[str, ...]
    full_name: str
    key: str = field(default="", compare=False)
    shift: tuple[time, time] | None = field(default=None, compare=False)


LOGINS: tuple[DemoLogin, ...] = (
    DemoLogin(
        "admin@cedargrove.example", "demo-admin-cedar-grove", ("admin",), "Morgan Ellis", "admin"
    ),
    DemoLogin(
        "dr.reyes@cedargrove.example",
        "demo-prescriber-reyes",
        ("prescriber",),
        "Dr. Ana Reyes",
        "reyes",
        EARLY,
    ),
    DemoLogin(
        "nurse.okafor@cedargrove.example",
        "demo-nurse-okafor",
        ("nurse",),
        "Chidi Okafor, RN",
        "okafor",
        EARLY,
    ),
    DemoLogin(
        "sam.lindqvist@cedargrove.example",
        "demo-therapist-lindqvist",
        ("therapist",),
        "Sam Lindqvist, LMFT",
        "lindqvist",
        EARLY,
    ),
    DemoLogin(
        "front.desk@cedargrove.example",
        "demo-frontdesk-patel",
        ("front_desk",),
        "Priya Patel",
        "patel",
    ),
    DemoLogin(
        "nurse.baptiste@cedargrove.example",
        "demo-nurse-baptiste",
        ("nurse",),
        "Lou Baptiste, RN",
        "baptiste",
        LATE,
    ),
    DemoLogin(
        "river.castellanos@cedargrove.example",
        "demo-therapist-castellanos",
        ("therapist",),
        "River Castellanos, LCSW",
        "castellanos",
        LATE,
    ),
    DemoLogin(
        "dr.osei@cedargrove.example",
        "demo-prescriber-osei",
        ("prescriber",),
        "Dr. Yara Osei",
        "osei",
        LATE,
    ),
)
ROOMS = (
    ("Dosing Suite A", "dosing"),
    ("Dosing Suite B", "dosing"),
    ("Therapy Room 1", "therapy"),
    ("Therapy Room 2", "therapy"),
    ("Telehealth", "telehealth"),
)
CLINICIANS = ("reyes", "okafor", "lindqvist", "baptiste", "castellanos", "osei")


@dataclass(frozen=True)
class PatientSpec:
    key: str
    given_name: str
    family_name: str
    born: date
    sex: str
    channel: str  # "sms" (with consent) or "email"
    line: int  # the last digits of a fictional 555-01xx number


# Storybook names, mail under patients.example and 555-01xx numbers: nobody real.
PATIENTS = (
    PatientSpec("juniper", "Juniper", "Quillfeather", date(1986, 3, 14), "female", "sms", 142),
    PatientSpec("rowan", "Rowan", "Applewood", date(1994, 7, 29), "male", "email", 143),
    PatientSpec("sage", "Sage", "Thistledown", date(1979, 9, 3), "other", "sms", 144),
    PatientSpec("emery", "Emery", "Fernwhistle", date(1972, 11, 2), "female", "email", 145),
    PatientSpec("quinn", "Quinn", "Marigold", date(1990, 1, 21), "male", "email", 146),
    PatientSpec("wren", "Wren", "Hollowbrook", date(1983, 5, 9), "female", "email", 147),
)


@dataclass
class Cast:
    """The clinic and everyone in it, by the short names the stories use."""

    admin: User
    clinic: Clinic
    rooms: dict[str, Room]
    staff: dict[str, StaffMember]
    callers: dict[str, Caller]
    patients: dict[str, Patient] = field(default_factory=dict)


def _hours(shift: tuple[time, time] | None) -> list[dict[str, object]]:
    starts, ends = shift or (OPENS, CLOSES)
    return [{"weekday": d, "starts": starts, "ends": ends} for d in EVERY_DAY]


def open_clinic(*, now: datetime) -> Cast:
    """The administrator (made as `flask kapt create-admin` makes one), the clinic,
    its rooms and its staff with their shifts."""
    first, *others = LOGINS
    admin = auth_service.create_user(
        email=first.email,
        full_name=first.full_name,
        password=first.password,
        roles={Role(r) for r in first.roles},
    )
    clinic = clinics.create_clinic(
        data={
            "name": CLINIC_NAME,
            "time_zone": CLINIC_ZONE,
            "phone": "+15555550100",
            "address": "12 Cedar Grove Lane, Springfield",
            "opening_hours": [{"weekday": d, "opens": OPENS, "closes": CLOSES} for d in EVERY_DAY],
        },
        by=admin,
    )
    rooms = {
        name: clinics.create_room(clinic=clinic, data={"name": name, "kind": kind}, by=admin)
        for name, kind in ROOMS
    }
    staff = {login.key: _staff_member(login, clinic, admin) for login in others}
    callers = {"admin": caller(admin)} | {key: caller(s.user) for key, s in staff.items()}
    return Cast(admin, clinic, rooms, staff, callers)


def _staff_member(login: DemoLogin, clinic: Clinic, admin: User) -> StaffMember:
    member = clinics.create_staff(
        data={
            "email": login.email,
            "full_name": login.full_name,
            "password": login.password,
            "roles": [Role(r) for r in login.roles],
            "clinic_id": clinic.id,
        },
        by=admin,
    )
    return clinics.replace_working_hours(staff=member, hours=_hours(login.shift), by=admin)


def register_patient(cast: Cast, key: str, *, now: datetime) -> Patient:
    """The front desk registers one of the demo's patients, the clinicians as care team."""
    spec = next(p for p in PATIENTS if p.key == key)
    patient = patients.register_patient(
        data={
            "clinic_id": cast.clinic.id,
            "given_name": spec.given_name,
            "family_name": spec.family_name,
            "date_of_birth": spec.born,
            "sex": spec.sex,
            "email": f"{spec.given_name}.{spec.family_name}@patients.example".lower(),
            "phone": f"+155555501{spec.line - 100:02d}",
            "preferred_reminder_channel": spec.channel,
            "sms_opt_in": spec.channel == "sms",
            "care_team": [cast.staff[k].id for k in CLINICIANS],
        },
        by=cast.callers["patel"],
        now=now,
    )
    cast.patients[key] = patient
    return patient


def enrol_in_rems(cast: Cast, key: str, *, on: date, now: datetime) -> Patient:
    """The prescriber records the patient's esketamine REMS enrolment (a clinical field)."""
    return patients.update_patient(
        patient=cast.patients[key],
        changes={"clinical": {"rems_enrolled": True, "rems_enrolled_on": on}},
        by=cast.callers["reyes"],
        now=now,
    )
