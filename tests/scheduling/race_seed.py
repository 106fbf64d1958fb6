"""Seeds a migrated database (KAPT_DATABASE_URL) for the booking race test and prints
what the test needs as JSON: a front-desk access token, the therapist and the therapy
room, and the courses (IM KAP) of `--patients` patients of one New York clinic.

Run as its own process, with the server's environment: `python -m
tests.scheduling.race_seed --patients 33`.
"""

from __future__ import annotations

import argparse
import json
import secrets
from datetime import date, time

from kapt_api import clock, create_app
from kapt_api.auth import service as auth_service
from kapt_api.auth.models import Role
from kapt_api.clinics.models import Clinic, OpeningHours, Room, StaffMember, WorkingHours
from kapt_api.db import db
from kapt_api.patients.models import Patient
from kapt_api.patients.policy import caller
from kapt_api.protocols import service as protocols
from kapt_api.scheduling import course_service

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


def seed(patients: int) -> dict[str, object]:
    admin = auth_service.create_user(
        email="admin@race.test", full_name="Race Admin", password=PASSWORD, roles={Role.ADMIN}
    )
    installed = protocols.install_builtin_templates(by=admin, now=clock.now())
    version = next(p.current_version for p in installed if p.template_key == TEMPLATE)
    assert version is not None
    clinic = Clinic(name="Race Clinic", time_zone="America/New_York")
    clinic.opening_hours = [OpeningHours(weekday=d, opens=time(8), closes=time(18)) for d in WEEK]
    db.session.add(clinic)
    db.session.flush()
    room = Room(clinic_id=clinic.id, name="Oak", kind="therapy")
    db.session.add(room)
    roles = (Role.PRESCRIBER, Role.THERAPIST, Role.FRONT_DESK)
    team = {role: _staff(clinic, role) for role in roles}
    people = [
        Patient(
            clinic_id=clinic.id,
            given_name="Race",
            family_name=f"Patient {n}",
            date_of_birth=date(1980, 1, 1),
            time_zone=clinic.time_zone,
        )
        for n in range(patients)
    ]
    db.session.add_all(people)
    db.session.flush()
    by = caller(admin)
    courses = [
        course_service.enroll(
            patient_id=patient.id,
            protocol_version_id=version.id,
            care_team={
                "prescriber_id": team[Role.PRESCRIBER].id,
                "therapist_id": team[Role.THERAPIST].id,
            },
            by=by,
            now=clock.now(),
        )
        for patient in people
    ]
    db.session.commit()
    desk = db.session.get(StaffMember, team[Role.FRONT_DESK].id)
    assert desk is not None
    token = auth_service.start_session(desk.user, now=clock.now()).access_token
    db.session.commit()
    return {
        "token": token,
        "therapist_id": str(team[Role.THERAPIST].id),
        "room_id": str(room.id),
        "courses": [{"id": str(c.id), "patient_id": str(c.patient_id)} for c in courses],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--patients", type=int, default=33, help="how many patients and courses")
    arguments = parser.parse_args()
    app = create_app()
    with app.app_context():
        print(json.dumps(seed(arguments.patients)))


if __name__ == "__main__":
    main()
