"""Do gunicorn's workers stay small and flat under a long mixed load? 10,000 requests
(day schedules, bookings, readings, lists) through gunicorn with 4 workers; every worker
must stay at or under 120 MB resident, and none may grow more than 5 MB over the last
half.

    .venv/bin/python -m bench.bench_memory            # 10,000 requests, a curve point every 1,000
    .venv/bin/python -m bench.bench_memory --quick    # 600 requests, every 60; under a minute

The database is bench/seed.py's 10,000 appointments (seeded if missing, in about 10 s);
the server is bench_http's gunicorn with the production settings and one exception: a
worker is never recycled (`--max-requests 0`). Production recycles each worker after
about 2,000 requests (deploy/gunicorn.conf.py), which would replace every worker during
the last 5,000 of 10,000 and so hide the very growth this measures; `--recycle` keeps
the production setting, and the growth is then taken over the workers that lived
through the window.

Before the load, and before gunicorn starts, a dose is brought to in_progress in
process, through the services the routes call (dose_in_progress): its two preparations
booked, run and completed on the days before, the dose booked, checked in (which opens
its monitoring checklist) and started by the course's nurse, each step with the clock
travelled to its moment. Session steps follow the clock (check-in opens a clinic-set
window before the booked start) and the load's readings are measured at the real "now",
so the dose is placed to have started a few minutes before the real "now", whatever the
hour: an administrator's override covers the clinic's and the staff's hours. It is the
seed's dose patient's course at clinic 0 (seed.dose_course: a course no other benchmark
books on or clears).

Four client threads send, in a fixed pattern of 19 requests: 6 clinic day schedules
(clinic 0, whose days every booking and cancel changes, and clinic 1, whose kept days
stay valid), 4 staff day schedules (clinic 1's 15 staff), 4 pages of
GET /api/v1/appointments?page_size=50, 2 readings (POST .../monitoring/readings of the
dose, as its nurse) and one booking: a slot search (GET /api/v1/courses/{id}/slots) for
one of the seed's fresh courses at clinic 0, POST /api/v1/appointments of its first
slot, and a cancel of what was booked, so the slots stay free. The days are the 10
weekdays from the seed's "now". Everything the run booked (the dose and its preparations, its
checklist and readings included) is deleted at the end; the dose's also at the start, in
case a run was interrupted.

The resident size of each worker (VmRSS in /proc, the workers found as the children of
the gunicorn master) is read every 1,000 requests (60 with --quick); at the end, for
information, the part of it no other process shares (Private_Clean + Private_Dirty of
/proc/<pid>/smaps_rollup). Prints one line per figure, `name: value (goal: ...)`, with
MISSED on a miss, and exits non-zero when a goal is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, urlsplit

import sqlalchemy as sa

from bench import bench_http, bench_scale, seed
from kapt_api import clock
from kapt_api.auth.models import User
from kapt_api.db import db
from kapt_api.demo.replay import travelled
from kapt_api.patients.policy import Caller, caller
from kapt_api.protocols.definition import SessionKind
from kapt_api.scheduling.booking import attendance
from kapt_api.scheduling.booking import rules as booking_rules
from kapt_api.scheduling.booking import service as booking_service
from kapt_api.scheduling.booking.models import Appointment

APPOINTMENTS = 10_000
THREADS = 4
RSS_MAX_MB = 120.0
GROWTH_MAX_MB = 5.0
# One turn of a client thread; every other turn then books: a slot search, a booking and
# a cancel.
PATTERN = ("clinic_day", "staff_day", "list", "clinic_day", "staff_day", "clinic_day", "list")
BOOKING = ("slot_search", "booking", "cancel")
KINDS = (*PATTERN[:3], *BOOKING, "reading")
STAFF = len(seed.STAFF_ROLES)
OTHER_DESK = "staff14@clinic1.bench"
# Weekdays from "now" whose schedules are read: 10 days of each clinic and 150 staff
# days of clinic 1 fit in a worker's kept days (KAPT_SCHEDULE_CACHE_DAYS, 256; a clinic
# 0 day computed again replaces its older version), so what a worker keeps stops growing
# once each has been read.
DAYS = 10
# The dose the readings go to (dose_in_progress) started this long before the real "now",
# checked in CHECKED_IN_BEFORE its start; its preparations are these days before it.
DOSE_STARTED_AGO = timedelta(minutes=5)
CHECKED_IN_BEFORE = timedelta(minutes=5)
PREPARATIONS_BEFORE = (timedelta(days=3), timedelta(days=2))
# Each session of the set-up is booked this long before its start: more notice than
# any session type asks.
BOOKED_AHEAD = timedelta(days=7)
# A start the seed's days hold is tried again this much earlier, up to a day back.
DOSE_STEP = timedelta(minutes=30)
DOSE_STEPS = 48
THERAPY_ROOMS = [seed.room_id(0, r) for r in range(seed.THERAPY_ROOMS)]
DOSING_ROOMS = [seed.room_id(0, seed.THERAPY_ROOMS + r) for r in range(seed.DOSING_ROOMS)]
# The set-up runs at the real hour of the run, which may be outside clinic 0's opening
# hours and its staff's working hours; an administrator overrides those two rules only.
OFF_HOURS = {
    "rules": ["outside_clinic_hours", "outside_working_hours"],
    "reason": "Benchmark: a dose in progress at whatever hour the benchmark runs",
}


@dataclass(frozen=True)
class Load:
    requests: int
    every: int
    seconds: float  # the load stops here even if the requests are not all sent


FULL = Load(10_000, 1_000, 900)
# Sized for a busy 2-CPU machine (about 25 requests a second): with gunicorn's start
# and the clean-up, the whole run stays under a minute.
QUICK = Load(600, 60, 30)


# --- the workers' memory -------------------------------------------------------------------------


def _parent(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name, in parentheses, may hold spaces; the parent pid follows it.
    return int(stat.rsplit(")", 1)[1].split()[1])


def _children(pid: int) -> list[int]:
    found = (int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit())
    return sorted(child for child in found if _parent(child) == pid)


def _rss_mb(pid: int) -> float | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None  # the worker left between the listing and the read
    kilobytes = next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS"))
    return int(kilobytes) / 1024


def _private_mb(pid: int) -> float | None:
    """The pages of `pid` no other process maps (RSS counts shared libraries in full)."""
    try:
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return None
    fields = (line.split() for line in rollup.splitlines())
    return sum(int(f[1]) for f in fields if f[0] in ("Private_Clean:", "Private_Dirty:")) / 1024


def gunicorn_master() -> int:
    """bench_http.gunicorn starts the master as this process's only child."""
    masters = _children(os.getpid())
    if len(masters) != 1:
        raise SystemExit(f"expected one gunicorn master among this process's children: {masters}")
    return masters[0]


