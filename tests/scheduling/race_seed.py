"""Seeds a migrated database (KAPT_DATABASE_URL) for the tests that race real requests
and prints what they need as JSON (see seed): access tokens, therapists, therapy rooms
and the courses (IM KAP) of `--patients` patients in each of `--clinics` New York
clinics.

Run as its own process, with the server's environment: `python -m
tests.scheduling.race_seed --patients 33 --clinics 2 --therapists 3 --rooms 3`.
"""

from __future__ import annotations

import argparse
import json
import secrets
import uuid
from datetime import date, time
from typing import Any

from kapt_api import clock, create_app
from kapt_api.auth import service as auth_service
from kapt_api.auth.models import Role, User
from kapt_api.clinics.models import Clinic, OpeningHours, Room, StaffMember, WorkingHours
from kapt_api.db import db
from kapt_api.patients.models import Patient
from kapt_api.patients.policy import Caller, caller
from kapt_api.protocols import service as protocols
from kapt_api.scheduling.courses import service

PASSWORD = "correct horse battery staple"
TEMPLATE = "im-kap"
WEEK = range(5)  # Monday to Friday


def _staff(clinic: Clinic, role: Role) -> StaffMember:
    user = auth_service.create_user(
        email=f"{role.value}-{secrets.token_hex(4)}@race.test",
        full_name=f"Race {role.value}",
        password=PASSWORD,
        roles={role},
    )
    member = StaffMember(user_id=user.id, clinic_id=clinic.id)
    member.working_hours = [WorkingHours(weekday=d, starts=time(9), ends=time(17)) for d in WEEK]
    db.session.add(member)
    return member


def _clinic(
    number: int, *, patients: int, therapists: int, rooms: int, version_id: uuid.UUID, by: Caller
) -> dict[str, Any]:
    """A New York clinic open on weekdays, its prescriber, therapists, front desk and
    therapy rooms, and one IM KAP course for each of its patients."""
    clinic = Clinic(name=f"Race Clinic {number}", time_zone="America/New_York")
    clinic.opening_hours = [OpeningHours(weekday=d, opens=time(8), closes=time(18)) for d in WEEK]
    db.session.add(clinic)
    db.session.flush()
    places = [Room(clinic_id=clinic.id, name=f"Oak {n}", kind="therapy") for n in range(rooms)]
    db.session.add_all(places)
    prescriber, desk = _staff(clinic, Role.PRESCRIBER), _staff(clinic, Role.FRONT_DESK)
    team = [_staff(clinic, Role.THERAPIST) for _ in range(therapists)]
    people = [
        Patient(
            clinic_id=clinic.id,
            given_name="Race",
            family_name=f"Patient {number}-{n}",
            date_of_birth=date(1980, 1, 1),
            time_zone=clinic.time_zone,
        )
        for n in range(patients)
    ]
    db.session.add_all(people)
    db.session.flush()
    courses = [
        service.enroll(
            patient_id=patient.id,
            protocol_version_id=version_id,
            care_team={"prescriber_id": prescriber.id, "therapist_id": team[0].id},
            by=by,
            now=clock.now(),
        )
        for patient in people
    ]
    return {
        "clinic_id": str(clinic.id),
        "desk": desk,
        "therapist_ids": [str(member.id) for member in team],
        "room_ids": [str(room.id) for room in places],
        "courses": [{"id": str(c.id), "patient_id": str(c.patient_id)} for c in courses],
    }


def _token(user: User) -> str:
    return auth_service.start_session(user, now=clock.now()).access_token


def seed(patients: int, *, clinics: int = 1, therapists: int = 1, rooms: int = 1) -> dict[str, Any]:
    """What the tests need, as JSON: the first clinic's front-desk token, therapist, room
    and courses at the top, every clinic under `clinics` (each with its own front-desk
    token), and an administrator's token (administrators work in every clinic)."""
    admin = auth_service.create_user(
        email="admin@race.test", full_name="Race Admin", password=PASSWORD, roles={Role.ADMIN}
    )
    installed = protocols.install_builtin_templates(by=admin, now=clock.now())
    version = next(p.current_version for p in installed if p.template_key == TEMPLATE)
    assert version is not None
    made = [
        _clinic(
            n,
            patients=patients,
            therapists=therapists,
            rooms=rooms,
            version_id=version.id,
            by=caller(admin),
        )
        for n in range(clinics)
    ]
    db.session.commit()
    for clinic in made:
        desk = db.session.get(StaffMember, clinic.pop("desk").id)
        assert desk is not None
        clinic["token"] = _token(desk.user)
    admin_token = _token(admin)
    db.session.commit()
    first = made[0]
    return {
        "token": first["token"],
        "admin_token": admin_token,
        "therapist_id": first["therapist_ids"][0],
        "room_id": first["room_ids"][0],
        "courses": first["courses"],
        "clinics": made,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--patients", type=int, default=33, help="patients (courses) per clinic")
    parser.add_argument("--clinics", type=int, default=1)
    parser.add_argument("--therapists", type=int, default=1, help="therapists per clinic")
    parser.add_argument("--rooms", type=int, default=1, help="therapy rooms per clinic")
    arguments = parser.parse_args()
    app = create_app()
    with app.app_context():
        seeded = seed(
            arguments.patients,
            clinics=arguments.clinics,
            therapists=arguments.therapists,
            rooms=arguments.rooms,
        )
        print(json.dumps(seeded))


if __name__ == "__main__":
    main()
