"""Reminder lag: how long after its due time each reminder is sent, in real time.

N email reminders (full: 100,000; --quick: 10,000), one per seeded appointment, fall
due evenly over a window (full: --window-seconds, default 3600; --quick: 25 s) on a
fresh PostgreSQL database. Two dispatcher processes run the scheduler's own
`dispatch-reminders` job (APScheduler, at KAPT_SCHEDULER_TICK_SECONDS) and send to a
local aiosmtpd server that counts Message-IDs. At the end every reminder must have
arrived exactly once, and the lag `sent_at - due_at` must stay within a tick and a
second; the run exits 1 when a goal is missed.

    .venv/bin/python -m bench.bench_reminder_lag [--quick] [--window-seconds 3600]

The full run takes the window plus about a minute; --quick about a minute (48 s on a
quiet 2-core machine). --quick is 400 reminders a second, near what 2 cores sustain:
run it on a quiet machine, or its lag is the machine's load.
"""

from __future__ import annotations

import argparse
import logging
import math
import multiprocessing
import os
import signal
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing.synchronize import Event
from typing import Any

import sqlalchemy as sa
from apscheduler.events import EVENT_JOB_EXECUTED, EVENT_JOB_MAX_INSTANCES

from bench.bench_reminders import BODY, SUBJECT
from bench.seed import SERVER, bench_app, seed
from kapt_api import scheduler
from kapt_api.reminders.channels.outgoing import message_id
from tests.reminders.servers import MESSAGE_ID, Mailbox, SmtpServer

DISPATCH = next(job for job in scheduler.JOBS if job.id == "dispatch-reminders")
DISPATCHERS = 2
QUICK_REMINDERS, FULL_REMINDERS = 10_000, 100_000
QUICK_WINDOW_SECONDS = 25
# Between writing the outbox and its first due time: the 100,000-row insert and its
# ANALYZE must be committed before anything falls due, or the first rows start late.
# 8 s a 10,000 on a busy machine (100,000 took over 8 s under load): at least 8 s.
LEAD_SECONDS_PER_10_000 = 8
BUCKET_SECONDS = 0.5
MAX_BUCKETS = 40
POLL_SECONDS = 1.0
PROGRESS_SECONDS = 60.0
OUTBOX_SQL = """
INSERT INTO reminders (id, clinic_id, appointment_id, patient_id, purpose, channel,
                       recipient, subject, body, due_at, next_attempt_at, status, attempts,
                       created_at, updated_at)
SELECT gen_random_uuid(), clinic_id, id, patient_id, 'appointment_reminder', 'email',
       'patient-' || n || '@mail.test', :subject, :body, due, due, 'pending', 0, now(), now()
FROM (SELECT id, clinic_id, patient_id, n,
             CAST(:first AS timestamptz) + make_interval(secs => (n - 1) * :step) AS due
      FROM (SELECT id, clinic_id, patient_id, row_number() OVER (ORDER BY id) AS n
            FROM appointments) AS numbered) AS timed
"""
# No reminder carries its session's start as `expires_at`: the seeded sessions lie
# around bench.seed's NOW, not the real clock, and an expired row is not a lag.


class ArrivalMailbox(Mailbox):
    """The tests' mailbox, also noting when each Message-ID first reached the server:
    `sent_at` is the claim's `now`, so the arrival shows what the send itself adds."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived: dict[str, float] = {}

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        answer = await super().handle_DATA(server, session, envelope)
        found = MESSAGE_ID.search(envelope.content)
        if found:
            with self.lock:
                self.arrived.setdefault(found.group(1).decode(), time.time())
        return answer

    def distinct(self) -> int:
        with self.lock:
            return len(self.counts)


def run_dispatcher(
    url: str, smtp_port: int, ready: Event, stop: Event, seconds: float, ticks: Any
) -> None:
    """A dispatcher process: the scheduler's APScheduler runner with only the dispatch
    job, as `flask kapt scheduler` builds it, until told to stop or `seconds` pass.
    `ticks` counts the ticks run and those skipped because the last one still ran."""
    app = bench_app(url, KAPT_SMTP_HOST="127.0.0.1", KAPT_SMTP_PORT=smtp_port)
    # A skipped tick is counted below rather than logged: one line each drowns the figures.
    logging.getLogger("apscheduler.scheduler").setLevel(logging.ERROR)
    runner = scheduler.build(app, blocking=False)
    for job in runner.get_jobs():
        if job.id != DISPATCH.id:
            runner.remove_job(job.id)

    def count(event: Any) -> None:
        with ticks.get_lock():
            ticks[0 if event.code == EVENT_JOB_EXECUTED else 1] += 1

    runner.add_listener(count, EVENT_JOB_EXECUTED | EVENT_JOB_MAX_INSTANCES)
    runner.start()
    ready.set()
    parent, deadline = os.getppid(), time.monotonic() + seconds
    try:
        while time.monotonic() < deadline and os.getppid() == parent and not stop.wait(1.0):
            pass
    finally:
        runner.shutdown(wait=True)


@dataclass
class Run:
    url: str
    count: int
    window: float
    tick: float
    domain: str
    batch: int

    @property
    def lead(self) -> float:
        """Seconds between writing the outbox and its first due time."""
        return LEAD_SECONDS_PER_10_000 * max(1.0, self.count / 10_000)


def write_outbox(engine: sa.Engine, run: Run) -> datetime:
    """The reminders, due evenly from the run's lead from now over the window."""
    first = datetime.now(UTC) + timedelta(seconds=run.lead)
    with engine.begin() as conn:
        written = conn.execute(
            sa.text(OUTBOX_SQL),
            {"subject": SUBJECT, "body": BODY, "first": first, "step": run.window / run.count},
        ).rowcount
    with engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE reminders")
    if written != run.count:
        raise SystemExit(f"wrote {written} reminders, expected {run.count}")
    if datetime.now(UTC) >= first:
        raise SystemExit(f"the outbox took over {run.lead:g} s to write: raise the lead")
    return first