@dataclass
class Curve:
    master: int
    points: dict[int, dict[int, float]] = field(default_factory=dict)  # requests: pid: MB
    private: dict[int, float] = field(default_factory=dict)  # pid: MB, at the last point
    lock: threading.Lock = field(default_factory=threading.Lock)

    def sample(self, requests: int) -> None:
        rss = {pid: mb for pid in _children(self.master) if (mb := _rss_mb(pid)) is not None}
        private = {pid: mb for pid in rss if (mb := _private_mb(pid)) is not None}
        with self.lock:
            self.points[requests] = rss
            self.private = private
        shown = "  ".join(f"{pid}={mb:.1f}" for pid, mb in rss.items())
        print(f"requests {requests:>6,}: worker RSS MB  {shown}", flush=True)

    def growth(self, start: int, end: int) -> float | None:
        """The largest growth of a worker alive at both points; None if none was."""
        if end <= start:
            return None  # the run stopped before the window's end
        before, after = self.points.get(start, {}), self.points.get(end, {})
        common = before.keys() & after.keys()
        return max((after[pid] - before[pid] for pid in common), default=None)


# --- the load ------------------------------------------------------------------------------------


@dataclass
class Target:
    port: int
    token: str  # clinic 0's front desk: bookings, lists and clinic 0's days
    other_token: str  # clinic 1's front desk: its days, which no booking here changes
    days: list[date]  # the weekdays the day schedules are read for
    booking_days: list[date]  # weekdays after "now", where the slot searches look
    courses: list[uuid.UUID]
    dosing: uuid.UUID  # a dosing session in progress, for readings
    nurse_token: str  # its course's nurse


