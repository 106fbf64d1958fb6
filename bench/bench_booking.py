"""How many statements does one booking issue, and how does it compare with the same work
as raw SQL? (issue 14, item 1: measurement only)

    .venv/bin/python -m bench.bench_booking --quick           # 10,000 only, under a minute
    .venv/bin/python -m bench.bench_booking --sizes 10000 1000000

Each booking runs in process through `booking.service.book`, as the API calls it: a fresh
session, committed, the reminder planning that rides on `appointment_booked` included
(bench_scale's `book_one`: a preparation session for a fresh course in a busy therapist's
free hour). Every statement it sends is captured (`before_cursor_execute`). The same
statements, with the same parameters, are then replayed on one raw connection in one
transaction, committed: the booking's work with nothing of Python's around it. Only the
booking's own rows are adjusted, so the replay cannot collide with the booking it copies:
every time moved to a later free hour of the same room and therapist, and the new rows'
ids (the appointment's, its holds', its audit row's) replaced by fresh ones, made as the
booking makes them (db.new_id: time-ordered).
"""

from __future__ import annotations

import argparse
import itertools
import re
import secrets
import statistics
import sys
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

import sqlalchemy as sa

from bench import bench_scale, seed
from kapt_api.db import db, new_id

ROUNDS, QUICK_ROUNDS, WARM_UP = 40, 15, 2
GOAL_QUERIES, GOAL_VS_RAW, GOAL_SIZE = 8, 2.0, 1.5
SHOWN_CHARS = 100
# The ids of the rows an INSERT makes: `id` (`id__1`, ... when SQLAlchemy sends many
# rows in one statement) and `ids` (the holds, an array unnested by the statement).
NEW_ROW_ID = re.compile(r"^ids?(__\d+)?$")
# Unique values a booking derives for its new rows (the hash of its reminders' patient
# link): the copy's rows are another appointment's, with their own.
NEW_UNIQUE_TEXT = re.compile(r"^token_hash(__\d+)?$")


@dataclass
class Statement:
    sql: str
    parameters: Any
    many: bool
    issuer: str = ""
    rowcount: int = -1  # rows the booking's statement wrote or returned

    @property
    def reads(self) -> bool:
        """A query: a statement that reads (the writes are counted apart)."""
        return self.sql.lstrip().upper().startswith("SELECT")

    @property
    def group(self) -> str:
        """What in the booking issued it, from the SQL and the innermost kapt_api frame."""
        text = self.sql.lstrip().upper()
        if "AUDIT_EVENTS" in text:
            return "audit"
        if self.issuer.startswith("reminders/"):
            return "reminder planning (reminders package, on appointment_booked)"
        if self.issuer.endswith(("locked_course", "lock_schedules", "_lock_schedule_of")):
            return "course lock"
        if self.issuer.endswith("patient_care_team"):
            return "who may book (care team)"
        if self.issuer.endswith("course_sessions"):
            return "rules: course state"
        if not text.startswith("SELECT"):
            return "writes"
        return "calendar reads (rules)"


@dataclass
class Capture:
    """Statements sent through the engine while it is listening."""

    with_issuer: bool = False
    statements: list[Statement] = field(default_factory=list)

    def __call__(self, _conn: Any, _cursor: Any, sql: str, parameters: Any, *_: Any) -> None:
        # SQLAlchemy's "insertmanyvalues" sends many rows as one statement, flagged `many`.
        many = isinstance(parameters, list | tuple) and bool(parameters)
        found = Statement(sql, parameters, many and isinstance(parameters[0], dict | list | tuple))
        if self.with_issuer:
            found.issuer = _issuer()
        self.statements.append(found)

    def counted(self, _conn: Any, cursor: Any, *_: Any) -> None:
        self.statements[-1].rowcount = cursor.rowcount

    @contextmanager
    def listening(self) -> Iterator[Capture]:
        self.statements = []
        sa.event.listen(db.engine, "before_cursor_execute", self)
        sa.event.listen(db.engine, "after_cursor_execute", self.counted)
        try:
            yield self
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", self)
            sa.event.remove(db.engine, "after_cursor_execute", self.counted)


