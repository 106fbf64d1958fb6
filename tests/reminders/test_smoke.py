"""Real time, once: `flask kapt serve` (what `make run` starts) runs the dispatcher in
its embedded scheduler thread, and a due reminder leaves through the console channel
within a few ticks. Every other reminder test drives `now` instead."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from kapt_api.clinics.models import Clinic
from kapt_api.reminders.models import Reminder
from tests.reminders.servers import free_port

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def test_the_embedded_scheduler_delivers_a_due_reminder(tmp_path):
    url = f"sqlite:///{tmp_path / 'kapt.db'}"
    env = {
        **os.environ,
        "KAPT_ENV": "test",
        "KAPT_DATABASE_URL": url,
        "KAPT_SCHEDULER_TICK_SECONDS": "1",
    }
    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
    subprocess.run([*flask, "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
    engine = sa.create_engine(url)
    now = datetime.now(UTC)
    reminder_id, clinic_id = uuid.uuid4(), uuid.uuid4()
    with engine.begin() as conn:
        conn.execute(
            sa.insert(Clinic.__table__),
            {
                "id": clinic_id,
                "name": "Cedar Clinic",
                "time_zone": "America/New_York",
                "created_at": now,
                "updated_at": now,
            },
        )
        conn.execute(
            sa.insert(Reminder.__table__),
            {
                "id": reminder_id,
                "clinic_id": clinic_id,
                "purpose": "appointment_reminder",
                "channel": "email",
                "recipient": "avery@mail.test",
                "subject": "Reminder",
                "body": "See you soon.",
                "due_at": now - timedelta(seconds=1),
                "next_attempt_at": now - timedelta(seconds=1),
                "status": "pending",
                "attempts": 0,
                "created_at": now,
                "updated_at": now,
            },
        )
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(
        [*flask, "kapt", "serve", "--port", str(free_port())],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        status = "pending"
        ends = time.monotonic() + 30
        while status != "sent" and time.monotonic() < ends:
            time.sleep(0.2)
            with engine.connect() as conn:
                status = conn.execute(
                    sa.select(Reminder.__table__.c.status).where(
                        Reminder.__table__.c.id == reminder_id
                    )
                ).scalar_one()
    finally:
        server.terminate()
        server.wait(timeout=10)
        engine.dispose()
    assert status == "sent", (tmp_path / "serve.log").read_text()[-2000:]
    assert f'"reminder_id": "{reminder_id}"' in (tmp_path / "serve.log").read_text()
