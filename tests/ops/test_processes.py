"""What docker-compose.yml describes, started here as real processes without Docker:
PostgreSQL (a fresh database), `flask db upgrade` as the `migrate` service, Redis,
an SMTP catcher standing in for Mailpit, gunicorn with several workers serving
`wsgi:app`, and the scheduler as its own process, all on loopback ports and with
the environment variables the compose file sets. docs/processes.md gives the same
commands for people."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import redis
import requests
import sqlalchemy as sa

from tests.ops import compose
from tests.ops.databases import fresh_postgres_database

pytestmark = pytest.mark.slow

PYTHON = sys.executable
START_TIMEOUT = 30.0  # seconds for a process to answer once started (bounds, not waits)
HEARTBEAT_TIMEOUT = 60.0  # a bound: it beats as soon as it has started, slower on a busy machine
T = TypeVar("T")


@dataclass
class Stack:
    base_url: str
    database_url: str
    redis_url: str | None
    maildir: Path  # what the SMTP catcher received, one file per message
    environ: dict[str, str]
    gunicorn: subprocess.Popen[bytes]
    scheduler: subprocess.Popen[bytes]
    ready_before_scheduler: dict[str, Any]
    logs: Path


def free_ports(count: int) -> list[int]:
    """Distinct loopback ports nobody listens on (all held open while choosing)."""
    with ExitStack() as held:
        sockets = [held.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]


def log_tail(logs: Path, lines: int = 40) -> str:
    parts = []
    for path in sorted(logs.glob("*.log")):
        text = path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
        parts.append(f"--- {path.name}\n" + "\n".join(text))
    return "\n".join(parts)


def wait_for(
    check: Callable[[], T | None],
    *,
    what: str,
    timeout: float,
    watched: list[subprocess.Popen[bytes]],
    logs: Path,
) -> T:
    """Poll `check` until it returns something, a watched process dies, or time is up."""
    deadline = time.monotonic() + timeout
    while True:
        for process in watched:
            if process.poll() is not None:
                pytest.fail(
                    f"{process.args} exited with {process.returncode} while waiting for {what}"
                    f"\n{log_tail(logs)}"
                )
        result = check()
        if result is not None:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} within {timeout:.0f} s\n{log_tail(logs)}")
        time.sleep(0.1)


def accepts_connections(port: int) -> bool | None:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return None


def get_json(url: str) -> dict[str, Any] | None:
    try:
        response = requests.get(url, timeout=5)
    except (requests.ConnectionError, requests.Timeout):
        return None  # not listening yet, or no worker free yet
    return {"status_code": response.status_code, "body": response.json()}


def process_environment(overrides: dict[str, str]) -> dict[str, str]:
    """The host's environment without its own KAPT_/FLASK_ settings, plus what the
    compose file gives the kapt services, with its endpoints moved to loopback."""
    services = compose.load()["services"]
    host = {"KAPT_SECRET_KEY": os.urandom(32).hex(), "POSTGRES_PASSWORD": "unused"}
    from_compose = compose.environment(services["api"], host)
    unknown = set(overrides) - set(from_compose)
    assert not unknown, f"not variables the compose file sets: {unknown}"
    inherited = {
        k: v for k, v in os.environ.items() if not k.startswith(("KAPT_", "FLASK_", "GUNICORN_"))
    }
    return {**inherited, **from_compose, **overrides}


def stop_all(processes: list[subprocess.Popen[bytes]]) -> None:
    """Ask every process to stop at once, then wait for each (killing a straggler)."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def start(
    running: list[subprocess.Popen[bytes]],
    logs: Path,
    name: str,
    args: list[str],
    env: dict[str, str],
) -> subprocess.Popen[bytes]:
    with (logs / f"{name}.log").open("wb") as output:
        process = subprocess.Popen(
            args, cwd=compose.ROOT, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    running.append(process)
    return process


def run(logs: Path, name: str, args: list[str], env: dict[str, str]) -> None:
    with (logs / f"{name}.log").open("wb") as output:
        completed = subprocess.run(
            args,
            cwd=compose.ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            timeout=60,
            check=False,
        )
    assert completed.returncode == 0, f"{' '.join(args)} failed\n{log_tail(logs)}"


def serve(
    running: list[subprocess.Popen[bytes]],
    logs: Path,
    name: str,
    args: list[str],
    env: dict[str, str],
    port: int,
) -> subprocess.Popen[bytes]:
    """Start a server process and wait until it accepts connections on its port."""
    process = start(running, logs, name, args, env)
    wait_for(
        lambda: accepts_connections(port),
        what=f"{name} listening on port {port}",
        timeout=START_TIMEOUT,
        watched=[process],
        logs=logs,
    )
    return process


def start_stack(
    running: list[subprocess.Popen[bytes]],
    logs: Path,
    database_url: str,
    *,
    settings: dict[str, str] | None = None,
    after_migrate: tuple[list[str], ...] = (),
) -> Stack:
    """Start every process compose describes, in its order, against `database_url`;
    `settings` more of compose's variables, `after_migrate` flask commands to run once
    the database is migrated (e.g. loading the demo clinic)."""
    redis_port, smtp_port, api_port = free_ports(3)
    base_url = f"http://127.0.0.1:{api_port}"
    redis_url = None
    if shutil.which("redis-server"):
        redis_command = ["redis-server", "--bind", "127.0.0.1", "--port", str(redis_port)]
        serve(running, logs, "redis", [*redis_command, "--save", ""], {**os.environ}, redis_port)
        redis_url = f"redis://127.0.0.1:{redis_port}/0"
    maildir = logs / "maildir"
    smtp_command = [PYTHON, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{smtp_port}"]
    smtp_command += ["-c", "aiosmtpd.handlers.Mailbox", str(maildir)]
    serve(running, logs, "smtp", smtp_command, {**os.environ}, smtp_port)

    environ = process_environment(
        {
            "KAPT_DATABASE_URL": database_url,
            "KAPT_RATELIMIT_STORAGE_URL": redis_url or "memory://",
            "KAPT_SMTP_HOST": "127.0.0.1",
            "KAPT_SMTP_PORT": str(smtp_port),
            "KAPT_BASE_URL": base_url,
            **(settings or {}),
        }
    )
    run(logs, "migrate", [PYTHON, "-m", "flask", "--app", "wsgi", "db", "upgrade"], environ)
    for number, command in enumerate(after_migrate):
        run(logs, f"after-migrate-{number}", [PYTHON, "-m", "flask", "--app", "wsgi", *command],
            environ)  # fmt: skip

    gunicorn_command = [PYTHON, "-m", "gunicorn", "--config", "deploy/gunicorn.conf.py"]
    gunicorn_command += ["--bind", f"127.0.0.1:{api_port}", "--workers", "2", "wsgi:app"]
    gunicorn = serve(running, logs, "gunicorn", gunicorn_command, environ, api_port)
    ready_before = wait_for(
        lambda: get_json(f"{base_url}/readyz"),
        what="gunicorn answering /readyz",
        timeout=START_TIMEOUT,
        watched=[gunicorn],
        logs=logs,
    )

    scheduler_command = [PYTHON, "-m", "flask", "--app", "wsgi", "kapt", "scheduler"]
    scheduler = start(running, logs, "scheduler", scheduler_command, environ)
    return Stack(
        base_url=base_url,
        database_url=database_url,
        redis_url=redis_url,
        maildir=maildir,
        environ=environ,
        gunicorn=gunicorn,
        scheduler=scheduler,
        ready_before_scheduler=ready_before,
        logs=logs,
    )


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    logs = tmp_path_factory.mktemp("processes")
    running: list[subprocess.Popen[bytes]] = []
    with fresh_postgres_database("kapt_processes") as database_url:
        try:
            yield start_stack(running, logs, database_url)
        finally:
            stop_all(running)


def worker_pids(master_pid: int) -> set[int]:
    """gunicorn's workers: the processes whose parent is its master (Linux /proc)."""
    pids = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == master_pid:
            pids.add(int(stat.parent.name))
    return pids


def heartbeat_names(database_url: str) -> set[str]:
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(sa.text("SELECT name FROM scheduler_heartbeats"))
            return set(rows.scalars())
    finally:
        engine.dispose()


def scheduler_ok(stack: Stack) -> dict[str, Any] | None:
    answer = get_json(f"{stack.base_url}/readyz")
    if answer and answer["body"].get("scheduler", {}).get("status") == "ok":
        return answer
    return None


def test_gunicorn_runs_several_workers_that_answer_healthz_and_readyz(stack):
    healthz = requests.get(f"{stack.base_url}/healthz", timeout=5)
    readyz = requests.get(f"{stack.base_url}/readyz", timeout=5)

    assert (healthz.status_code, healthz.json()) == (200, {"status": "ok"})
    assert readyz.status_code == 200
    assert readyz.json()["status"] == "ready"
    assert readyz.json()["database"] == "ok"
    if Path("/proc/self/stat").exists():
        # The first worker forked may answer before the master has forked the second.
        workers = wait_for(
            lambda: pids if len(pids := worker_pids(stack.gunicorn.pid)) >= 2 else None,
            what="two gunicorn workers",
            timeout=10,
            watched=[stack.gunicorn],
            logs=stack.logs,
        )
        assert len(workers) >= 2


def test_the_container_health_check_passes_against_gunicorn(stack):
    def check(url: str) -> int:
        command = [PYTHON, "deploy/healthcheck.py", url]
        return subprocess.run(command, cwd=compose.ROOT, timeout=15, check=False).returncode

    assert check(f"{stack.base_url}/readyz") == 0
    assert check(f"http://127.0.0.1:{free_ports(1)[0]}/readyz") == 1


def test_readyz_reports_the_scheduler_once_it_has_beaten(stack):
    assert stack.ready_before_scheduler["status_code"] == 200
    assert stack.ready_before_scheduler["body"]["scheduler"]["status"] == "never_seen"

    answer = wait_for(
        lambda: scheduler_ok(stack),
        what="a scheduler heartbeat reported by /readyz",
        timeout=HEARTBEAT_TIMEOUT,
        watched=[stack.gunicorn, stack.scheduler],
        logs=stack.logs,
    )

    assert answer["status_code"] == 200
    assert answer["body"]["scheduler"]["last_heartbeat"] is not None


def test_only_the_scheduler_process_ever_beats_never_a_gunicorn_worker(stack):
    wait_for(
        lambda: scheduler_ok(stack),
        what="a scheduler heartbeat",
        timeout=HEARTBEAT_TIMEOUT,
        watched=[stack.gunicorn, stack.scheduler],
        logs=stack.logs,
    )

    names = heartbeat_names(stack.database_url)

    assert names == {f"{socket.gethostname()}:{stack.scheduler.pid}"}


def test_login_rate_limits_are_shared_by_every_worker_through_redis(stack):
    if stack.redis_url is None:
        pytest.skip("redis-server is not installed: the shared rate-limit storage is not run")
    login = {"email": "nobody@clinic.test", "password": "not the right password"}
    statuses = [
        requests.post(f"{stack.base_url}/api/v1/auth/tokens", json=login, timeout=10).status_code
        for _ in range(6)
    ]

    # KAPT_LOGIN_RATE_LIMIT's default: 5 failures a minute, counted across workers.
    assert statuses == [401] * 5 + [429]
    assert redis.Redis.from_url(stack.redis_url).dbsize() > 0


def test_workers_retired_by_max_requests_are_forked_again_and_reach_the_database(stack, tmp_path):
    """The configuration preloads the application in the master: each replacement
    worker is forked from it and opens its own database connections (post_fork empties
    the pool it inherits), however many times workers are retired."""
    port = free_ports(1)[0]
    command = [PYTHON, "-m", "gunicorn", "--config", "deploy/gunicorn.conf.py"]
    command += ["--bind", f"127.0.0.1:{port}", "--workers", "2"]
    command += ["--max-requests", "3", "--max-requests-jitter", "0", "wsgi:app"]
    running: list[subprocess.Popen[bytes]] = []
    try:
        gunicorn = serve(running, tmp_path, "recycled", command, stack.environ, port)
        workers: set[int] = set()
        answers = []
        for _ in range(24):
            answer = requests.get(f"http://127.0.0.1:{port}/readyz", timeout=START_TIMEOUT)
            answers.append((answer.status_code, answer.json()["database"]))
            workers |= worker_pids(gunicorn.pid)
        assert answers == [(200, "ok")] * 24, log_tail(tmp_path)
        assert len(workers) > 2  # some were retired and replaced on the way
    finally:
        stop_all(running)
