"""A real gunicorn (4 workers, deploy/gunicorn.conf.py) serving a database migrated with
`flask db upgrade` and seeded by tests.scheduling.race_seed in their own processes, for
the tests that race real requests; and what the database must still hold after them."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time as clock
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
import sqlalchemy as sa

WORKERS = 4
PYTHON = sys.executable
ROOT = Path(__file__).resolve().parents[2]
# The seeded clinics' zone (race_seed).
ZONE = ZoneInfo("America/New_York")


@dataclass
class Server:
    base_url: str
    database_url: str
    seed: dict[str, Any]
    logs: Path


def environment(database_url: str) -> dict[str, str]:
    inherited = {
        k: v for k, v in os.environ.items() if not k.startswith(("KAPT_", "FLASK_", "GUNICORN_"))
    }
    return {
        **inherited,
        "KAPT_ENV": "production",
        "KAPT_SECRET_KEY": os.urandom(32).hex(),
        "KAPT_DATABASE_URL": database_url,
        "KAPT_LOG_LEVEL": "INFO",
    }


def _run(logs: Path, name: str, args: list[str], env: dict[str, str]) -> str:
    """Run a command to its end; its output kept in logs/<name>.log and returned."""
    done = subprocess.run(
        args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    (logs / f"{name}.log").write_text(done.stdout + done.stderr)
    assert done.returncode == 0, f"{name} failed:\n{done.stderr[-3000:]}"
    return done.stdout


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_healthy(base_url: str, process: subprocess.Popen[bytes], logs: Path) -> None:
    deadline = clock.monotonic() + 20
    while clock.monotonic() < deadline:
        assert process.poll() is None, (logs / "gunicorn.log").read_text(errors="replace")
        try:
            if requests.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass  # not listening yet, or a worker still starting
        clock.sleep(0.1)
    pytest.fail("gunicorn did not answer /healthz within 20 s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@contextmanager
def gunicorn_on(database_url: str, logs: Path, seed_args: Sequence[str] = ()) -> Iterator[Server]:
    """Migrate the database with `flask db upgrade`, seed it, serve it with gunicorn."""
    env = environment(database_url)
    _run(logs, "migrate", [PYTHON, "-m", "flask", "--app", "wsgi", "db", "upgrade"], env)
    seed = [PYTHON, "-m", "tests.scheduling.race_seed", *seed_args]
    seeded = _run(logs, "seed", seed, env)
    seed = json.loads(next(line for line in seeded.splitlines() if line.startswith('{"token"')))
    port = _free_port()
    args = ["--config", "deploy/gunicorn.conf.py", "--workers", str(WORKERS)]
    args += ["--bind", f"127.0.0.1:{port}", "wsgi:app"]
    with ExitStack() as running, (logs / "gunicorn.log").open("wb") as output:
        process = subprocess.Popen(
            [PYTHON, "-m", "gunicorn", *args], cwd=ROOT, env=env, stdout=output, stderr=output
        )
        running.callback(_stop, process)
        base_url = f"http://127.0.0.1:{port}"
        _wait_until_healthy(base_url, process, logs)
        yield Server(base_url, database_url, seed, logs)


def weekday_after(days: int) -> date:
    """The first weekday at least `days` days from today on the seeded clinics' clocks."""
    day = datetime.now(ZONE).date() + timedelta(days=days)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def weekdays_after(days: int, count: int) -> list[date]:
    """`count` weekdays in a row, the first at least `days` days from today. Each is
    counted from the one before, never from today again: a first day pushed past a
    weekend (today a Saturday or Sunday) would else be found again and again."""
    found = [weekday_after(days)]
    while len(found) < count:
        day = found[-1] + timedelta(days=1)
        while day.weekday() >= 5:
            day += timedelta(days=1)
        found.append(day)
    return found


def overlapping_holds(database_url: str) -> int:
    """How many pairs of holds of one resource overlap in time, as the database counts."""
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
            return int(
                connection.execute(
                    sa.text(
                        "SELECT count(*) FROM resource_holds a JOIN resource_holds b"
                        " ON a.resource_key = b.resource_key AND a.id < b.id"
                        " AND a.starts_at < b.ends_at AND b.starts_at < a.ends_at"
                    )
                ).scalar_one()
            )
    finally:
        engine.dispose()


def holds_never_overlap(database_url: str) -> int:
    """Fails if two holds of one resource overlap; how many holds there are."""
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.text("SELECT resource_key, starts_at, ends_at FROM resource_holds")
            ).all()
    finally:
        engine.dispose()
    by_key: dict[str, list[tuple[Any, Any]]] = {}
    for key, starts_at, ends_at in rows:
        by_key.setdefault(key, []).append((starts_at, ends_at))
    for spans in by_key.values():
        spans.sort()
        for (_, first_end), (second_start, _) in pairwise(spans):
            assert first_end <= second_start
    return len(rows)
