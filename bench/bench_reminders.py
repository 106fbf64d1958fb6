"""Reminder benchmarks, printing figures and ratios.

1. Delivery: N due reminders (default 10,000) sent by the dispatcher to a local SMTP
   server (aiosmtpd), against a bare smtplib loop sending the same messages over one
   connection (no database, no claims, no marks).
2. Planning: M reminders (default 100,000) written to the outbox, against the naive
   design of one APScheduler job per reminder in a SQLAlchemyJobStore; then finding
   what is due among them.

Both on SQLite files in WAL mode, so it runs anywhere:
    .venv/bin/python -m bench.bench_reminders [--deliver 10000] [--plan 100000]
    .venv/bin/python -m bench.bench_reminders --quick    # 500 and 1,000: under a minute
Planning alone (`--deliver 0`) takes 2-3 minutes on a quiet 2-core machine. The figures
compare designs and set no goal (the goals of reminder delivery are the lag's:
bench_reminder_lag.py), so the run exits 0 unless something fails.
"""

from __future__ import annotations

import argparse
import smtplib
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kapt_api import create_app  # noqa: E402 - after the path is set
from kapt_api.clinics.models import Clinic  # noqa: E402
from kapt_api.reminders.channels import Outgoing, email_message  # noqa: E402
from kapt_api.reminders.models import Reminder  # noqa: E402
from tests.reminders.servers import SmtpServer  # noqa: E402

SENDER, DOMAIN = "reminders@kapt.invalid", "kapt.invalid"
SUBJECT = "Appointment reminder: Cedar Clinic, Monday, December 7"
BODY = "Hello,\n\nThis is a reminder of your appointment on Monday at 9:00 AM.\n"


def migrated_app(url: str, **overrides: object):  # type: ignore[no-untyped-def]
    from flask_migrate import upgrade

    app = create_app(
        {
            "KAPT_ENV": "test",
            "SQLALCHEMY_DATABASE_URI": url,
            "KAPT_LOG_LEVEL": "WARNING",
            **overrides,
        }
    )
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
    return app


def outbox_rows(count: int, clinic_id: uuid.UUID, due: datetime) -> list[dict[str, object]]:
    return [
        {
            "id": uuid.uuid4(),
            "clinic_id": clinic_id,
            "purpose": "appointment_reminder",
            "channel": "email",
            "recipient": f"patient-{n}@mail.test",
            "subject": SUBJECT,
            "body": BODY,
            "due_at": due,
            "next_attempt_at": due,
            "status": "pending",
            "attempts": 0,
            "created_at": due,
            "updated_at": due,
        }
        for n in range(count)
    ]


def add_clinic(conn: sa.Connection, now: datetime) -> uuid.UUID:
    clinic_id = uuid.uuid4()
    conn.execute(
        Clinic.__table__.insert(),
        {
            "id": clinic_id,
            "name": "Cedar Clinic",
            "time_zone": "America/New_York",
            "created_at": now,
            "updated_at": now,
        },
    )
    return clinic_id


def bench_delivery(count: int, workdir: Path) -> None:
    from kapt_api.reminders.dispatcher import dispatch_until_idle

    server = SmtpServer().start()
    url = f"sqlite:///{workdir / 'deliver.db'}"
    app = migrated_app(
        url,
        KAPT_SMTP_HOST="127.0.0.1",
        KAPT_SMTP_PORT=server.port,
        KAPT_REMINDER_BATCH_SIZE=200,
    )
    now = datetime.now(UTC)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        clinic_id = add_clinic(conn, now)
        rows = outbox_rows(count, clinic_id, now - timedelta(minutes=1))
        conn.execute(Reminder.__table__.insert(), rows)

    with app.app_context():
        started = time.perf_counter()
        report = dispatch_until_idle(now=now)
        ours = time.perf_counter() - started
    assert report.sent == count and server.mailbox.total == count, report

    messages = [
        email_message(
            Outgoing(row["id"], "email", str(row["recipient"]), SUBJECT, BODY),  # type: ignore[arg-type]
            sender=SENDER,
            domain=DOMAIN,
        )
        for row in rows
    ]
    started = time.perf_counter()
    smtp = smtplib.SMTP("127.0.0.1", server.port, local_hostname=DOMAIN)
    for message in messages:
        smtp.send_message(message)
    smtp.quit()
    bare = time.perf_counter() - started
    server.stop()
    print(f"delivery of {count:,} reminders to a local SMTP server")
    print(f"  dispatcher (claim, send, mark; batches of 200): {ours:7.2f} s  {count / ours:7.0f}/s")
    print(f"  bare smtplib loop, one connection, no database: {bare:7.2f} s  {count / bare:7.0f}/s")
    print(f"  ratio dispatcher / bare: {ours / bare:.2f}")
    print(f"delivery_dispatcher_vs_bare_smtp: {ours / bare:.2f} (no goal: a comparison)")


