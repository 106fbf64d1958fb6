"""`make run` as the README gives it, for one minute: the embedded server with its
scheduler on a fresh SQLite database holding the demo clinic, used by a front desk
and a nurse, writes not one error or warning line (and the scheduler's per-tick
chatter stays out of sight)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from kapt_api import demo
from tests.ops.test_processes import free_ports, get_json, log_tail, wait_for

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
FIRST_MINUTE = 60.0  # seconds watched: what the README promises a newcomer sees
INSTALL_BOUND = 300.0  # make run may reinstall the project first: a bound, not a wait
TROUBLE = re.compile(r'Traceback|"level": "(warning|error|critical)"|\[(warning|error|critical)')


def login(base: str, role: str) -> dict[str, str]:
    account = next(login for login in demo.LOGINS if role in login.roles)
    answer = requests.post(
        f"{base}/api/v1/auth/tokens",
        json={"email": account.email, "password": account.password},
        timeout=30,
    )
    assert answer.status_code == 201, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def get(base: str, path: str, headers: dict[str, str]) -> Any:
    answer = requests.get(f"{base}{path}", headers=headers, timeout=30)
    assert answer.status_code == 200, (path, answer.status_code, answer.text)
    return answer.json()


def a_clinic_day(base: str) -> int:
    """What a front desk and a nurse read first; returns how many requests it made."""
    desk = login(base, "front_desk")
    clinic = get(base, "/api/v1/clinics", desk)[0]
    today = datetime.now(ZoneInfo(clinic["time_zone"])).date().isoformat()
    day = get(base, f"/api/v1/schedule?clinic_id={clinic['id']}&date={today}", desk)
    assert any(room["appointments"] for room in day["by_room"]), "an empty demo day"
    first = next(a for room in day["by_room"] for a in room["appointments"])
    get(base, f"/api/v1/courses/{first['course_id']}/progress", desk)
    nurse = login(base, "nurse")
    get(base, "/api/v1/alerts", nurse)
    get(base, f"/api/v1/reminders?appointment_id={first['id']}", desk)
    return 7


def test_the_first_minute_of_make_run_has_no_error_line(tmp_path):
    (port,) = free_ports(1)
    base = f"http://127.0.0.1:{port}"
    logs = tmp_path / "logs"
    logs.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAPT_", "FLASK_", "MAKE"))}
    # Its own database and key, so the repository's instance/ is left alone.
    env["KAPT_DATABASE_URL"] = f"sqlite:///{tmp_path / 'kapt.db'}"
    env["KAPT_SECRET_KEY"] = os.urandom(32).hex()
    output = logs / "make-run.log"
    with output.open("wb") as sink:
        server = subprocess.Popen(
            ["make", "--no-print-directory", "run", f"PORT={port}"],
            cwd=ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            # Ctrl+C at a terminal: SIGINT as it is there, whatever this test's parent ignores.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
    try:
        wait_for(
            lambda: (get_json(f"{base}/readyz") or {}).get("status_code") == 200 or None,
            what="make run's server ready",
            timeout=INSTALL_BOUND,
            watched=[server],
            logs=logs,
        )
        started = time.monotonic()
        requests_made = 0
        while time.monotonic() - started < FIRST_MINUTE:
            requests_made += a_clinic_day(base)
            time.sleep(5)  # a front desk reloading its day, not waiting for a result
        ready = get_json(f"{base}/readyz")
    finally:
        os.killpg(server.pid, signal.SIGINT)
        server.wait(timeout=30)  # a bound: it stops at once

    text = output.read_text(encoding="utf-8", errors="replace")
    assert ready is not None and ready["body"]["scheduler"]["status"] == "ok", log_tail(logs)
    assert [line for line in text.splitlines() if TROUBLE.search(line)] == []
    assert "Running job" not in text and "executed successfully" not in text
    assert requests_made >= 14
    # What the newcomer sees last before the requests: where to go and who to log in as.
    assert f"{base}/docs" in text and demo.LOGINS[0].email in text
    assert "Stopped." in text  # Ctrl+C stopped it
