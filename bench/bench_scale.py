"""Does the data's size change what a request costs? Booking, a clinic's day schedule and
a 4-week slot search, each measured on 10,000 and on 1,000,000 appointments in
PostgreSQL; at 1,000,000 each must cost at most 1.5 times what it costs at 10,000.

    .venv/bin/python -m bench.bench_scale             # seeds the two databases if missing
    .venv/bin/python -m bench.bench_scale --quick     # a fifth of the rounds: under a minute
    .venv/bin/python -m bench.bench_scale --reseed --scale 2

The operations run in process through the service functions, as the API calls them,
each in a fresh session and committed. The two databases are measured in alternating
rounds (so a busy moment of the machine falls on both alike) and the medians compared.
Each operation's queries are then run once more under EXPLAIN (ANALYZE, BUFFERS): the
pages they touch, and any sequential scan of a big table, show whether an index bounds
them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import Flask

from bench import seed
from kapt_api import clock
from kapt_api.auth.models import User
from kapt_api.db import db
from kapt_api.patients.policy import Caller, caller
from kapt_api.protocols.definition import SessionKind
from kapt_api.scheduling.availability import service as availability_service
from kapt_api.scheduling.availability import slots
from kapt_api.scheduling.booking import service
from kapt_api.scheduling.booking.models import Appointment
from kapt_api.scheduling.courses.models import Course
from kapt_api.scheduling.days import service as day_service

SIZES = (10_000, 1_000_000)
LIMIT = 1.5
BIG_TABLES = frozenset(seed.BIG_TABLES) | {"courses", "patients", "audit_events"}
CLINIC_ZONE = ZoneInfo(seed.ZONES[0])  # clinic 0 is in New York
SLOT_WINDOW = timedelta(days=28)


@dataclass
class Target:
    """One seeded database and what the operations need from it."""

    size: int
    app: Flask
    shape: seed.Shape
    desk: Caller = field(init=False)
    courses: list[uuid.UUID] = field(default_factory=list)
    booked: list[uuid.UUID] = field(default_factory=list)
    gaps: Iterator[tuple[datetime, int]] = field(init=False)

    def __post_init__(self) -> None:
        with self.app.app_context():
            user = db.session.get(User, seed.md5_id("user0-14"))  # clinic 0's front desk
            assert user is not None
            self.desk = caller(user)
            self.courses = [
                db.session.scalars(
                    sa.select(Course.id).where(
                        Course.patient_id == seed.md5_id(f"bench-patient{b}")
                    )
                ).one()
                for b in range(seed.BENCH_PATIENTS)
            ]
            db.session.remove()
        self.gaps = self._gaps()

    def _gaps(self) -> Iterator[tuple[datetime, int]]:
        """Free hours of clinic 0's busy therapists (one per room and weekday, the seed's
        rotating free slot), from two days after "now": where a booking fits between
        other people's sessions."""
        first = seed.NOW.date() + timedelta(days=2)
        for offset in range(0, 7 * seed.WEEKS_AHEAD - 2):
            day = first + timedelta(days=offset)
            if day.weekday() >= 5:
                continue
            index = _weekday_index(self.shape.first_day, day)
            for room in range(seed.THERAPY_ROOMS):
                slot = (index + room) % 8
                local = datetime.combine(day, datetime.min.time(), CLINIC_ZONE)
                yield local + timedelta(hours=8, minutes=75 * slot), room


def _weekday_index(first: date, day: date) -> int:
    weeks, extra = divmod((day - first).days, 7)
    return weeks * 5 + extra


# --- the three operations ----------------------------------------------------------------------


def book_one(target: Target) -> None:
    """Book a preparation session in a therapist's free hour, and commit."""
    starts_at, room = next(target.gaps)
    course_id = target.courses[len(target.booked)]
    appointment = service.book(
        course_id=course_id,
        kind=SessionKind.PREPARATION,
        starts_at=starts_at,
        room_id=seed.room_id(0, room),
        staff_ids=[seed.staff_id(0, room)],
        by=target.desk,
        now=seed.NOW,
    )
    target.booked.append(appointment.id)
    db.session.commit()