@dataclass
class Tally:
    load: Load
    curve: Curve
    sent: int = 0
    done: int = 0
    statuses: dict[str, Counter[int]] = field(default_factory=dict)
    failures: Counter[str] = field(default_factory=Counter)
    seconds: Counter[str] = field(default_factory=Counter)  # time spent waiting, by kind
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, count: int) -> bool:
        """Reserve `count` requests of the run; False once too few are left."""
        with self.lock:
            if self.sent + count > self.load.requests:
                return False
            self.sent += count
            return True

    def give_back(self, count: int) -> None:
        with self.lock:
            self.sent -= count

    def record(self, kind: str, status: int, seconds: float) -> None:
        with self.lock:
            self.statuses.setdefault(kind, Counter())[status] += 1
            self.seconds[kind] += seconds
            self.done += 1
            point = self.done if self.done % self.load.every == 0 else None
        if point is not None:
            self.curve.sample(point)


def send(
    target: Target,
    tally: Tally,
    kind: str,
    method: str,
    path: str,
    body: object = None,
    token: str | None = None,
) -> tuple[int, bytes]:
    """One request, recorded by kind and status; 0 when the connection failed."""
    data = json.dumps(body).encode() if body is not None else None
    token = token or target.token
    started = time.perf_counter()
    try:
        status, answer = bench_http.request(target.port, method, path, data, token)
    except OSError as error:
        tally.failures[type(error).__name__] += 1
        status, answer = 0, b""
    tally.record(kind, status, time.perf_counter() - started)
    return status, answer


def day_read(target: Target, tally: Tally, kind: str, index: int, step: int) -> None:
    """Staff days and every other clinic day are clinic 1's, kept by the workers as no
    booking of the run changes them; the rest are clinic 0's, where the run books and
    cancels, so they are computed again after each change."""
    day = target.days[(step + index) % DAYS].isoformat()
    clinic = 1 if kind == "staff_day" or step % 2 else 0
    token = target.other_token if clinic else target.token
    if kind == "clinic_day":
        path = f"/api/v1/schedule?clinic_id={seed.clinic_id(clinic)}&date={day}"
    else:
        staff = seed.staff_id(1, (step * THREADS + index) % STAFF)
        path = f"/api/v1/staff/{staff}/schedule?date={day}"
    send(target, tally, kind, "GET", path, token=token)


def book_and_cancel(target: Target, tally: Tally, index: int, turn: int) -> None:
    """Search a day's slots for a course, book the first, cancel it (keeps slots free)."""
    course = target.courses[(index + THREADS * turn) % len(target.courses)]
    day = target.booking_days[(index + THREADS * turn) % len(target.booking_days)]
    window = f"from={quote(f'{day}T12:00:00+00:00')}&to={quote(f'{day}T23:00:00+00:00')}"
    path = f"/api/v1/courses/{course}/slots?kind=preparation&{window}&limit=5"
    status, answer = send(target, tally, "slot_search", "GET", path)
    found = json.loads(answer) if status == 200 else []
    if not found:
        tally.give_back(2)
        return
    slot = found[0]
    booking = {"course_id": str(course), "kind": "preparation", "starts_at": slot["starts_at"]}
    booking |= {"room_id": slot["room_id"], "staff_ids": slot["staff_ids"]}
    status, answer = send(target, tally, "booking", "POST", "/api/v1/appointments", booking)
    if status != 201:
        tally.give_back(1)  # refused (counted): nothing to cancel
        return
    cancel = f"/api/v1/appointments/{json.loads(answer)['id']}/cancel"
    send(target, tally, "cancel", "POST", cancel, {"reason": "Benchmark: keep the slot free"})


