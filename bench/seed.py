"""Bulk-load N appointments, with their staff and resource holds, into a fresh PostgreSQL
database, for the benchmarks (not the tests).

    .venv/bin/python -m bench.seed --appointments 1000000

The schema comes from the migrations (`flask db upgrade`); the rows are written by the
database itself (INSERT ... SELECT over generate_series), with the three big tables'
foreign keys, secondary indexes and the holds' exclusion constraint dropped during the
load and built again after it, so 1,000,000 appointments load in a few minutes.

The shape of the data: clinics in New York, London and Sydney (max(5, N / 10,000) of
them), each open 08:00-18:00 on weekdays, with 6 therapy rooms and 3 dosing rooms, 9
therapists, 3 nurses, 2 prescribers and a front desk, 400 patients and a course per
patient per 8 weeks. Every weekday a clinic has 51 appointments: 7 one-hour therapy
sessions in each therapy room (its therapist's; one slot of 8 left free, a different
one each day) and 3 dosing sessions of 2.5 hours in each dosing room (a nurse and a
therapist). The days run back from six weeks after the benchmark's "now", so a larger
N means more clinics and a longer history per room and person. Ids are md5 of a name
(`clinic3`, `staff3-9`), so the benchmarks find what they need without a lookup: random,
as a database's rows made before ids were time-ordered (db.new_id) are; the rows the
benchmarks add get the service's time-ordered ids.
"""

from __future__ import annotations

import argparse
import hashlib
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask_migrate import upgrade

from kapt_api import clock, create_app
from kapt_api.auth import service as auth_service
from kapt_api.auth.models import Role, User
from kapt_api.auth.passwords import hash_password
from kapt_api.db import db
from kapt_api.patients.policy import caller
from kapt_api.protocols import service as protocols
from kapt_api.scheduling.courses import service
from kapt_api.scheduling.courses.models import Course

SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
# The benchmarks' "now": a Monday at noon UTC. Seeded days end six weeks after it.
NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
WEEKS_AHEAD = 6
PER_DAY = 51
THERAPY_ROOMS, DOSING_ROOMS = 6, 3
THERAPY_PER_ROOM = 7  # of 8 one-hour slots at 75-minute steps from 08:00
DOSING_PER_ROOM = 3  # at 08:00, 11:00 and 14:00
PATIENTS_PER_CLINIC = 400
DAYS_PER_COURSE = 40  # weekdays: a course lasts about eight weeks
BENCH_PATIENTS = 300  # fresh patients with a course each, at clinic 0, for booking
DOSE_PATIENT = "dose-patient"  # one more, whose course bench_memory doses (dose_course)
ZONES = ("America/New_York", "Europe/London", "Australia/Sydney")
# A throwaway database's throwaway password.
PASSWORD = "bench password 1"
ADMIN_EMAIL = "admin@bench.test"
# Staff of every clinic, by index: therapists 0-8 (0-5 run the therapy rooms, 6-8 sit
# in the dosing rooms), nurses 9-11, prescribers 12-13, the front desk 14.
STAFF_ROLES = ["therapist"] * 9 + ["nurse"] * 3 + ["prescriber"] * 2 + ["front_desk"]
BIG_TABLES = ("appointments", "appointment_staff", "resource_holds")


def md5_id(name: str) -> uuid.UUID:
    """The id the seed gives `name`: PostgreSQL's md5(name)::uuid."""
    return uuid.UUID(hashlib.md5(name.encode()).hexdigest())  # noqa: S324 - an id, not security


def clinic_id(c: int) -> uuid.UUID:
    return md5_id(f"clinic{c}")


def room_id(c: int, r: int) -> uuid.UUID:
    return md5_id(f"room{c}-{r}")


def staff_id(c: int, s: int) -> uuid.UUID:
    return md5_id(f"staff{c}-{s}")


