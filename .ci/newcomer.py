"""What a newcomer and an operator do first, done on every change.

1. The newcomer: a fresh clone, `make run` exactly as the README says (its own
   .venv with the runtime dependencies only, the SQLite default), then over HTTP:
   /readyz reports the database and the scheduler ok, a demo login that
   `make run` printed works, today's clinic schedule holds appointments, and one
   more session is booked from the slots the API offers.
2. The operator: a virtual environment built as the Dockerfile builds it (the
   project, no extras), `flask db upgrade`, gunicorn and `flask kapt scheduler`
   against a fresh PostgreSQL database, and /readyz ok.

Standard library only: it runs before and outside any project environment.
Usage: python3 .ci/newcomer.py [--keep]   (--keep leaves the temporary folder)
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_URL = os.environ.get(
    "KAPT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
INSTALL_BOUND = 900.0  # seconds: a venv and its packages on a slow day (a bound, not a wait)
START_BOUND = 120.0
TEST_TOOLS = ("pytest", "hypothesis", "schemathesis", "aiosmtpd")
LOGIN_LINE = re.compile(r"^\s+(\S+@\S+)\s+(\S+)\s+([a-z_, ]+)$")


class SmokeFailed(RuntimeError):
    pass


def say(message: str) -> None:
    print(f"[newcomer] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_environment(**extra: str) -> dict[str, str]:
    """The machine's environment as a newcomer's shell has it: no project settings,
    no virtual environment of ours active."""
    dropped = ("KAPT_", "FLASK_", "GUNICORN_", "VIRTUAL_ENV", "PYTHON")
    env = {k: v for k, v in os.environ.items() if not k.startswith(dropped)}
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if "/.venv/" not in p
    )
    return {**env, **extra}


class Process:
    """A started command, its output in a file, stopped with its whole process group."""

    def __init__(self, name: str, args: list[str], *, cwd: Path, env: dict[str, str], logs: Path):
        self.name = name
        self.log = logs / f"{name}.log"
        self._file = self.log.open("wb")
        self.popen = subprocess.Popen(
            args,
            cwd=cwd,
            env=env,
            stdout=self._file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            # SIGINT as at a terminal, whatever CI's shell made this process ignore.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def tail(self, lines: int = 60) -> str:
        return f"--- {self.name} (last {lines} lines)\n" + "\n".join(
            self.output().splitlines()[-lines:]
        )

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, sig: int = signal.SIGINT, bound: float = 30.0) -> int:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, sig)
            try:
                self.popen.wait(bound)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(10)
        self._file.close()
        return int(self.popen.returncode)


def http(method: str, url: str, *, token: str | None = None, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Accept", "application/json")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            raw = answer.read()
            return answer.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        raw = error.read()
        try:
            return error.code, json.loads(raw)
        except ValueError:
            return error.code, raw.decode(errors="replace")


def run_step(name: str, args: list[str], *, logs: Path, **options: Any) -> None:
    """A command that must succeed; its output goes to logs/<name>.log, shown if it fails."""
    log = logs / f"{name}.log"
    with log.open("wb") as out:
        done = subprocess.run(args, stdout=out, stderr=subprocess.STDOUT, check=False, **options)
    if done.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
        raise SmokeFailed(f"{name}: {' '.join(args)} exited {done.returncode}\n{tail}")


def error_lines(process: Process) -> list[str]:
    return [
        line
        for line in process.output().splitlines()
        if re.search(r"Traceback|\[error|\"level\": \"(error|critical)\"", line)
    ]


def expect(status: int, answer: tuple[int, Any], what: str) -> Any:
    if answer[0] != status:
        raise SmokeFailed(f"{what}: expected {status}, got {answer[0]}: {answer[1]}")
    return answer[1]


def wait_until(check: Callable[[], Any], *, what: str, bound: float, watched: list[Process]) -> Any:
    deadline = time.monotonic() + bound
    while True:
        for process in watched:
            if not process.alive():
                raise SmokeFailed(
                    f"{process.name} exited ({process.popen.returncode}) before {what}\n"
                    + process.tail()
                )
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            tails = "\n".join(p.tail() for p in watched)
            raise SmokeFailed(f"no {what} within {bound:.0f} s\n{tails}")
        time.sleep(0.5)


def ready(base: str) -> Callable[[], dict[str, Any] | None]:
    def check() -> dict[str, Any] | None:
        try:
            status, body = http("GET", f"{base}/readyz")
        except (urllib.error.URLError, OSError):
            return None
        if status == 200 and body["database"] == "ok" and body["scheduler"]["status"] == "ok":
            return dict(body)
        return None

    return check


def lacks_test_tools(python: Path) -> None:
    for tool in TEST_TOOLS:
        found = subprocess.run(
            [str(python), "-c", f"import {tool}"], capture_output=True, check=False
        )
        if found.returncode == 0:
            raise SmokeFailed(f"{tool} is installed in {python.parent.parent}: not a runtime set")


# --- 1. the newcomer ----------------------------------------------------------------------


def printed_logins(output: str) -> dict[str, tuple[str, str]]:
    """role -> (email, password), as `make run` printed them."""
    logins: dict[str, tuple[str, str]] = {}
    for line in output.splitlines():
        match = LOGIN_LINE.match(line)
        if match:
            for role in match.group(3).split(","):
                logins[role.strip()] = (match.group(1), match.group(2))
    return logins


def log_in(base: str, email: str, password: str) -> str:
    answer = http("POST", f"{base}/api/v1/auth/tokens", body={"email": email, "password": password})
    return str(expect(201, answer, f"log in as {email}")["access_token"])


def todays_appointments(base: str, token: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    clinics = expect(200, http("GET", f"{base}/api/v1/clinics", token=token), "list clinics")
    if not clinics:
        raise SmokeFailed("the demo has no clinic")
    clinic = clinics[0]
    today = datetime.now(ZoneInfo(clinic["time_zone"])).date().isoformat()
    url = f"{base}/api/v1/schedule?clinic_id={clinic['id']}&date={today}"
    day = expect(200, http("GET", url, token=token), "today's clinic schedule")
    seen = {a["id"]: a for room in day["by_room"] for a in room["appointments"]}
    return clinic, list(seen.values())


def book_one_more(base: str, token: str, appointments: list[dict[str, Any]]) -> dict[str, Any]:
    """The first session a course seen today has due, in the first slot the API offers."""
    now = datetime.now(UTC)
    course_ids = list(dict.fromkeys(a["course_id"] for a in appointments))
    tried = []
    for course in ({"id": course_id} for course_id in course_ids):
        progress = expect(
            200,
            http("GET", f"{base}/api/v1/courses/{course['id']}/progress", token=token),
            "course progress",
        )
        for due in progress["due"]:
            earliest = max(now + timedelta(hours=1), _parsed(due["earliest"]) or now)
            latest = min(
                _parsed(due["latest"]) or earliest + timedelta(days=28),
                earliest + timedelta(days=28),
            )
            if latest <= earliest:
                continue
            query = f"kind={due['kind']}&from={_iso(earliest)}&to={_iso(latest)}&limit=1"
            slots = expect(
                200,
                http("GET", f"{base}/api/v1/courses/{course['id']}/slots?{query}", token=token),
                "slot search",
            )
            tried.append(f"{course['id']} {due['kind']}: {len(slots)} slot(s)")
            if not slots:
                continue
            slot = slots[0]
            body = {
                "course_id": course["id"],
                "kind": slot["kind"],
                "room_id": slot["room_id"],
                "staff_ids": slot["staff_ids"],
                "starts_at": slot["starts_at"],
            }
            booked = http("POST", f"{base}/api/v1/appointments", token=token, body=body)
            return dict(expect(201, booked, f"book {slot['kind']} at {slot['starts_at']}"))
    raise SmokeFailed("no course seen today had a slot to book: " + "; ".join(tried))


def _parsed(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def newcomer(clone: Path, logs: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    say(f"make run PORT={port} in {clone} (a fresh clone, its own .venv)")
    started = time.monotonic()
    run = Process(
        "make-run", ["make", "run", f"PORT={port}"], cwd=clone, env=clean_environment(), logs=logs
    )
    try:
        body = wait_until(
            ready(base),
            what="/readyz with database and scheduler ok",
            bound=INSTALL_BOUND,
            watched=[run],
        )
        say(f"ready after {time.monotonic() - started:.0f} s: {body}")
        lacks_test_tools(clone / ".venv" / "bin" / "python")
        logins = printed_logins(run.output())
        if "front_desk" not in logins:
            raise SmokeFailed("make run printed no front-desk login\n" + run.tail())
        token = log_in(base, *logins["front_desk"])
        clinic, appointments = todays_appointments(base, token)
        kinds = sorted({a["kind"] for a in appointments})
        say(f"today at {clinic['name']}: {len(appointments)} appointments ({', '.join(kinds)})")
        if not appointments:
            raise SmokeFailed("today's clinic schedule is empty")
        booked = book_one_more(base, token, appointments)
        say(f"booked {booked['kind']} {booked['id']} at {booked['starts_at']}")
        expect(
            200,
            http("GET", f"{base}/api/v1/appointments/{booked['id']}", token=token),
            "read the booking back",
        )
    finally:
        code = run.stop(signal.SIGINT)
        say(f"make run stopped (exit {code})")
    problems = error_lines(run)
    if problems:
        raise SmokeFailed("make run logged errors:\n" + "\n".join(problems[:20]))


# --- 2. the operator ----------------------------------------------------------------------


@contextlib.contextmanager
def postgres_database(python: Path, logs: Path) -> Iterator[str]:
    """A new database on the test server (through the runtime venv's own driver)."""
    name = f"kapt_smoke_{os.getpid()}_{secrets.token_hex(3)}"
    script = (
        "import sys\nimport sqlalchemy as sa\n"
        "engine = sa.create_engine(sa.make_url(sys.argv[1]), isolation_level='AUTOCOMMIT')\n"
        "with engine.connect() as c: c.exec_driver_sql(sys.argv[2])\n"
    )

    def run_sql(sql: str) -> None:
        run_step("postgres", [str(python), "-c", script, POSTGRES_URL, sql], logs=logs)

    run_sql(f'CREATE DATABASE "{name}"')
    try:
        yield POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        run_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def operator(clone: Path, work: Path, logs: Path) -> None:
    venv = work / "image-venv"
    say("a virtual environment built as the Dockerfile builds it: pip install --editable .")
    run_step("venv", [sys.executable, "-m", "venv", str(venv)], logs=logs)
    pip = [str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check"]
    run_step("pip-install", [*pip, "--editable", str(clone)], logs=logs, cwd=clone)
    python = venv / "bin" / "python"
    lacks_test_tools(python)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with postgres_database(python, logs) as database_url:
        env = clean_environment(
            FLASK_APP="wsgi",
            KAPT_ENV="production",
            KAPT_SECRET_KEY=secrets.token_urlsafe(48),
            KAPT_DATABASE_URL=database_url,
            KAPT_EMBEDDED_SCHEDULER="false",
            KAPT_BASE_URL=base,
            KAPT_ADMIN_PASSWORD=secrets.token_urlsafe(18),
        )
        flask = str(venv / "bin" / "flask")
        run_step("db-upgrade", [flask, "db", "upgrade"], logs=logs, cwd=clone, env=env)
        say("flask db upgrade on PostgreSQL: done")
        run_step(
            "create-admin",
            [flask, "kapt", "create-admin", "--email", "ops@clinic.example"],
            logs=logs,
            cwd=clone,
            env=env,
        )
        gunicorn = Process(
            "gunicorn",
            [
                str(venv / "bin" / "gunicorn"),
                "--config",
                "deploy/gunicorn.conf.py",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
                "wsgi:app",
            ],
            cwd=clone,
            env=env,
            logs=logs,
        )
        schedulers = Process(
            "scheduler", [flask, "kapt", "scheduler"], cwd=clone, env=env, logs=logs
        )
        try:
            body = wait_until(
                ready(base),
                what="/readyz ok through gunicorn",
                bound=START_BOUND,
                watched=[gunicorn, schedulers],
            )
            say(f"gunicorn and the scheduler on PostgreSQL: {body}")
            token = log_in(base, "ops@clinic.example", env["KAPT_ADMIN_PASSWORD"])
            me = expect(200, http("GET", f"{base}/api/v1/auth/me", token=token), "who am I")
            say(f"logged in through gunicorn as {me['email']} ({', '.join(me['roles'])})")
        finally:
            for process in (schedulers, gunicorn):
                say(f"{process.name} stopped (exit {process.stop(signal.SIGTERM)})")
        problems = error_lines(gunicorn) + error_lines(schedulers)
        if problems:
            raise SmokeFailed(
                "the production processes logged errors:\n" + "\n".join(problems[:20])
            )


def main() -> int:
    keep = "--keep" in sys.argv
    work = Path(tempfile.mkdtemp(prefix="kapt-newcomer-"))
    logs = work / "logs"
    logs.mkdir()
    clone = work / "kapt-api"
    started = time.monotonic()
    try:
        run_step("clone", ["git", "clone", "--quiet", str(ROOT), str(clone)], logs=logs)
        head = subprocess.run(
            ["git", "-C", str(clone), "log", "--oneline", "-1"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        say(f"cloned {head}")
        newcomer(clone, logs)
        operator(clone, work, logs)
    except SmokeFailed as failure:
        say(f"FAILED: {failure}")
        return 1
    finally:
        if keep:
            say(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    say(f"passed in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