def record_reading(target: Target, tally: Tally) -> None:
    reading = {
        # To the microsecond: a time rounded down to the second could fall before the
        # check-in a moment ago, which the API rightly refuses.
        "measured_at": datetime.now(UTC).isoformat(),
        "values": [{"measurement": "heart_rate", "value": 72, "unit": "/min"}],
    }
    path = f"/api/v1/appointments/{target.dosing}/monitoring/readings"
    send(target, tally, "reading", "POST", path, reading, target.nurse_token)


def client(target: Target, tally: Tally, index: int, deadline: float) -> None:
    """Turns of PATTERN, a booking every other turn and a reading, until the run is sent."""
    turn = step = 0
    while time.monotonic() < deadline:
        for kind in PATTERN:
            if not tally.take(1):
                return
            if kind == "list":
                page = step % 5 + 1
                send(target, tally, kind, "GET", f"/api/v1/appointments?page_size=50&page={page}")
            else:
                day_read(target, tally, kind, index, step)
            step += 1
        if turn % 2 == 0 and tally.take(len(BOOKING)):
            book_and_cancel(target, tally, index, turn)
        if tally.take(1):
            record_reading(target, tally)
        turn += 1


def run_load(target: Target, load: Load, curve: Curve) -> tuple[Tally, float]:
    tally = Tally(load, curve)
    curve.sample(0)
    started = time.monotonic()
    deadline = started + load.seconds
    threads = [
        threading.Thread(target=client, args=(target, tally, i, deadline)) for i in range(THREADS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return tally, time.monotonic() - started


# --- what the load needs from the database -------------------------------------------------------


def bench_courses(url: str) -> list[uuid.UUID]:
    patients = [seed.md5_id(f"bench-patient{b}") for b in range(seed.BENCH_PATIENTS)]
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        found = connection.scalars(
            sa.text("SELECT id FROM courses WHERE patient_id = ANY(:ids) ORDER BY id"),
            {"ids": patients},
        ).all()
    engine.dispose()
    return list(found)


def staff_email(clinic: int, staff: int) -> str:
    return f"staff{staff}@clinic{clinic}.bench"  # as bench/seed.py writes the users


def _caller(email: str) -> Caller:
    user = db.session.scalars(sa.select(User).where(User.email == email)).one()
    return caller(user)


def _book_at_or_before(
    latest: datetime, kind: SessionKind, course: uuid.UUID, admin: Caller
) -> Appointment:
    """Book `kind` at the latest start, on steps of DOSE_STEP back from `latest`, that
    the course's team and a room of its kind have free, with the clock travelled to
    BOOKED_AHEAD before it (a session is booked before its time, with notice)."""
    rooms = DOSING_ROOMS if kind is SessionKind.DOSING else THERAPY_ROOMS
    for back in range(DOSE_STEPS):
        starts_at = latest - back * DOSE_STEP
        for room in rooms:
            try:
                with db.session.begin_nested(), travelled(starts_at - BOOKED_AHEAD):
                    return booking_service.book(
                        course_id=course,
                        kind=kind,
                        starts_at=starts_at,
                        room_id=room,
                        override=OFF_HOURS,
                        by=admin,
                        now=clock.now(),
                    )
            except booking_service.BookingRefused as refused:
                if any(v.rule not in booking_rules.RESOURCE_RULES for v in refused.violations):
                    codes = sorted({v.rule for v in refused.violations})
                    raise SystemExit(
                        f"the dose's {kind.value} at {starts_at} refused: {codes}"
                    ) from None
    raise SystemExit(f"no free {kind.value} for the dose's course up to {latest}")


def _run(appointment: Appointment, desk: Caller, clinician: Caller, *, complete: bool) -> None:
    """Check in CHECKED_IN_BEFORE the booked start, start on time and, if asked,
    complete at the booked end, the clock travelled to each moment."""
    with travelled(appointment.starts_at - CHECKED_IN_BEFORE):
        attendance.check_in(appointment=appointment, by=desk, now=clock.now())
    with travelled(appointment.starts_at):
        attendance.start(appointment=appointment, by=clinician, now=clock.now())
    if complete:
        with travelled(appointment.ends_at):
            attendance.complete(appointment=appointment, by=clinician, now=clock.now())


def dose_in_progress(url: str, course: uuid.UUID) -> uuid.UUID:
    """Bring a dose of `course` to in_progress in process, through the services a route
    calls, as the clinic does: the two preparations IM KAP asks for booked, run and
    completed on the days before, the dose booked, checked in (which opens its
    monitoring checklist) and started by the course's nurse a few minutes ago.

    Session steps follow the clock (check-in opens a clinic-set window before the booked
    start), and the load's readings are measured at the real "now", which must fall after
    the dose's check-in. So each step is taken with the clock travelled to its moment,
    and the dose starts DOSE_STARTED_AGO before the real "now": in progress, with hours
    of monitoring ahead, while the load runs. An administrator's override covers the
    clinic's and the staff's hours, which the real hour of a run may fall outside; a
    time the seed already fills (its weekdays, 08:00-18:00 at the clinic) is not
    overridable, so a session then takes the latest earlier start that is free (a dose
    started earlier stays in progress, and its readings accepted, past its booked end)."""
    real_now = datetime.now(UTC).replace(second=0, microsecond=0)
    with seed.bench_app(url).app_context():
        admin, desk = _caller(seed.ADMIN_EMAIL), _caller(staff_email(0, 14))
        therapist, nurse = _caller(staff_email(0, 0)), _caller(staff_email(0, 9))
        dose_at = real_now - DOSE_STARTED_AGO
        preparations = [
            _book_at_or_before(dose_at - days_before, SessionKind.PREPARATION, course, admin)
            for days_before in PREPARATIONS_BEFORE
        ]
        dose = _book_at_or_before(dose_at, SessionKind.DOSING, course, admin)
        for preparation in preparations:
            _run(preparation, desk, therapist, complete=True)
        _run(dose, desk, nurse, complete=False)
        db.session.commit()
        found = dose.id
        db.session.remove()
    return found


def login_as(port: int, email: str) -> str:
    credentials = json.dumps({"email": email, "password": seed.PASSWORD}).encode()
    status, body = bench_http.request(port, "POST", "/api/v1/auth/tokens", credentials)
    if status not in (200, 201):
        raise SystemExit(f"login of {email} failed: {status} {body[:200]!r}")
    return str(json.loads(body)["access_token"])


def weekdays(first: date, count: int) -> list[date]:
    days = (first + timedelta(days=n) for n in range(count * 7 // 5 + 7))
    return [day for day in days if day.weekday() < 5][:count]


def remove_bookings(url: str, courses: list[uuid.UUID]) -> None:
    """Delete every booking of `courses` and what other packages wrote about them (the
    dose's checklist and readings included), with bench_scale's clean-up."""
    target = bench_scale.Target(APPOINTMENTS, seed.bench_app(url), seed.Shape.of(APPOINTMENTS))
    target.courses = courses
    bench_scale.cleanup(target)


# --- the verdict ---------------------------------------------------------------------------------


def report(tally: Tally, seconds: float, recycle: bool) -> bool:
    load, points = tally.load, tally.curve.points
    half, last = load.requests // 2, max(points)
    rss_max = max(mb for rss in points.values() for mb in rss.values())
    growth = tally.curve.growth(half, last)
    errors_5xx = sum(n for c in tally.statuses.values() for s, n in c.items() if s >= 500)
    failed = sum(tally.failures.values())
    refused = sum(n for s, n in tally.statuses.get("booking", Counter()).items() if s != 201)
    readings = tally.statuses.get("reading", Counter())
    window = f"requests {half:,} to {last:,}"
    checks = [
        ("requests_sent", tally.done, f"== {load.requests:,} within {load.seconds:.0f} s",
         tally.done == load.requests),
        ("worker_rss_max", f"{rss_max:.1f} MB", f"<= {RSS_MAX_MB:.0f}", rss_max <= RSS_MAX_MB),
        ("worker_rss_growth_last_5000",
         "n/a (no worker alive at both ends of the window)" if growth is None
         else f"{growth:.1f} MB",
         f"<= {GROWTH_MAX_MB:.0f}; {window}",
         growth is not None and growth <= GROWTH_MAX_MB),
        ("readings_recorded", readings[201], f"> 0, every reading sent ({readings.total()})",
         0 < readings[201] == readings.total()),
        ("errors_5xx", errors_5xx, "0", errors_5xx == 0),
        ("errors_connection", failed, "0", failed == 0),
    ]  # fmt: skip
    print()
    for name, value, goal, met in checks:
        print(f"{name}: {value} (goal: {goal}){'' if met else '  MISSED'}")
    for kind in KINDS:
        statuses = tally.statuses.get(kind, Counter())
        shown = ", ".join(f"{s} x{n}" for s, n in sorted(statuses.items()))
        shown = shown or "none sent"
        count = sum(statuses.values())
        mean = f"; {1000 * tally.seconds[kind] / count:.0f} ms mean" if count else ""
        print(f"requests_{kind}: {count} ({shown}{mean})")
    print(f"bookings_refused_4xx: {refused} (counted, not an error)")
    private = ", ".join(f"{mb:.1f}" for mb in tally.curve.private.values())
    print(f"worker_private_mb at the end: {private} (for information: RSS less shared pages)")
    print(
        f"workers: {len(points[0])} at the start, {len(points[last])} at the end; recycling "
        f"{'as in production' if recycle else 'off (--max-requests 0)'}"
    )
    print(f"load: {seconds:.1f} s, {tally.done / seconds:.0f} req/s, {THREADS} client threads")
    print(f"load average (1, 5, 15 min): {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return all(met for *_, met in checks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="600 requests, under a minute")
    parser.add_argument("--server", default=seed.SERVER)
    parser.add_argument("--recycle", action="store_true", help="keep production's max_requests")
    options = parser.parse_args()
    load = QUICK if options.quick else FULL
    started = time.monotonic()
    url = bench_http.database(APPOINTMENTS, options.server)
    courses = bench_courses(url)
    dose_course = seed.dose_course(url)
    remove_bookings(url, [dose_course])  # what an interrupted run may have left
    settings = {} if options.recycle else {"GUNICORN_CMD_ARGS": "--max-requests 0"}
    print(
        f"{load.requests:,} requests, {THREADS} client threads, gunicorn --workers 4",
        flush=True,
    )
    try:
        # Before gunicorn starts, so no worker has read the days the set-up books on.
        dose = dose_in_progress(url, dose_course)
        print(f"dose {dose} in progress after {time.monotonic() - started:.1f} s", flush=True)
        with tempfile.TemporaryDirectory() as folder:
            body = Path(folder) / "unused.json"  # http_app's memory route is not requested
            with bench_http.gunicorn(url, body, 4, settings) as base:
                print(f"gunicorn up after {time.monotonic() - started:.1f} s", flush=True)
                port = int(urlsplit(base).port or 0)
                desk = bench_http.login(port)
                target = Target(
                    port=port,
                    token=desk,
                    other_token=login_as(port, OTHER_DESK),
                    days=weekdays(seed.NOW.date(), DAYS),
                    booking_days=weekdays(seed.NOW.date() + timedelta(days=7), 20),
                    courses=courses,
                    dosing=dose,
                    nurse_token=login_as(port, staff_email(0, 9)),  # the dose's nurse
                )
                tally, seconds = run_load(target, load, Curve(gunicorn_master()))
    finally:
        remove_bookings(url, [*courses, dose_course])
    passed = report(tally, seconds, options.recycle)
    print(f"whole run: {time.monotonic() - started:.1f} s")
    raise SystemExit(0 if passed else 1)


if __name__ == "__main__":
    main()
