"""Batches racing each other answer by the rules, never 5xx: 32 threads post a batch at
once through a real gunicorn with 4 workers, on PostgreSQL and on a SQLite file. Each
batch books one preparation session in each of two clinics, at the same times with
the same therapist and room of each clinic, half naming the clinics in one order and
half in the other (two batches that each held one clinic and waited for the other
would deadlock; the loser's transaction is run again, not answered 503). Exactly one
batch is booked, every other is 409 `batch_refused`, and no two holds overlap.
"""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, time
from typing import Any

import pytest
import requests

from tests.ops.databases import fresh_postgres_database
from tests.scheduling.live import ZONE, Server, gunicorn_on, holds_never_overlap, weekday_after

pytestmark = pytest.mark.slow

THREADS = 32
SEED = ["--clinics", "2", "--patients", str(THREADS)]


def _item(clinic: dict[str, Any], patient: int, day: date) -> dict[str, Any]:
    return {
        "course_id": clinic["courses"][patient]["id"],
        "kind": "preparation",
        "starts_at": datetime.combine(day, time(10), ZONE).isoformat(),
        "room_id": clinic["room_ids"][0],
        "staff_ids": [clinic["therapist_ids"][0]],
    }


def _race(server: Server, day: date) -> list[requests.Response]:
    clinics = server.seed["clinics"]
    start = threading.Barrier(THREADS)
    headers = {"Authorization": f"Bearer {server.seed['admin_token']}"}

    def post(n: int) -> requests.Response:
        items = [_item(clinics[c], n, day) for c in ((0, 1) if n % 2 else (1, 0))]
        start.wait(timeout=30)
        return requests.post(
            f"{server.base_url}/api/v1/appointments/batch",
            json={"items": items},
            headers=headers,
            timeout=60,
        )

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        return list(pool.map(post, range(THREADS)))


def _one_batch_wins(server: Server) -> None:
    answers = _race(server, weekday_after(7))
    statuses = Counter(answer.status_code for answer in answers)
    assert statuses == {201: 1, 409: THREADS - 1}, [a.text[:300] for a in answers]
    assert {a.json()["code"] for a in answers if a.status_code == 409} == {"batch_refused"}
    assert holds_never_overlap(server.database_url) == 6  # therapist, room, patient twice


def test_one_batch_wins_a_race_on_postgresql(tmp_path):
    with (
        fresh_postgres_database("kapt_batch_race") as url,
        gunicorn_on(url, tmp_path, SEED) as server,
    ):
        _one_batch_wins(server)


def test_one_batch_wins_a_race_on_sqlite(tmp_path):
    with gunicorn_on(f"sqlite:///{tmp_path / 'race.db'}", tmp_path, SEED) as server:
        _one_batch_wins(server)