def _noop() -> None:
    return None


def bench_planning(count: int, workdir: Path) -> None:
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler

    url = f"sqlite:///{workdir / 'plan.db'}"
    migrated_app(url)
    now = datetime.now(UTC)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        clinic_id = add_clinic(conn, now)
    reminders = Reminder.__table__
    rows = outbox_rows(count, clinic_id, now)
    for n, row in enumerate(rows):
        row["due_at"] = row["next_attempt_at"] = now + timedelta(minutes=n)
    started = time.perf_counter()
    # One transaction per booking of ~2 reminders, as planning does.
    with engine.connect() as conn:
        for first in range(0, count, 2):
            with conn.begin():
                conn.execute(reminders.insert(), rows[first : first + 2])
    ours = time.perf_counter() - started
    started = time.perf_counter()
    with engine.connect() as conn:
        due = conn.execute(
            sa.select(reminders.c.id)
            .where(
                reminders.c.status == "pending",
                reminders.c.next_attempt_at <= now + timedelta(minutes=100),
            )
            .order_by(reminders.c.next_attempt_at)
            .limit(100)
        ).all()
    ours_due = time.perf_counter() - started

    store = sa.create_engine(f"sqlite:///{workdir / 'jobs.db'}")
    with store.connect() as conn:
        # The journal the app gives the outbox's file, so both pay the same per commit.
        conn.exec_driver_sql("PRAGMA journal_mode=WAL")
    scheduler = BackgroundScheduler(jobstores={"default": SQLAlchemyJobStore(engine=store)})
    scheduler.start(paused=True)
    started = time.perf_counter()
    for n in range(count):
        scheduler.add_job(
            _noop, "date", run_date=now + timedelta(days=1, minutes=n), id=f"reminder-{n}"
        )
    naive = time.perf_counter() - started
    job_store = scheduler._lookup_jobstore("default")
    started = time.perf_counter()
    job_store.get_due_jobs(now + timedelta(days=1, minutes=100))
    naive_due = time.perf_counter() - started
    scheduler.shutdown(wait=False)
    print(f"planning {count:,} reminders (SQLite file)")
    print(f"  outbox rows, one transaction per 2 (a booking): {ours:7.2f} s  {count / ours:7.0f}/s")
    print(
        f"  one APScheduler job each, SQLAlchemyJobStore:   {naive:7.2f} s  {count / naive:7.0f}/s"
    )
    print(f"  ratio naive / outbox: {naive / ours:.2f}")
    print(f"planning_naive_vs_outbox: {naive / ours:.2f} (no goal: a comparison)")
    print(
        f"  finding the next 100 due: outbox {ours_due * 1000:.1f} ms ({len(due)} rows), "
        f"job store {naive_due * 1000:.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--deliver", type=int, default=10_000, help="reminders to deliver (0: skip delivery)"
    )
    parser.add_argument(
        "--plan",
        type=int,
        default=100_000,
        help="reminders to plan (fewer for a quick run, 0: skip planning)",
    )
    parser.add_argument("--quick", action="store_true", help="500 delivered, 1,000 planned")
    args = parser.parse_args()
    if args.quick:
        args.deliver, args.plan = min(args.deliver, 500), min(args.plan, 1_000)
    with tempfile.TemporaryDirectory() as workdir:
        if args.deliver:
            bench_delivery(args.deliver, Path(workdir))
        if args.plan:
            bench_planning(args.plan, Path(workdir))


if __name__ == "__main__":
    main()
