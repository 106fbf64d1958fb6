"""Throughput of the clinic day schedule under concurrent HTTP load through gunicorn,
against the same server answering the identical bytes from memory; the schedule must
reach at least half the memory route's throughput.

    .venv/bin/python -m bench.bench_http                    # on the 1,000,000 database
    .venv/bin/python -m bench.bench_http --appointments 10000 --seconds 10 --rounds 3

gunicorn runs the production settings (deploy/gunicorn.conf.py: sync workers, here
--workers 4 by default) on bench/http_app.py: the API plus a bench-only route that
answers, through the same request handling and the same access-token check, the bytes
the day schedule answered. The load comes from `wrk` (Debian package `wrk`) when it is
installed, else from a bounded loop of requests in threads. Rounds alternate between
the two routes and the median throughputs are compared.

The day schedule is served as in production: a computed day is kept while its clinic's
schedule version is unchanged, and every request still checks the token, reads the
version and writes one audit row per patient shown. One more run, on a second server
that keeps nothing (KAPT_SCHEDULE_CACHE_DAYS=0), shows what recomputing every request
costs, for information.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa

from bench import seed

ROOT = Path(__file__).resolve().parent.parent
LIMIT = 0.5
FRONT_DESK = "staff14@clinic0.bench"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def database(appointments: int, server: str) -> str:
    name = f"kapt_bench_{appointments}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        exists = connection.scalar(
            sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
        )
    admin.dispose()
    return seed.database_url(name, server) if exists else seed.seed(appointments, name, server)


@contextmanager
def gunicorn(
    url: str, body: Path, workers: int, settings: dict[str, str] | None = None
) -> Iterator[str]:
    """gunicorn with the production settings (and these) on bench/http_app.py; yields its
    base URL."""
    port = free_port()
    environment = {
        **os.environ,
        **(settings or {}),
        "KAPT_ENV": "production",
        "KAPT_SECRET_KEY": secrets.token_urlsafe(48),
        "KAPT_DATABASE_URL": url,
        "KAPT_LOG_LEVEL": "WARNING",
        "KAPT_BENCH_BODY": str(body),
    }
    command = [
        str(Path(sys.executable).with_name("gunicorn")),
        "--config",
        str(ROOT / "deploy" / "gunicorn.conf.py"),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "bench.http_app:app",
    ]
    process = subprocess.Popen(command, cwd=ROOT, env=environment, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_until_up(port)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def _wait_until_up(port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            status, _ = request(port, "GET", "/healthz")
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("gunicorn did not answer /healthz within 60 s")


def request(
    port: int, method: str, path: str, body: bytes | None = None, token: str | None = None
) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/json"} if body else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        connection.request(method, path, body=body, headers=headers)
        answer = connection.getresponse()
        return answer.status, answer.read()
    finally:
        connection.close()


def login(port: int) -> str:
    credentials = json.dumps({"email": FRONT_DESK, "password": seed.PASSWORD}).encode()
    status, body = request(port, "POST", "/api/v1/auth/tokens", credentials)
    if status != 201 and status != 200:
        raise SystemExit(f"login failed: {status} {body[:200]!r}")
    return str(json.loads(body)["access_token"])


# --- load ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    requests_per_second: float
    errors: int


def with_wrk(base: str, path: str, token: str, seconds: int, connections: int) -> Run:
    command = [
        "wrk",
        "--threads",
        "2",
        "--connections",
        str(connections),
        "--duration",
        f"{seconds}s",
        "--timeout",
        "10s",
        "--header",
        f"Authorization: Bearer {token}",
        f"{base}{path}",
    ]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    failed = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    socket_errors = re.search(r"Socket errors: (.*)", output)
    if failed or socket_errors:
        print(f"    {path}: {(failed or socket_errors).group(0)}")  # type: ignore[union-attr]
    if rate is None:
        raise SystemExit(f"could not read wrk's output:\n{output}")
    errors = int(failed.group(1)) if failed else 0
    if socket_errors:
        errors += sum(int(n) for n in re.findall(r"\d+", socket_errors.group(1)))
    return Run(float(rate.group(1)), errors)


def with_threads(base: str, path: str, token: str, seconds: int, connections: int) -> Run:
    """A bounded loop of requests from `connections` threads for `seconds`."""
    port = int(urlsplit(base).port or 80)
    deadline = time.monotonic() + seconds
    counts = [0] * connections
    errors = [0] * connections

    def load(index: int) -> None:
        while time.monotonic() < deadline:
            status, _ = request(port, "GET", path, token=token)
            counts[index] += 1
            errors[index] += status != 200

    started = time.monotonic()
    threads = [threading.Thread(target=load, args=(i,)) for i in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Run(sum(counts) / (time.monotonic() - started), sum(errors))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--appointments", type=int, default=1_000_000)
    parser.add_argument("--server", default=seed.SERVER)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", action="store_true", help="use threads even if wrk exists")
    options = parser.parse_args()
    load = with_threads if options.threads or shutil.which("wrk") is None else with_wrk
    url = database(options.appointments, options.server)
    day = (seed.NOW + timedelta(days=1)).date().isoformat()
    schedule = f"/api/v1/schedule?clinic_id={seed.clinic_id(0)}&date={day}"
    routes = {"day schedule": schedule, "memory": "/api/v1/bench/memory"}
    with tempfile.TemporaryDirectory() as folder:
        body = Path(folder) / "schedule.json"
        with gunicorn(url, body, options.workers) as base:
            port = int(urlsplit(base).port or 0)
            token = login(port)
            status, answer = request(port, "GET", schedule, token=token)
            if status != 200:
                raise SystemExit(f"the day schedule answered {status}: {answer[:300]!r}")
            body.write_bytes(answer)
            appointments = sum(len(r["appointments"]) for r in json.loads(answer)["by_room"])
            print(
                f"{options.appointments:,} appointments; clinic 0 on {day}: {appointments} "
                f"appointments, {len(answer):,} bytes; gunicorn --workers {options.workers}; "
                f"load: {load.__name__.removeprefix('with_')}, {options.connections} "
                f"connections, {options.seconds} s per run",
                flush=True,
            )
            _, copied = request(port, "GET", routes["memory"], token=token)
            assert copied == answer, "the memory route must answer the identical bytes"
            _, bare = request(port, "GET", "/bench/memory")
            assert bare == answer
            runs: dict[str, list[Run]] = {name: [] for name in (*routes, "memory, no token")}
            paths = {**routes, "memory, no token": "/bench/memory"}
            load(base, schedule, token, 3, options.connections)  # warm every worker
            for round_number in range(options.rounds):
                order = list(paths) if round_number % 2 == 0 else list(reversed(paths))
                for name in order:
                    run = load(base, paths[name], token, options.seconds, options.connections)
                    runs[name].append(run)
                    print(f"  round {round_number + 1} {name}: {run.requests_per_second:.0f} req/s")
        runs[RECOMPUTED] = [recomputed(url, body, schedule, options, load)]
    report(runs)


RECOMPUTED = "day schedule, recomputed every request"


def recomputed(url: str, body: Path, schedule: str, options: Any, load: Any) -> Run:
    """For information: the day schedule with nothing kept (KAPT_SCHEDULE_CACHE_DAYS=0),
    as every first read after a change is."""
    with gunicorn(url, body, options.workers, {"KAPT_SCHEDULE_CACHE_DAYS": "0"}) as base:
        token = login(int(urlsplit(base).port or 0))
        load(base, schedule, token, 3, options.connections)
        run: Run = load(base, schedule, token, options.seconds, options.connections)
    print(f"  {RECOMPUTED}: {run.requests_per_second:.0f} req/s")
    return run


def report(runs: dict[str, list[Run]]) -> None:
    """Medians, the ratio and the verdict; the machine's load average for the record."""
    rate = {
        name: statistics.median(r.requests_per_second for r in found)
        for name, found in runs.items()
    }
    errors = sum(r.errors for found in runs.values() for r in found)
    ratio = rate["day schedule"] / rate["memory"]
    bare = rate["day schedule"] / rate["memory, no token"]
    print()
    for name, value in rate.items():
        print(f"{name:<18}{value:>10.0f} req/s (median)")
    verdict = "PASS" if ratio >= LIMIT and errors == 0 else "FAIL"
    print(
        f"day schedule / memory (same server, same token check): {ratio:.2f}  {verdict} "
        f"(at least {LIMIT})"
    )
    print(f"day schedule / memory without the token check: {bare:.2f}  (for information)")
    if RECOMPUTED in rate:
        print(
            f"day schedule recomputed every request / memory: "
            f"{rate[RECOMPUTED] / rate['memory']:.2f}  (for information: a day is kept until "
            "its clinic's schedule changes)"
        )
    if errors:
        print(f"{errors} requests failed")
    print(f"load average (1, 5, 15 min): {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    raise SystemExit(0 if verdict == "PASS" else 1)


if __name__ == "__main__":
    main()
