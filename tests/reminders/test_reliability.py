"""Delivery guarantees with real processes: `flask kapt scheduler` replicas against a
fresh PostgreSQL database, sending to a real SMTP server in this process that counts
what it receives by Message-ID.

- 3 dispatchers over 5,000 due reminders deliver each exactly once;
- a dispatcher killed with SIGKILL mid-batch (1,000 reminders, batches of 100) and
  restarted loses nothing and duplicates at most what it had in flight under its
  lease (the count is printed);
- with the SMTP server down for a while, everything is delivered after it returns.

These wait on real processes with bounded polling; nothing else in the suite sleeps.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.ops.databases import fresh_postgres_database
from tests.reminders.servers import SmtpServer, free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
DEADLINE_SECONDS = 60.0


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    with fresh_postgres_database("kapt_reminders") as url:
        subprocess.run(
            [sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"],
            cwd=ROOT,
            env={
                **os.environ,
                "KAPT_ENV": "test",
                "KAPT_DATABASE_URL": url,
                "KAPT_LOG_LEVEL": "WARNING",
            },
            check=True,
            capture_output=True,
        )
        yield url


@pytest.fixture
def engine(database: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(database)
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM reminders")
    yield engine
    engine.dispose()


def add_due_reminders(engine: sa.Engine, count: int) -> set[str]:
    """`count` email reminders due a minute ago, written straight into the outbox."""
    now = datetime.now(UTC)
    clinic_id = uuid.uuid4()
    rows = [
        {
            "id": uuid.uuid4(),
            "clinic_id": clinic_id,
            "purpose": "appointment_reminder",
            "channel": "email",
            "recipient": f"patient-{n}@mail.test",
            "subject": "Appointment reminder: Cedar Clinic, Monday, December 7",
            "body": "Hello,\n\nThis is a reminder of your appointment on Monday at 9:00 AM.\n",
            "due_at": now - timedelta(minutes=1),
            "next_attempt_at": now - timedelta(minutes=1),
            "status": "pending",
            "attempts": 0,
            "created_at": now,
            "updated_at": now,
        }
        for n in range(count)
    ]
    meta = sa.MetaData()
    clinics = sa.Table("clinics", meta, autoload_with=engine)
    reminders = sa.Table("reminders", meta, autoload_with=engine)
    with engine.begin() as conn:
        conn.execute(
            clinics.insert(),
            {
                "id": clinic_id,
                "name": "Cedar Clinic",
                "time_zone": "America/New_York",
                "created_at": now,
                "updated_at": now,
            },
        )
        conn.execute(reminders.insert(), rows)
    return {f"<reminder-{row['id']}@kapt.invalid>" for row in rows}


def statuses(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        found = conn.exec_driver_sql("SELECT status, count(*) FROM reminders GROUP BY status")
        return {status: int(n) for status, n in found}


@pytest.fixture
def start_dispatcher(
    database: str, tmp_path: Path
) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []

    def start(smtp_port: int, **settings: str) -> subprocess.Popen[bytes]:
        env = {
            **os.environ,
            "KAPT_ENV": "test",
            "KAPT_DATABASE_URL": database,
            "KAPT_SMTP_HOST": "127.0.0.1",
            "KAPT_SMTP_PORT": str(smtp_port),
            "KAPT_SCHEDULER_TICK_SECONDS": "1",
            "KAPT_REMINDER_BATCH_SIZE": "50",
            "KAPT_REMINDER_RETRY_SECONDS": "1",
            "KAPT_REMINDER_RETRY_MAX_SECONDS": "2",
            "KAPT_REMINDER_MAX_ATTEMPTS": "50",
            "KAPT_LOG_LEVEL": "WARNING",
            **settings,
        }
        log = (tmp_path / f"dispatcher-{len(started)}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "kapt", "scheduler"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.terminate()
    for process in started:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_until(condition: Callable[[], bool], *, seconds: float = DEADLINE_SECONDS) -> bool:
    """Poll a real process's progress, bounded in time."""
    ends = time.monotonic() + seconds
    while time.monotonic() < ends:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


def test_three_dispatchers_deliver_5000_reminders_exactly_once(engine, smtp, start_dispatcher):
    expected = add_due_reminders(engine, 5000)
    started = time.monotonic()

    for _ in range(3):
        start_dispatcher(smtp.port)

    # The SMTP server (aiosmtpd, one event loop) takes about 100 messages a second here.
    done = wait_until(lambda: statuses(engine).get("sent", 0) == 5000, seconds=150)
    assert done, statuses(engine)
    elapsed = time.monotonic() - started
    counts = smtp.mailbox.counts
    duplicates = smtp.mailbox.duplicates()
    print(f"\n3 dispatchers: 5000 reminders in {elapsed:.1f} s, duplicates {duplicates}")
    assert set(counts) == expected
    assert smtp.mailbox.duplicates() == 0


def test_a_dispatcher_killed_mid_batch_loses_nothing(engine, smtp, start_dispatcher):
    expected = add_due_reminders(engine, 1000)
    lease = {"KAPT_REMINDER_LEASE_SECONDS": "3", "KAPT_REMINDER_BATCH_SIZE": "100"}
    victim = start_dispatcher(smtp.port, **lease)

    assert wait_until(lambda: smtp.mailbox.total >= 250)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    delivered_before = smtp.mailbox.total
    with engine.connect() as conn:
        in_flight = conn.exec_driver_sql(
            "SELECT count(*) FROM reminders WHERE status = 'pending' AND lease_until IS NOT NULL"
        ).scalar_one()

    start_dispatcher(smtp.port, **lease)

    assert wait_until(lambda: statuses(engine).get("sent", 0) == 1000), statuses(engine)
    duplicates = smtp.mailbox.duplicates()
    print(
        f"\nkilled after {delivered_before} deliveries with {in_flight} claimed under its "
        f"lease; duplicates after restart: {duplicates}"
    )
    assert set(smtp.mailbox.counts) == expected
    assert duplicates <= in_flight <= 100


def test_everything_is_delivered_after_the_smtp_server_returns(engine, start_dispatcher):
    expected = add_due_reminders(engine, 300)
    server = SmtpServer(free_port())
    start_dispatcher(server.port)

    def retrying() -> bool:
        with engine.connect() as conn:
            return bool(
                conn.exec_driver_sql(
                    "SELECT count(*) FROM reminders WHERE attempts >= 2 AND last_error IS NOT NULL"
                ).scalar_one()
            )

    try:
        assert wait_until(retrying), statuses(engine)
        assert statuses(engine) == {"pending": 300}
        server.start()
        assert wait_until(lambda: statuses(engine).get("sent", 0) == 300), statuses(engine)
    finally:
        server.stop()
    assert set(server.mailbox.counts) == expected
    assert server.mailbox.duplicates() == 0