def _issuer() -> str:
    """The innermost kapt_api function on the stack past the modules that send for others
    (db.py, rows.py); "autoflush" when a query of it flushed rows another function added
    (the audit row, flushed by the next SELECT)."""
    stack = traceback.extract_stack()
    senders = ("kapt_api/db.py", "kapt_api/rows.py")
    frames = [f for f in stack if "/kapt_api/" in f.filename and not f.filename.endswith(senders)]
    if not frames:
        return "?"
    flushed = " (autoflush)" if any(f.name == "_autoflush" for f in stack) else ""
    return f"{frames[-1].filename.split('/kapt_api/')[1]}:{frames[-1].name}{flushed}"


# --- the raw replay -----------------------------------------------------------------------------


def _adjusted(value: Any, shift: timedelta, ids: dict[uuid.UUID, uuid.UUID]) -> Any:
    if isinstance(value, datetime) and value.tzinfo is not None:
        # In UTC: an aware time of a zone plus a timedelta moves its wall clock, an hour
        # off across a change of the clocks.
        return value.astimezone(UTC) + shift
    if isinstance(value, uuid.UUID):
        return ids.get(value, value)
    if isinstance(value, list | tuple):
        return type(value)(_adjusted(v, shift, ids) for v in value)
    return value


def _parameters(statement: Statement, shift: timedelta, ids: dict[uuid.UUID, uuid.UUID]) -> Any:
    is_insert = statement.sql.lstrip().upper().startswith("INSERT")
    rows = statement.parameters if statement.many else [statement.parameters]
    out = []
    for row in rows:
        if isinstance(row, dict):
            if is_insert:  # ids the booking made for its new rows: fresh ones for the copy
                for key, value in row.items():
                    if NEW_ROW_ID.match(key):
                        for new in value if isinstance(value, list | tuple) else [value]:
                            if isinstance(new, uuid.UUID):
                                ids.setdefault(new, new_id())
            row = {
                key: secrets.token_hex(32)
                if is_insert and NEW_UNIQUE_TEXT.match(key)
                else _adjusted(value, shift, ids)
                for key, value in row.items()
            }
        else:
            row = _adjusted(row, shift, ids)
        out.append(row)
    return out if statement.many else out[0]


def replay(
    connection: Any, statements: list[Statement], shift: timedelta, appointment_id: uuid.UUID
) -> float:
    """Run the statements in one transaction on `connection`, committed; milliseconds."""
    ids: dict[uuid.UUID, uuid.UUID] = {}
    started = time.perf_counter()
    with connection.cursor() as cursor:
        for statement in statements:
            parameters = _parameters(statement, shift, ids)
            if statement.many:
                cursor.executemany(statement.sql, parameters)
            else:
                cursor.execute(statement.sql, parameters or None)
            # The rows are read as a client would read them (decoded), not left unread.
            rows = cursor.fetchall() if cursor.description is not None else []
            # The same work, or the comparison means nothing: an INSERT ... ON CONFLICT DO
            # NOTHING that collides (a row id copied unchanged) writes nothing, silently.
            if not statement.reads and cursor.rowcount != statement.rowcount:
                raise AssertionError(
                    f"the replay wrote {cursor.rowcount} rows where the booking wrote "
                    f"{statement.rowcount}: {' '.join(statement.sql.split())[:80]}"
                )
            if appointment_id not in ids and statement.sql.lstrip().startswith(
                "INSERT INTO appointments "
            ):
                # An id the database made would come back; one the ORM made was mapped above.
                (ids[appointment_id],) = rows[0]
    connection.commit()
    return (time.perf_counter() - started) * 1000


# --- one size -----------------------------------------------------------------------------------


@dataclass
class Result:
    size: int
    shown: list[Statement]
    counts: list[int]
    statement_counts: list[int]
    booking_ms: list[float]
    raw_ms: list[float]