def day_of(target: Target, round_number: int) -> date:
    day = seed.NOW.date() + timedelta(days=1 + round_number % 5)
    return day if day.weekday() < 5 else day + timedelta(days=2)


def clinic_day(target: Target, round_number: int) -> None:
    """Clinic 0's day (about 50 appointments), its reads audited, committed."""
    answer = day_service.clinic_day(
        clinic_id=seed.clinic_id(0), day=day_of(target, round_number), by=target.desk
    ).answer
    assert sum(len(room["appointments"]) for room in answer["by_room"]) >= 45
    db.session.commit()


def slot_search(target: Target) -> list[slots.Slot]:
    """Four weeks of free preparation slots for a fresh course at clinic 0 (all of them)."""
    course = db.session.get(Course, target.courses[-1])
    assert course is not None
    start = datetime.combine(seed.NOW.date() + timedelta(days=1), datetime.min.time(), CLINIC_ZONE)
    found = availability_service.find_slots(
        course=course,
        kind=SessionKind.PREPARATION,
        starts_from=start,
        until=start + SLOT_WINDOW,
        now=seed.NOW,
        limit=slots.MAX_WINDOW.days * 100,
    )
    assert len(found) >= FREE_HOURS, len(found)
    return found


def cleanup(target: Target) -> None:
    """Remove the bench's own bookings (and what other packages wrote about them)."""
    with target.app.app_context():
        ids = list(
            db.session.scalars(
                sa.select(Appointment.id).where(Appointment.course_id.in_(target.courses))
            )
        )
        if ids:
            for table, column in _references_to_appointments():
                # Names read from the catalogue (pg_constraint), not from any input.
                delete = f"DELETE FROM {table} WHERE {column} = ANY(:ids)"  # noqa: S608
                db.session.execute(sa.text(delete), {"ids": ids})
            db.session.execute(sa.delete(Appointment).where(Appointment.id.in_(ids)))
            db.session.commit()
        db.session.remove()
    target.booked.clear()
    target.gaps = target._gaps()


def _references_to_appointments() -> list[tuple[str, str]]:
    rows = db.session.execute(
        sa.text(
            """SELECT conrelid::regclass::text, a.attname
               FROM pg_constraint c
               JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
               WHERE c.contype = 'f' AND c.confrelid = 'appointments'::regclass
                 AND c.confdeltype <> 'c'"""
        )
    )
    return [(table, column) for table, column in rows]


# --- measuring ----------------------------------------------------------------------------------


@contextmanager
def in_context(target: Target) -> Iterator[None]:
    with target.app.app_context():
        clock.freeze(seed.NOW)
        try:
            yield
        finally:
            db.session.remove()
            clock.unfreeze()


def timed(target: Target, operation: Callable[[], None]) -> float:
    """Milliseconds of the operation in a fresh session, its connection already taken
    from the pool (and pinged), as a request's access-token check leaves it."""
    with in_context(target):
        db.session.connection()
        started = time.perf_counter()
        operation()
        return (time.perf_counter() - started) * 1000


@dataclass(frozen=True)
class Operation:
    name: str
    run: Callable[[Target, int], None]
    repeats: int


OPERATIONS = (
    Operation("booking", lambda target, _n: book_one(target), 30),
    Operation("clinic day schedule", clinic_day, 30),
    Operation("4-week slot search", lambda target, _n: slot_search(target), 12),
)
# Free hours a slot search finds in four weeks at clinic 0 (at least one a room a weekday).
FREE_HOURS = 120


def measure(targets: list[Target], operation: Operation, scale: float) -> dict[int, list[float]]:
    repeats = max(3, round(operation.repeats * scale))
    found: dict[int, list[float]] = {t.size: [] for t in targets}
    for round_number in range(-2, repeats):  # two rounds to warm caches, not counted
        for target in targets if round_number % 2 else reversed(targets):
            ms = timed(target, lambda: operation.run(target, round_number))  # noqa: B023
            if round_number >= 0:
                found[target.size].append(ms)
    return found


@dataclass
class Plan:
    queries: int = 0
    pages: int = 0
    seq_scans: set[str] = field(default_factory=set)


def _walk(node: dict[str, Any], plan: Plan) -> None:
    if node.get("Node Type") == "Seq Scan" and node.get("Relation Name") in BIG_TABLES:
        plan.seq_scans.add(node["Relation Name"])
    for child in node.get("Plans", []):
        _walk(child, plan)


