"""Does a 4-week slot search cost little more than reading the data it needs, and does a
first page of slots come back quickly? (issue 14, item 2)

    .venv/bin/python -m bench.bench_slots --quick                  # 10,000 only, under a minute
    .venv/bin/python -m bench.bench_slots --sizes 10000 1000000

Three things are measured in alternating rounds, on each database:

- the slot search: every free preparation start of a fresh course at clinic 0 over 28
  days, through `availability.service.find_slots` as the route calls it (bench_scale's
  `slot_search`: a fresh session, the course read, all slots);
- the raw fetch: the SELECT statements that search sends (captured with
  `before_cursor_execute`), with the same parameters, replayed on one raw DBAPI
  connection, every row fetched: what reading the data costs with nothing of Python's
  around it. Goal: the search at most 3 times the raw fetch, medians of the same run;
- a first page: `GET /api/v1/courses/{id}/slots?...&limit=10` over the same 28 days
  through the Flask test client with a real access token, so the request handling,
  the token check and the route count. Goal: at most 50 ms at 1,000,000 (the same goal
  is applied at 10,000, where `--quick` runs).

The search only reads: the run writes nothing but its login (a login session, as
bench_http's does), so it needs no clean-up and disturbs no other benchmark's bookings.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from flask.testing import FlaskClient

from bench import bench_scale, seed
from bench.bench_booking import (
    Capture,
    command_line,
    conclude,
    existing_databases,
    figure,
    seeded_target,
)
from kapt_api import clock
from kapt_api.db import db

ROUNDS, QUICK_ROUNDS, WARM_UP = 30, 12, 2
GOAL_VS_RAW, GOAL_FIRST_PAGE_MS = 3.0, 50.0
FIRST_PAGE = 10
FRONT_DESK = "staff14@clinic0.bench"  # clinic 0's front desk


@dataclass
class Result:
    size: int
    queries: int = 0
    slots: int = 0
    search_ms: list[float] = field(default_factory=list)
    raw_ms: list[float] = field(default_factory=list)
    page_ms: list[float] = field(default_factory=list)


def window_start() -> datetime:
    """Where bench_scale's slot search starts: clinic 0's midnight after "now"."""
    day = seed.NOW.date() + timedelta(days=1)
    return datetime.combine(day, datetime.min.time(), bench_scale.CLINIC_ZONE)


# --- the raw fetch ------------------------------------------------------------------------------


def captured_selects(target: bench_scale.Target) -> tuple[list[tuple[str, Any]], int]:
    """The statements one slot search sends (all SELECTs), and the slots it found."""
    capture = Capture()
    with bench_scale.in_context(target), capture.listening():
        slots = len(bench_scale.slot_search(target))
    statements = [(s.sql, s.parameters) for s in capture.statements]
    assert all(sql.lstrip().upper().startswith("SELECT") for sql, _ in statements), statements
    return statements, slots


def raw_fetch(connection: Any, statements: list[tuple[str, Any]]) -> float:
    """The statements on one raw connection, every row fetched, then rolled back (as the
    search's session is); milliseconds."""
    started = time.perf_counter()
    with connection.cursor() as cursor:
        for sql, parameters in statements:
            cursor.execute(sql, parameters or None)
            cursor.fetchall()
    connection.rollback()
    return (time.perf_counter() - started) * 1000


# --- the first page through HTTP ----------------------------------------------------------------


def login(client: FlaskClient) -> str:
    credentials = {"email": FRONT_DESK, "password": seed.PASSWORD}
    answer = client.post("/api/v1/auth/tokens", json=credentials)
    assert answer.status_code == 201, answer.data[:300]
    return str(answer.get_json()["access_token"])


def first_page_path(target: bench_scale.Target, limit: int) -> str:
    start = window_start()
    query = {
        "kind": "preparation",
        "from": start.isoformat(),
        "to": (start + bench_scale.SLOT_WINDOW).isoformat(),
        "limit": limit,
    }
    return f"/api/v1/courses/{target.courses[-1]}/slots?{urlencode(query)}"


def first_page(client: FlaskClient, token: str, path: str) -> tuple[float, list[Any]]:
    started = time.perf_counter()
    answer = client.get(path, headers={"Authorization": f"Bearer {token}"})
    ms = (time.perf_counter() - started) * 1000
    assert answer.status_code == 200, answer.data[:300]
    return ms, json.loads(answer.data)


# --- one size -----------------------------------------------------------------------------------


def measure(target: bench_scale.Target, rounds: int) -> Result:
    result = Result(target.size)
    statements, result.slots = captured_selects(target)
    result.queries = len(statements)
    client = target.app.test_client()
    path = first_page_path(target, FIRST_PAGE)
    clock.freeze(seed.NOW)
    try:
        token = login(client)
        with target.app.app_context():
            connection = db.engine.raw_connection()
        try:
            for round_number in range(-WARM_UP, rounds):
                # Alternate the order, so a busy moment of the machine falls on each alike.
                steps = ["search", "raw", "page"]
                if round_number % 2:
                    steps.reverse()
                for step in steps:
                    if step == "search":
                        ms = bench_scale.timed(target, lambda: bench_scale.slot_search(target))
                    elif step == "raw":
                        ms = raw_fetch(connection.driver_connection, statements)
                    else:
                        ms, page = first_page(client, token, path)
                        assert len(page) == FIRST_PAGE, len(page)
                    if round_number >= 0:
                        getattr(result, f"{step}_ms").append(ms)
        finally:
            connection.close()
        _check_first_page(target, client, token)
    finally:
        clock.unfreeze()
    return result


def _check_first_page(target: bench_scale.Target, client: FlaskClient, token: str) -> None:
    """The first page is the start of the whole answer: a limit cuts, it does not change."""
    _, page = first_page(client, token, first_page_path(target, FIRST_PAGE))
    _, whole = first_page(client, token, first_page_path(target, 500))
    assert page == whole[:FIRST_PAGE], "the first page differs from the whole answer's start"


# --- the report ---------------------------------------------------------------------------------


def report(results: list[Result]) -> bool:
    passed = True
    for result in results:
        size = result.size
        search, raw = statistics.median(result.search_ms), statistics.median(result.raw_ms)
        page = statistics.median(result.page_ms)
        figure(f"slot_search_ms_median_{size}", f"{search:.2f}", None, True)
        figure(f"raw_fetch_ms_median_{size}", f"{raw:.2f}", None, True)
        passed &= figure(f"slot_search_vs_raw_{size}", f"{search / raw:.2f}",
                         f"<= {GOAL_VS_RAW:g}", search / raw <= GOAL_VS_RAW)  # fmt: skip
        passed &= figure(f"first_page_ms_median_{size}", f"{page:.2f}",
                         f"<= {GOAL_FIRST_PAGE_MS:g}, limit={FIRST_PAGE} over 28 days, HTTP",
                         page <= GOAL_FIRST_PAGE_MS)  # fmt: skip
        figure(f"slot_search_queries_{size}", str(result.queries), None, True)
        figure(f"slots_found_{size}", str(result.slots), None, True)
    rounds = len(results[0].search_ms)
    print(f"(medians over {rounds} rounds per size after {WARM_UP} not counted)")
    return passed


def being_seeded(name: str, server: str) -> bool:
    """Whether bench.seed is still building the database: its schema statements or its
    VACUUM running, or the holds' exclusion constraint (built last) not there yet. Other
    benchmarks' ordinary queries do not count."""
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        building = connection.scalar(
            sa.text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = :name "
                "AND state = 'active' AND pid <> pg_backend_pid() "
                "AND query ~* '^\\s*(ALTER|CREATE|DROP|VACUUM|ANALYZE)'"
            ),
            {"name": name},
        )
    admin.dispose()
    engine = sa.create_engine(seed.database_url(name, server))
    with engine.connect() as connection:
        constrained = connection.scalar(
            sa.text("SELECT count(*) FROM pg_constraint WHERE conname = :name"),
            {"name": "resource_holds_no_overlap"},
        )
    engine.dispose()
    return bool(building) or not constrained


def main() -> None:
    options, sizes, rounds = command_line(__doc__.split("\n\n")[0], ROUNDS, QUICK_ROUNDS)
    existing = existing_databases(options.server)
    results = []
    for size in sizes:
        name = f"{options.prefix}_{size}"
        if name in existing and being_seeded(name, options.server):
            print(f"{name} is still being seeded (bench.seed is building it): skipped")
            continue
        target = seeded_target(size, options.server, existing, options.prefix)
        if target is None:
            continue
        print(f"slot search, raw fetch and first page, {rounds + WARM_UP} rounds at {size:,} ...",
              flush=True)  # fmt: skip
        results.append(measure(target, rounds))
    conclude(results, sizes, report)


if __name__ == "__main__":
    main()
