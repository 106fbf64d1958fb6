"""The README's five-minute tour, run as a newcomer runs it: its ```sh block pasted
into one bash shell, command after command, against a real server on the demo
(a fresh SQLite database, `flask db upgrade`, `flask kapt demo-data --if-empty`,
`flask kapt serve`). Each command must succeed (the tour's curl calls use --fail,
so an HTTP error fails the command) and show what the tour says it shows. The
server runs at the real time of day: between 20:35 and 07:45 New York time no dose
is being monitored, and the tour says so instead of recording a reading."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.ops.test_processes import (
    HEARTBEAT_TIMEOUT,
    PYTHON,
    free_ports,
    get_json,
    log_tail,
    run,
    serve,
    stop_all,
    wait_for,
)

pytestmark = pytest.mark.slow

README = Path(__file__).resolve().parent.parent / "README.md"
STEP = "@@tour-step"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
DEMO_ALERT = "critical  Systolic blood pressure 186 mm[Hg] is above 180"
TOUR_ALERT = "critical  Systolic blood pressure 184 mm[Hg] is above 180"


def tour_commands() -> list[str]:
    """The tour's commands: its ```sh block, cut at the blank lines between steps."""
    section = README.read_text().split("<!-- tour:start -->")[1].split("<!-- tour:end -->")[0]
    found = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert found, "the tour has no ```sh block"
    return [command.strip() for command in re.split(r"\n\s*\n", found.group(1)) if command]


def dose_chosen_by_the_tour(day: dict[str, object]) -> str:
    """What step 5 of the tour picks from a day schedule as the dose to record on
    ("" when none), by running its own jq filter over the schedule."""
    found = re.search(r"DOSE=\$\(jq -r '(.*?)' <<<\"\$DAY\"\)", "\n".join(tour_commands()), re.S)
    assert found, "step 5 no longer picks the dose with jq"
    done = subprocess.run(
        ["jq", "-r", found.group(1)], input=json.dumps(day), capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def host_environment() -> dict[str, str]:
    """This machine's environment without its own kapt or Flask settings."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("KAPT_", "FLASK_"))}


@dataclass(frozen=True)
class Server:
    base_url: str
    logs: Path


@pytest.fixture
def demo_server(tmp_path: Path) -> Iterator[Server]:
    """`make run`'s three steps on a fresh SQLite database, the server on a free port."""
    logs = tmp_path / "logs"
    logs.mkdir()
    environ = host_environment() | {
        "KAPT_ENV": "development",
        "KAPT_DATABASE_URL": f"sqlite:///{tmp_path / 'tour.db'}",
        "KAPT_SECRET_KEY": secrets.token_hex(24),
    }
    flask = [PYTHON, "-m", "flask", "--app", "wsgi"]
    run(logs, "migrate", [*flask, "db", "upgrade"], environ)
    run(logs, "demo-data", [*flask, "kapt", "demo-data", "--if-empty"], environ)
    (port,) = free_ports(1)
    running: list[subprocess.Popen[bytes]] = []
    try:
        command = [*flask, "kapt", "serve", "--port", str(port)]
        process = serve(running, logs, "serve", command, environ, port)
        base_url = f"http://127.0.0.1:{port}"
        # As a newcomer reads the logins first: the embedded scheduler's first round
        # of jobs (the first heartbeat among them) is done before the tour starts.
        wait_for(
            lambda: _scheduler_beating(base_url),
            what="the embedded scheduler's first heartbeat",
            timeout=HEARTBEAT_TIMEOUT,
            watched=[process],
            logs=logs,
        )
        yield Server(base_url, logs)
    finally:
        stop_all(running)


def _scheduler_beating(base_url: str) -> bool | None:
    answer = get_json(f"{base_url}/readyz")
    return True if answer and answer["body"]["scheduler"]["status"] == "ok" else None


def run_tour(server: Server) -> list[str]:
    """Every command in one bash shell, in order; what each printed."""
    commands = tour_commands()
    script = "set -eo pipefail\n" + "".join(
        f'echo "{STEP} {number}"\n{command}\n' for number, command in enumerate(commands)
    )
    done = subprocess.run(
        ["bash", "-c", script],
        env=host_environment() | {"BASE": server.base_url},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    outputs = done.stdout.split(f"{STEP} ")[1:]
    stopped = commands[len(outputs) - 1] if outputs else "(before the first)"
    assert done.returncode == 0, (
        f"tour command failed (exit {done.returncode}):\n{stopped}\n--- stdout\n{done.stdout}"
        f"\n--- stderr\n{done.stderr}\n{log_tail(server.logs)}"
    )
    assert len(outputs) == len(commands)
    return [output.partition("\n")[2] for output in outputs]


def test_the_tour_is_five_or_six_commands():
    commands = tour_commands()

    assert 5 <= len(commands) <= 6
    assert commands[0].splitlines()[1] == "BASE=${BASE:-http://127.0.0.1:5000}"


def test_the_readme_tour_runs_against_the_demo(demo_server):
    login, schedule, slots, booking, reading, alerts = run_tour(demo_server)

    assert login == ""
    lines = schedule.splitlines()
    assert all(
        re.fullmatch(r"\d\d:\d\d  .+  [a-z_]+  [a-z_]+( \(.+\))?  .+", line) for line in lines
    )
    assert {"  preparation  ", "  dosing  ", "  integration  "} <= {
        kind for line in lines for kind in re.findall(r"  [a-z_]+  ", line)
    }
    assert re.search(r"^\d{4}-\d\d-\d\dT\d\d:\d\d  Therapy Room \d  \S", slots, re.MULTILINE)
    assert re.search(rf'"id": "{UUID}"', booking)
    assert '"kind": "preparation"' in booking and '"status": "booked"' in booking
    assert DEMO_ALERT in alerts
    if any("  dosing  in_progress (checklist in_progress)  " in line for line in lines):
        assert '"systolic_bp": 184' in reading
        assert TOUR_ALERT in alerts.splitlines()[0]  # newest first
    else:
        assert reading.startswith("No dose is being monitored now")