def explained(target: Target, operation: Operation) -> Plan:
    """Run the operation once, then every SELECT it ran under EXPLAIN (ANALYZE, BUFFERS)."""
    statements: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    plan = Plan()
    with in_context(target):
        sa.event.listen(db.engine, "before_cursor_execute", capture)
        try:
            operation.run(target, 0)
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", capture)
        connection = db.session.connection().connection.driver_connection
        assert connection is not None
        with connection.cursor() as cursor:
            for statement, parameters in statements:
                cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {statement}", parameters)
                (document,) = cursor.fetchone()
                top = document[0]["Plan"]
                plan.queries += 1
                plan.pages += top.get("Shared Hit Blocks", 0) + top.get("Shared Read Blocks", 0)
                _walk(top, plan)
        db.session.rollback()
    return plan


# --- the report ---------------------------------------------------------------------------------


def report(results: dict[str, dict[int, list[float]]], plans: dict[str, dict[int, Plan]]) -> bool:
    small, large = SIZES
    print()
    print(f"{'operation':<22}{'10,000 (ms)':>14}{'1,000,000 (ms)':>17}{'ratio':>8}  verdict")
    passed = True
    figures: list[str] = []
    for name, timings in results.items():
        low, high = statistics.median(timings[small]), statistics.median(timings[large])
        ratio = high / low
        verdict = "PASS" if ratio <= LIMIT else "FAIL"
        passed &= verdict == "PASS"
        print(f"{name:<22}{low:>14.2f}{high:>17.2f}{ratio:>8.2f}  {verdict} (limit {LIMIT}x)")
        figures.append(f"{name.replace(' ', '_').replace('-', '_')}_1m_vs_10k: {ratio:.2f} "
                       f"(goal: <= {LIMIT}){'' if verdict == 'PASS' else '  MISSED'}")  # fmt: skip
    print()
    print("medians over the rounds; pages = shared buffers the operation's SELECTs touch")
    print(f"load average (1, 5, 15 min): {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for name, by_size in plans.items():
        cells = []
        for size in SIZES:
            plan = by_size[size]
            scans = ", ".join(sorted(plan.seq_scans)) or "none"
            cells.append(
                f"{size:,}: {plan.queries} queries, {plan.pages} pages, seq scans: {scans}"
            )
        print(f"  {name}: " + "; ".join(cells))
    print()
    print("\n".join(figures))
    return passed


def targets(reseed: bool, server: str) -> list[Target]:
    found = []
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        existing = set(connection.scalars(sa.text("SELECT datname FROM pg_database")))
    admin.dispose()
    for size in SIZES:
        name = f"kapt_bench_{size}"
        if reseed or name not in existing:
            url = seed.seed(size, name, server)
        else:
            url = seed.seeded_url(name, server)
        # Nothing kept: the day schedule is computed from the database every time.
        app = seed.bench_app(url, KAPT_SCHEDULE_CACHE_DAYS=0)
        found.append(Target(size, app, seed.Shape.of(size)))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reseed", action="store_true", help="seed both databases afresh")
    parser.add_argument("--server", default=seed.SERVER)
    parser.add_argument(
        "--scale", type=float, default=1.0, help="multiply the number of rounds (default 1)"
    )
    parser.add_argument("--quick", action="store_true", help="a fifth of the rounds")
    options = parser.parse_args()
    if options.quick:
        options.scale = min(options.scale, 0.2)
    chosen = targets(options.reseed, options.server)
    for target in chosen:
        cleanup(target)
    results: dict[str, dict[int, list[float]]] = {}
    plans: dict[str, dict[int, Plan]] = {}
    try:
        for operation in OPERATIONS:
            print(f"measuring {operation.name} ...", flush=True)
            results[operation.name] = measure(chosen, operation, options.scale)
            plans[operation.name] = {t.size: explained(t, operation) for t in chosen}
            for target in chosen:
                cleanup(target)
    finally:
        for target in chosen:
            cleanup(target)
    raise SystemExit(0 if report(results, plans) else 1)


if __name__ == "__main__":
    main()