def pending(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.exec_driver_sql(
                "SELECT count(*) FROM reminders WHERE status = 'pending'"
            ).scalar_one()
        )


def wait_for_delivery(
    engine: sa.Engine, mailbox: ArrivalMailbox, run: Run, first: datetime
) -> None:
    """Until every reminder arrived and is marked, or the window and a drain have passed."""
    drain = max(30.0, run.window / 10)
    ends = first.timestamp() + run.window + drain
    polls = math.ceil((ends - time.time()) / POLL_SECONDS) + 1
    reported = time.monotonic()
    for _ in range(polls):
        if mailbox.distinct() >= run.count and pending(engine) == 0:
            return
        if time.time() >= ends:
            break
        if time.monotonic() - reported >= PROGRESS_SECONDS:
            reported = time.monotonic()
            print(
                f"  {time.time() - first.timestamp():6.0f} s into the window: "
                f"{mailbox.distinct():,} received, {pending(engine):,} pending",
                flush=True,
            )
        time.sleep(POLL_SECONDS)
    print(f"  gave up {drain:.0f} s after the window closed", flush=True)


def percentile(ordered: list[float], share: float) -> float:
    """Nearest rank: the smallest value with at least `share` of the values at or below it."""
    if not ordered:
        return math.nan
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def histogram(lags: list[float]) -> list[str]:
    counts: dict[int, int] = {}
    for lag in lags:
        bucket = min(int(max(lag, 0.0) // BUCKET_SECONDS), MAX_BUCKETS)
        counts[bucket] = counts.get(bucket, 0) + 1
    widest = max(counts.values(), default=1)
    lines = []
    for bucket in range(max(counts, default=-1) + 1):
        low = bucket * BUCKET_SECONDS
        label = (
            f">= {low:4.1f} s"
            if bucket == MAX_BUCKETS
            else f"{low:4.1f}-{low + BUCKET_SECONDS:4.1f} s"
        )
        n = counts.get(bucket, 0)
        lines.append(f"  {label:>12} {n:8,} {'#' * round(50 * n / widest)}")
    return lines


def measure(engine: sa.Engine, mailbox: ArrivalMailbox, run: Run) -> tuple[list[str], list[str]]:
    """(what to read, the goal lines with a pass or a miss each as `name: value (goal)`)."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT id, status, due_at, sent_at, leased_by FROM reminders")
        ).all()
    with mailbox.lock:
        counts, arrived = dict(mailbox.counts), dict(mailbox.arrived)
    ids = {message_id(r.id, run.domain): r for r in rows}
    lags = sorted((r.sent_at - r.due_at).total_seconds() for r in rows if r.sent_at is not None)
    arrivals = sorted(arrived[m] - r.due_at.timestamp() for m, r in ids.items() if m in arrived)
    duplicates = sum(n - 1 for n in counts.values())
    unexpected = sum(n for m, n in counts.items() if m not in ids)
    unsent = sum(1 for m, r in ids.items() if r.status != "sent" or m not in counts)
    by_worker: dict[str, int] = {}
    for r in rows:
        if r.status == "sent":
            by_worker[r.leased_by] = by_worker.get(r.leased_by, 0) + 1
    notes = [f"lag (sent_at - due_at) of {len(lags):,} sent reminders, {BUCKET_SECONDS} s buckets:"]
    notes += histogram(lags)
    notes.append(
        "sent per dispatcher: " + ", ".join(f"{w} {n:,}" for w, n in sorted(by_worker.items()))
    )
    for name, share in (("p50", 0.5), ("p99", 0.99), ("max", 1.0)):
        value = percentile(arrivals, share)
        notes.append(f"arrival_lag_{name}_s: {value:.2f} (no goal: SMTP receipt - due_at)")
    limit = run.tick + 1
    goal = f"goal: <= tick + 1 s = {limit:g} s"
    figures = [
        (f"lag_p50_s: {percentile(lags, 0.5):.2f} ({goal})", percentile(lags, 0.5) <= limit),
        (f"lag_p90_s: {percentile(lags, 0.9):.2f} (no goal)", True),
        (f"lag_p99_s: {percentile(lags, 0.99):.2f} ({goal})", percentile(lags, 0.99) <= limit),
        (f"lag_max_s: {percentile(lags, 1.0):.2f} (no goal)", True),
        (f"duplicates: {duplicates} (goal: 0)", duplicates == 0),
        (f"unexpected: {unexpected} (goal: 0)", unexpected == 0),
        (f"unsent: {unsent} (goal: 0)", unsent == 0),
    ]
    return notes, [line + ("" if ok else "  MISSED") for line, ok in figures]


def start_dispatchers(
    run: Run, smtp_port: int, stop: Event, started: list[multiprocessing.Process], ticks: Any
) -> None:
    """Start them one by one into `started` (so the caller stops any that did start)."""
    context = multiprocessing.get_context("spawn")
    # Every dispatcher stops itself past the run's own bound, should this process die.
    seconds = run.lead + run.window + max(30.0, run.window / 10) + 120
    for _ in range(DISPATCHERS):
        ready = context.Event()
        process = context.Process(
            target=run_dispatcher,
            args=(run.url, smtp_port, ready, stop, seconds, ticks),
            daemon=True,
        )
        process.start()
        started.append(process)
        if not ready.wait(60):
            raise SystemExit("a dispatcher did not start within 60 s")


def stop_dispatchers(processes: list[multiprocessing.Process], stop: Event) -> None:
    stop.set()
    for process in processes:
        process.join(30)
        if process.is_alive():
            process.terminate()
            process.join(10)
        if process.is_alive():
            process.kill()
            process.join(10)


def drop_database(name: str) -> None:
    admin = sa.create_engine(SERVER, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def bench(options: argparse.Namespace, server: SmtpServer, stop: Event) -> list[str]:
    count = options.reminders or (QUICK_REMINDERS if options.quick else FULL_REMINDERS)
    window = QUICK_WINDOW_SECONDS if options.quick else options.window_seconds
    url = seed(count, options.database)
    config = bench_app(url).config
    every = DISPATCH.every_seconds
    run = Run(
        url=url,
        count=count,
        window=float(window),
        tick=float(config[every] if isinstance(every, str) else every),
        domain=config["KAPT_MAIL_FROM"].rpartition("@")[2],
        batch=config["KAPT_REMINDER_BATCH_SIZE"],
    )
    print(
        f"{count:,} reminders due over {window:g} s, {DISPATCHERS} dispatchers, tick "
        f"{run.tick:g} s, batches of {run.batch}",
        flush=True,
    )
    engine = sa.create_engine(url)
    processes: list[multiprocessing.Process] = []
    ticks = multiprocessing.get_context("spawn").Array("i", 2)
    try:
        start_dispatchers(run, server.port, stop, processes, ticks)
        first = write_outbox(engine, run)
        wait_for_delivery(engine, server.mailbox, run, first)  # type: ignore[arg-type]
    finally:
        stop_dispatchers(processes, stop)
    notes, figures = measure(engine, server.mailbox, run)  # type: ignore[arg-type]
    engine.dispose()
    notes.append(
        f"dispatcher ticks: {ticks[0]:,} run, {ticks[1]:,} skipped because the last still ran"
    )
    print("\n".join(notes))
    return figures


def _terminated(signum: int, _frame: object) -> None:
    # SIGTERM ends the run as Ctrl+C does, so the dispatchers and the database go too
    # (a dispatcher finishes the batches it has claimed first: up to a minute).
    print("terminated: stopping the dispatchers and dropping the database", flush=True)
    raise SystemExit(128 + signum)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 reminders over 25 s")
    parser.add_argument("--window-seconds", type=float, default=3600, help="full run's window")
    parser.add_argument("--reminders", type=int, help="default 100,000 (--quick: 10,000)")
    parser.add_argument("--database", default="kapt_bench_lag")
    options = parser.parse_args()
    signal.signal(signal.SIGTERM, _terminated)
    started = time.monotonic()
    server = SmtpServer()
    server.mailbox = ArrivalMailbox()
    server.start()
    stop = multiprocessing.get_context("spawn").Event()
    try:
        figures = bench(options, server, stop)
    finally:
        stop.set()
        server.stop()
        drop_database(options.database)
    print(f"runtime_s: {time.monotonic() - started:.0f}")
    print("\n".join(figures))
    sys.exit(1 if any(line.endswith("MISSED") for line in figures) else 0)


if __name__ == "__main__":
    main()