def _replay_slots(target: bench_scale.Target) -> dict[int, Iterator[datetime]]:
    """Free hours per room from the far end of the seeded weeks, away from the bookings'."""
    by_room: dict[int, list[datetime]] = {}
    for starts_at, room in target._gaps():
        by_room.setdefault(room, []).append(starts_at)
    return {room: iter(reversed(hours)) for room, hours in by_room.items()}


class Run:
    """One size's bookings, replays and figures."""

    def __init__(self, target: bench_scale.Target) -> None:
        self.target = target
        self.capture = Capture()
        self.replay_at = _replay_slots(target)
        self.result = Result(target.size, [], [], [], [], [])
        with target.app.app_context():
            self.connection = db.engine.raw_connection()

    def book(self, round_number: int) -> None:
        """Book once through the service, then replay its statements as raw SQL."""
        target, result = self.target, self.result
        self.capture.with_issuer = round_number == -1  # the listing; its stack walk is slow
        starts_at, room = _peek(target)
        with bench_scale.in_context(target), self.capture.listening():
            # As in the API, where the request's access-token check has already taken the
            # connection from the pool (and pinged it): neither is the booking's work, and
            # the ping is no statement of it (the replay has none).
            db.session.connection()
            started = time.perf_counter()
            bench_scale.book_one(target)
            ms = (time.perf_counter() - started) * 1000
        statements = list(self.capture.statements)
        # In UTC: two times of one zone subtract as wall clocks, across DST too.
        shift = next(self.replay_at[room]).astimezone(UTC) - starts_at.astimezone(UTC)
        assert shift > timedelta(0), "too many rounds for the seeded free hours"
        raw = replay(self.connection.driver_connection, statements, shift, target.booked[-1])
        if round_number == -1:
            result.shown = statements
        if round_number >= 0:
            result.booking_ms.append(ms)
            result.raw_ms.append(raw)
            result.counts.append(sum(1 for s in statements if s.reads))
            result.statement_counts.append(len(statements))

    def close(self) -> None:
        self.connection.close()


def measure(targets: list[bench_scale.Target], rounds: int) -> list[Result]:
    """Every round books once at each size in turn, so a busy moment of the machine
    falls on every size alike."""
    runs = [Run(target) for target in targets]
    try:
        for round_number in range(-WARM_UP - 1, rounds):
            for run in runs:
                run.book(round_number)
    finally:
        for run in runs:
            run.close()
    return [run.result for run in runs]


def _peek(target: bench_scale.Target) -> tuple[datetime, int]:
    """The free hour book_one will take next, without taking it."""
    starts_at, room = next(target.gaps)
    target.gaps = itertools.chain([(starts_at, room)], target.gaps)
    return starts_at, room


# --- the report ---------------------------------------------------------------------------------


def print_statements(statements: list[Statement]) -> None:
    print(f"\nthe statements of one booking ({len(statements)}), first {SHOWN_CHARS} characters:")
    group = None
    for number, statement in enumerate(statements, 1):
        if statement.group != group:
            group = statement.group
            print(f"  -- {group}")
        text = " ".join(statement.sql.split())[:SHOWN_CHARS]
        print(f"  {number:>3}. {text}    [{statement.issuer}]")
    by_group = Counter(s.group for s in statements)
    print("  by what issues them: " + ", ".join(f"{g} {n}" for g, n in by_group.items()))
    read: Counter[str] = Counter()
    for statement in statements:
        if statement.sql.lstrip().upper().startswith("SELECT"):
            read.update(set(re.findall(r"(?:FROM|JOIN) (\w+)", statement.sql)))
    again = ", ".join(f"{t} x{n}" for t, n in read.most_common() if n > 1)
    print(f"  tables read by more than one SELECT: {again or 'none'}")


def figure(name: str, value: str, goal: str | None, met: bool) -> bool:
    suffix = f" (goal: {goal})" if goal else ""
    print(f"{name}: {value}{suffix}{'' if met else '  MISSED'}")
    return met