@dataclass(frozen=True)
class Shape:
    appointments: int
    clinics: int

    @property
    def per_clinic(self) -> int:
        return self.appointments // self.clinics

    @property
    def days(self) -> int:
        return -(-self.per_clinic // PER_DAY)

    @property
    def first_day(self) -> date:
        """The Monday the seeded weekdays start on."""
        last_monday = NOW.date() + timedelta(weeks=WEEKS_AHEAD)
        return last_monday - timedelta(weeks=-(-self.days // 5))

    @classmethod
    def of(cls, appointments: int) -> Shape:
        clinics = max(5, appointments // 10_000)
        if appointments % clinics:
            raise SystemExit(f"--appointments must be a multiple of {clinics}")
        return cls(appointments, clinics)


def database_url(name: str, server: str = SERVER) -> str:
    return sa.make_url(server).set(database=name).render_as_string(hide_password=False)


def seeded_url(name: str, server: str = SERVER) -> str:
    """The URL of a database seeded earlier, its schema brought up to the migrations'
    head first: a benchmark run after a new migration measures the code as it is,
    instead of failing on a column the old schema lacks. The rows stay as seeded
    (a new table starts empty, a new column takes its default)."""
    url = database_url(name, server)
    _finish_extra_courses(url)
    with bench_app(url).app_context():
        upgrade()
        db.session.remove()
        db.engine.dispose()
    return url


# A database seeded before migration 0018 holds several active courses per patient
# (one per epoch), which the migration's unique index refuses; the seed now writes only
# the course holding the latest days as active, and this brings an older seed in line.
EXTRA_COURSES_SQL = """
WITH latest AS (
    SELECT c.id, c.patient_id, c.protocol_version_id, max(a.starts_at) AS last_day
    FROM courses c LEFT JOIN appointments a ON a.course_id = c.id
    WHERE c.status = 'active' GROUP BY c.id
), kept AS (
    SELECT DISTINCT ON (patient_id, protocol_version_id) id FROM latest
    ORDER BY patient_id, protocol_version_id, last_day DESC NULLS LAST, id
)
UPDATE courses SET status = 'completed', completed_at = now()
WHERE status = 'active' AND id NOT IN (SELECT id FROM kept)"""


def _finish_extra_courses(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        if sa.inspect(connection).has_table("courses"):
            connection.execute(sa.text(EXTRA_COURSES_SQL))
    engine.dispose()


def recreate_database(name: str, server: str = SERVER) -> str:
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    return database_url(name, server)


def bench_app(url: str, **settings: Any) -> Flask:
    return create_app(
        {
            "KAPT_ENV": "test",
            "SQLALCHEMY_DATABASE_URI": url,
            "KAPT_LOG_LEVEL": "WARNING",
            **settings,
        }
    )


@contextmanager
def step(name: str) -> Iterator[None]:
    started = time.perf_counter()
    yield
    print(f"  {name}: {time.perf_counter() - started:.1f} s", flush=True)


# --- the reference data ------------------------------------------------------------------------

REFERENCE_SQL = [
    """INSERT INTO clinics (id, name, time_zone, created_at, updated_at)
       SELECT md5('clinic' || c)::uuid, 'Bench clinic ' || c,
              (CAST(:zones AS text[]))[c % 3 + 1], now(), now()
       FROM generate_series(0, :clinics - 1) AS c""",
    """INSERT INTO opening_hours (clinic_id, weekday, opens, closes)
       SELECT md5('clinic' || c)::uuid, w, '08:00', '18:00'
       FROM generate_series(0, :clinics - 1) AS c, generate_series(0, 4) AS w""",
    """INSERT INTO rooms (id, clinic_id, name, kind, active, created_at, updated_at)
       SELECT md5('room' || c || '-' || r)::uuid, md5('clinic' || c)::uuid,
              CASE WHEN r < :therapy_rooms THEN 'Therapy ' || r + 1
                   ELSE 'Dosing ' || r - :therapy_rooms + 1 END,
              CASE WHEN r < :therapy_rooms THEN 'therapy' ELSE 'dosing' END,
              true, now(), now()
       FROM generate_series(0, :clinics - 1) AS c,
            generate_series(0, :therapy_rooms + :dosing_rooms - 1) AS r""",
    """INSERT INTO users (id, email, full_name, password_hash, active, created_at, updated_at)
       SELECT md5('user' || c || '-' || s)::uuid, 'staff' || s || '@clinic' || c || '.bench',
              initcap((CAST(:roles AS text[]))[s + 1]) || ' ' || s || ' of clinic ' || c,
              :password_hash, true, now(), now()
       FROM generate_series(0, :clinics - 1) AS c, generate_series(0, :staff - 1) AS s""",
    """INSERT INTO user_roles (user_id, role)
       SELECT md5('user' || c || '-' || s)::uuid, (CAST(:roles AS text[]))[s + 1]
       FROM generate_series(0, :clinics - 1) AS c, generate_series(0, :staff - 1) AS s""",
    """INSERT INTO staff_members (id, user_id, clinic_id, active, created_at, updated_at)
       SELECT md5('staff' || c || '-' || s)::uuid, md5('user' || c || '-' || s)::uuid,
              md5('clinic' || c)::uuid, true, now(), now()
       FROM generate_series(0, :clinics - 1) AS c, generate_series(0, :staff - 1) AS s""",
    """INSERT INTO working_hours (staff_id, weekday, starts, ends)
       SELECT md5('staff' || c || '-' || s)::uuid, w, '08:00', '18:00'
       FROM generate_series(0, :clinics - 1) AS c, generate_series(0, :staff - 1) AS s,
            generate_series(0, 4) AS w""",
    """INSERT INTO patients (id, clinic_id, given_name, family_name, date_of_birth, time_zone,
                             preferred_reminder_channel, sms_opt_in, active, rems_enrolled,
                             created_at, updated_at)
       SELECT md5('patient' || c || '-' || p)::uuid, md5('clinic' || c)::uuid,
              (CAST(:given AS text[]))[p % 20 + 1], (CAST(:family AS text[]))[p / 20 % 20 + 1],
              date '1980-01-01' + p,
              (CAST(:zones AS text[]))[c % 3 + 1], 'email', false, true, false, now(), now()
       FROM generate_series(0, :clinics - 1) AS c, generate_series(0, :patients - 1) AS p""",
    # One active course per patient and protocol (migration 0018): the one holding the
    # latest seeded days; the earlier ones are over.
    """INSERT INTO courses (id, patient_id, clinic_id, protocol_version_id, protocol_id,
                            status, prescriber_id, therapist_id, nurse_id, enrolled_at,
                            completed_at, created_at, updated_at)
       SELECT md5('course' || c || '-' || p || '-' || e)::uuid,
              md5('patient' || c || '-' || p)::uuid, md5('clinic' || c)::uuid, :version,
              (SELECT protocol_id FROM protocol_versions WHERE id = :version),
              CASE WHEN e = :current THEN 'active' ELSE 'completed' END,
              md5('staff' || c || '-12')::uuid, md5('staff' || c || '-0')::uuid,
              md5('staff' || c || '-9')::uuid, now(),
              CASE WHEN e = :current THEN NULL ELSE now() END, now(), now()
       FROM generate_series(0, :clinics - 1) AS c, generate_series(0, :patients - 1) AS p,
            generate_series(0, :epochs - 1) AS e""",
]
GIVEN = ["Avery", "Blake", "Casey", "Devon", "Emery", "Finley", "Gray", "Harper", "Indy",
         "Jordan", "Kai", "Logan", "Morgan", "Noel", "Oakley", "Parker", "Quinn", "Riley",
         "Sage", "Taylor"]  # fmt: skip
FAMILY = ["Abbott", "Baker", "Chen", "Diaz", "Evans", "Fischer", "Garcia", "Haddad", "Ito",
          "Jones", "Khan", "Lopez", "Moreau", "Nguyen", "Okafor", "Patel", "Quill", "Rossi",
          "Silva", "Tanaka"]  # fmt: skip

# --- the appointments ---------------------------------------------------------------------------

APPOINTMENTS_SQL = """
CREATE UNLOGGED TABLE bench_seed AS
WITH base AS (
    SELECT i, i / :per_clinic AS c, (i % :per_clinic) / :per_day AS d,
           (i % :per_clinic) % :per_day AS k
    FROM generate_series(0, :n - 1) AS i
), placed AS (
    SELECT i, c, d, k, k >= :therapy_slots AS dosing,
           CASE WHEN k < :therapy_slots THEN k / :therapy_per_room
                ELSE :therapy_rooms + (k - :therapy_slots) / :dosing_per_room END AS r,
           CASE WHEN k < :therapy_slots
                THEN k % :therapy_per_room
                     + CASE WHEN k % :therapy_per_room >= (d + k / :therapy_per_room) % 8
                            THEN 1 ELSE 0 END
                ELSE (k - :therapy_slots) % :dosing_per_room END AS slot,
           CAST(:first_day AS date) + (d / 5) * 7 + d % 5 AS day,
           (d * :per_day + k) % :patients AS p
    FROM base
), timed AS (
    SELECT placed.*,
           ((day + time '08:00'
             + slot * CASE WHEN dosing THEN interval '180 minutes' ELSE interval '75 minutes' END)
            AT TIME ZONE (CAST(:zones AS text[]))[c % 3 + 1]) AS starts_at,
           CASE WHEN dosing THEN 150 ELSE 60 END AS minutes,
           CASE WHEN dosing THEN 30 ELSE 10 END AS buffer
    FROM placed
)
SELECT i, md5('appointment' || i)::uuid AS id,
       md5('course' || c || '-' || p || '-' || d / :days_per_course)::uuid AS course_id,
       md5('patient' || c || '-' || p)::uuid AS patient_id,
       md5('clinic' || c)::uuid AS clinic_id,
       md5('room' || c || '-' || r)::uuid AS room_id,
       CASE WHEN dosing THEN 'dosing' WHEN slot % 2 = 0 THEN 'preparation'
            ELSE 'integration' END AS kind,
       CASE WHEN starts_at < :now THEN 'completed' ELSE 'booked' END AS status,
       starts_at,
       starts_at + make_interval(mins => minutes) AS ends_at,
       starts_at + make_interval(mins => minutes + buffer) AS held_until,
       md5('staff' || c || '-' || CASE WHEN dosing THEN 9 + r - :therapy_rooms ELSE r END)::uuid
           AS first_staff,
       CASE WHEN dosing THEN md5('staff' || c || '-' || 6 + r - :therapy_rooms)::uuid END
           AS second_staff
FROM timed
"""
LOAD_SQL = [
    """INSERT INTO appointments (id, course_id, patient_id, clinic_id, kind, status, starts_at,
                                 ends_at, held_until, room_id, late_cancellation,
                                 created_at, updated_at)
       SELECT id, course_id, patient_id, clinic_id, kind, status, starts_at, ends_at,
              held_until, room_id, false, now(), now()
       FROM bench_seed""",
    """INSERT INTO appointment_staff (appointment_id, staff_id, position)
       SELECT id, first_staff, 0 FROM bench_seed
       UNION ALL
       SELECT id, second_staff, 1 FROM bench_seed WHERE second_staff IS NOT NULL""",
    """INSERT INTO resource_holds (id, appointment_id, resource_key, starts_at, ends_at)
       SELECT md5('hold' || i || '-' || n)::uuid, id, key, starts_at, held_until
       FROM bench_seed,
            LATERAL (VALUES (1, 'room:' || room_id), (2, 'patient:' || patient_id),
                            (3, 'staff:' || first_staff),
                            (4, 'staff:' || second_staff)) AS k(n, key)
       WHERE key IS NOT NULL""",
    "DROP TABLE bench_seed",
]


def _definitions(connection: sa.Connection) -> list[tuple[str, str, str]]:
    """(table, name, CREATE/ALTER statement) of every foreign key, exclusion constraint
    and secondary index of the big tables, to drop before the load and build after it."""
    found = []
    rows = connection.execute(
        sa.text(
            """SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)
               FROM pg_constraint
               WHERE conrelid::regclass::text = ANY(:tables) AND contype IN ('f', 'x')"""
        ),
        {"tables": list(BIG_TABLES)},
    )
    for table, name, definition in rows:
        found.append((table, name, f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}"))
    rows = connection.execute(
        sa.text(
            """SELECT tablename, indexname, indexdef FROM pg_indexes
               WHERE tablename = ANY(:tables) AND indexname NOT IN
                   (SELECT conname FROM pg_constraint WHERE contype IN ('p', 'u', 'x'))"""
        ),
        {"tables": list(BIG_TABLES)},
    )
    found += [(table, name, definition) for table, name, definition in rows]
    return found


def _load_appointments(connection: sa.Connection, shape: Shape) -> None:
    definitions = _definitions(connection)
    for table, name, statement in definitions:
        if statement.startswith("ALTER"):
            connection.exec_driver_sql(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
        else:
            connection.exec_driver_sql(f"DROP INDEX {name}")
    therapy_slots = THERAPY_ROOMS * THERAPY_PER_ROOM
    with step(f"{shape.appointments:,} appointments computed"):
        connection.execute(
            sa.text(APPOINTMENTS_SQL),
            {
                "n": shape.appointments,
                "per_clinic": shape.per_clinic,
                "per_day": PER_DAY,
                "therapy_slots": therapy_slots,
                "therapy_per_room": THERAPY_PER_ROOM,
                "therapy_rooms": THERAPY_ROOMS,
                "dosing_per_room": DOSING_PER_ROOM,
                "first_day": shape.first_day,
                "patients": PATIENTS_PER_CLINIC,
                "zones": list(ZONES),
                "days_per_course": DAYS_PER_COURSE,
                "now": NOW,
            },
        )
    # Row triggers (the schedule versions') would fire once per row; a bulk load skips
    # them and gives every clinic a fresh schedule version once at the end.
    connection.exec_driver_sql("SET session_replication_role = replica")
    for statement in LOAD_SQL:
        with step(statement.split("(")[0].split(" FROM")[0].strip()):
            connection.exec_driver_sql(statement)
    connection.exec_driver_sql("SET session_replication_role = DEFAULT")
    connection.exec_driver_sql(
        """INSERT INTO schedule_versions (clinic_id, version)
           SELECT id, nextval('schedule_version_tokens') FROM clinics
           ON CONFLICT (clinic_id) DO UPDATE SET version = excluded.version"""
    )
    with step("indexes, foreign keys and the exclusion constraint built again"):
        for _table, _name, statement in definitions:
            connection.exec_driver_sql(statement)


def _reference(connection: sa.Connection, shape: Shape, version_id: uuid.UUID) -> None:
    params: dict[str, Any] = {
        "clinics": shape.clinics,
        "zones": list(ZONES),
        "therapy_rooms": THERAPY_ROOMS,
        "dosing_rooms": DOSING_ROOMS,
        "roles": STAFF_ROLES,
        "staff": len(STAFF_ROLES),
        "password_hash": hash_password(PASSWORD),
        "patients": PATIENTS_PER_CLINIC,
        "given": GIVEN,
        "family": FAMILY,
        "version": version_id,
        "epochs": shape.days // DAYS_PER_COURSE + 1,
        "current": (shape.days - 1) // DAYS_PER_COURSE,
    }
    for statement in REFERENCE_SQL:
        names = [name for name in params if f":{name}" in statement]
        connection.execute(sa.text(statement), {name: params[name] for name in names})


def _enrolled_patients(prefix: str, count: int, admin: User, im_kap: uuid.UUID) -> None:
    """Patients `prefix`0.. at clinic 0, each enrolled on IM KAP with clinic 0's care team
    (prescriber 12, therapist 0, nurse 9)."""
    db.session.execute(
        sa.text(
            """INSERT INTO patients (id, clinic_id, given_name, family_name, date_of_birth,
                                     time_zone, preferred_reminder_channel, sms_opt_in, active,
                                     rems_enrolled, created_at, updated_at)
               SELECT md5(:prefix || b)::uuid, :clinic, 'Bench', 'Patient ' || b,
                      date '1990-01-01', 'America/New_York', 'email', false, true, false,
                      now(), now()
               FROM generate_series(0, :count - 1) AS b"""
        ),
        {"prefix": prefix, "clinic": clinic_id(0), "count": count},
    )
    by = caller(admin)
    for b in range(count):
        service.enroll(
            patient_id=md5_id(f"{prefix}{b}"),
            protocol_version_id=im_kap,
            care_team={
                "prescriber_id": staff_id(0, 12),
                "therapist_id": staff_id(0, 0),
                "nurse_id": staff_id(0, 9),
            },
            by=by,
            now=NOW,
        )
    db.session.commit()


def _bench_courses(admin: User, im_kap: uuid.UUID) -> None:
    """Fresh patients at clinic 0, each enrolled on IM KAP: one per booking measured; and
    the dose patient (dose_course)."""
    _enrolled_patients("bench-patient", BENCH_PATIENTS, admin, im_kap)
    _enrolled_patients(DOSE_PATIENT, 1, admin, im_kap)


def dose_course(url: str) -> uuid.UUID:
    """The dose patient's IM KAP course, which bench_memory takes to a dose in progress
    for its readings: a patient of its own, so the other benchmarks, which book on the
    bench courses and delete their bookings, never touch it. Added here to a database
    seeded before it existed."""
    patient = md5_id(f"{DOSE_PATIENT}0")
    app = bench_app(url)
    with app.app_context():
        found = db.session.scalar(sa.select(Course.id).where(Course.patient_id == patient))
        if found is None:
            admin = db.session.scalars(sa.select(User).where(User.email == ADMIN_EMAIL)).one()
            im_kap = db.session.scalars(
                sa.select(Course.protocol_version_id).where(
                    Course.patient_id == md5_id("bench-patient0")
                )
            ).one()
            _enrolled_patients(DOSE_PATIENT, 1, admin, im_kap)
            found = db.session.scalars(
                sa.select(Course.id).where(Course.patient_id == patient)
            ).one()
        db.session.remove()
    return found


def _protocols(admin: User) -> uuid.UUID:
    """The built-in protocols, published; returns IM KAP's version id."""
    installed = protocols.install_builtin_templates(by=admin, now=NOW)
    db.session.commit()
    version = next(p for p in installed if p.template_key == "im-kap").current_version
    assert version is not None
    return version.id


def seed(appointments: int, name: str, server: str = SERVER) -> str:
    """Create database `name` afresh and fill it; returns its URL."""
    shape = Shape.of(appointments)
    print(
        f"seeding {name}: {shape.appointments:,} appointments, {shape.clinics} clinics, "
        f"{shape.days} weekdays from {shape.first_day}",
        flush=True,
    )
    started = time.perf_counter()
    url = recreate_database(name, server)
    app = bench_app(url)
    with app.app_context():
        with step("migrations"):
            upgrade()
        clock.freeze(NOW)
        with step("clinics, rooms, staff, patients, protocols, bench courses"):
            admin = auth_service.create_user(
                email=ADMIN_EMAIL, full_name="Bench Admin", password=PASSWORD, roles={Role.ADMIN}
            )
            db.session.commit()
            im_kap = _protocols(admin)
            _reference(db.session.connection(), shape, im_kap)
            db.session.commit()
            _bench_courses(admin, im_kap)
        connection = db.session.connection()
        connection.exec_driver_sql("SET maintenance_work_mem = '512MB'")
        connection.exec_driver_sql("SET synchronous_commit = off")
        _load_appointments(connection, shape)
        db.session.commit()
        clock.unfreeze()
        db.session.remove()
        db.engine.dispose()
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with step("VACUUM ANALYZE"), engine.connect() as connection:
        connection.exec_driver_sql("VACUUM ANALYZE")
    engine.dispose()
    print(f"seeded {name} in {time.perf_counter() - started:.0f} s", flush=True)
    return url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--appointments", type=int, default=10_000)
    parser.add_argument("--database", help="default: kapt_bench_<appointments>")
    parser.add_argument("--server", default=SERVER, help="a database URL on the server to use")
    options = parser.parse_args()
    seed(
        options.appointments,
        options.database or f"kapt_bench_{options.appointments}",
        options.server,
    )


if __name__ == "__main__":
    main()