def report(results: list[Result]) -> bool:
    first = results[0]
    print_statements(first.shown)
    print()
    passed = True
    for result in results:
        label = "" if result is first else f"_{result.size}"
        queries = max(result.counts)
        booking = statistics.median(result.booking_ms)
        raw = statistics.median(result.raw_ms)
        ratio = booking / raw
        if label:
            print(f"at {result.size:,} appointments:")
        passed &= figure(f"booking_queries{label}", str(queries), f"<= {GOAL_QUERIES}",
                         queries <= GOAL_QUERIES)  # fmt: skip
        figure(f"booking_statements{label}", f"{max(result.statement_counts)} "
               f"({queries} queries, the rest writes and savepoints)", None, True)  # fmt: skip
        figure(f"booking_ms_median{label}", f"{booking:.2f}", None, True)
        figure(f"raw_sql_ms_median{label}", f"{raw:.2f}", None, True)
        passed &= figure(f"booking_vs_raw{label}", f"{ratio:.2f}", f"<= {GOAL_VS_RAW:g}",
                         ratio <= GOAL_VS_RAW)  # fmt: skip
    if len(results) == 2:
        small, large = (statistics.median(r.booking_ms) for r in results)
        ratio = large / small
        passed &= figure("booking_1m_vs_10k", f"{ratio:.2f}", f"<= {GOAL_SIZE}", ratio <= GOAL_SIZE)
    rounds = len(first.booking_ms)
    print(f"(medians over {rounds} bookings per size after {WARM_UP + 1} not counted; "
          f"queries per booking: min {min(first.counts)}, max {max(first.counts)})")  # fmt: skip
    return passed


def existing_databases(server: str) -> set[str]:
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        found = set(connection.scalars(sa.text("SELECT datname FROM pg_database")))
    admin.dispose()
    return found


def command_line(description: str, rounds: int, quick_rounds: int) -> tuple[Any, list[int], int]:
    """The options every issue-14 benchmark takes; with them the sizes and the rounds."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="10,000 only, fewer rounds")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000])
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--server", default=seed.SERVER)
    parser.add_argument(
        "--prefix", default="kapt_bench", help="databases <prefix>_<size> (seed --database)"
    )
    options = parser.parse_args()
    sizes = [10_000] if options.quick else options.sizes
    return options, sizes, options.rounds or (quick_rounds if options.quick else rounds)


def seeded_target(
    size: int, server: str, existing: set[str], prefix: str = "kapt_bench"
) -> bench_scale.Target | None:
    """The seeded database of `size` appointments to measure, or None (said why)."""
    name = f"{prefix}_{size}"
    if name not in existing:
        # Not seeded here: 1,000,000 takes 10 to 40 minutes (docs/benchmarks.md).
        print(f"{name} missing: seed it first (python -m bench.seed --appointments {size})")
        return None
    app = seed.bench_app(seed.seeded_url(name, server), KAPT_SCHEDULE_CACHE_DAYS=0)
    return bench_scale.Target(size, app, seed.Shape.of(size))


def conclude(results: list[Any], sizes: list[int], report: Callable[[Any], bool]) -> NoReturn:
    """Exit 0 when every size was measured and `report` of the results met every goal."""
    if not results:
        raise SystemExit("no seeded database to measure")
    sys.exit(0 if report(results) and len(results) == len(sizes) else 1)


def main() -> None:
    options, sizes, rounds = command_line(__doc__.split("\n\n")[0], ROUNDS, QUICK_ROUNDS)
    existing = existing_databases(options.server)
    targets = []
    for size in sizes:
        target = seeded_target(size, options.server, existing, options.prefix)
        if target is not None:
            targets.append(target)
    if not targets:
        raise SystemExit("no seeded database to measure")
    sized = ", ".join(f"{t.size:,}" for t in targets)
    print(f"booking {rounds + WARM_UP + 1} times at {sized} appointments ...", flush=True)
    for target in targets:
        bench_scale.cleanup(target)
    try:
        results = measure(targets, rounds)
    finally:
        for target in targets:
            bench_scale.cleanup(target)
    conclude(results, sizes, report)


if __name__ == "__main__":
    main()
