"""No double booking, whatever the race (DESIGN.md): 32 threads post overlapping bookings
at once through a real gunicorn with 4 workers, on PostgreSQL (exclusion constraint) and
on a SQLite file (write lock first, a trigger behind it). Exactly one is booked; every
other answer is 409 naming the rule it broke.

Two races per engine: the same patient, therapist and room (the course's row lock and
the holds both stand in the way), and 32 patients with one therapist and one room (only
the holds do).
"""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
import requests

from tests.ops.databases import fresh_postgres_database
from tests.scheduling.live import ZONE, Server, gunicorn_on, holds_never_overlap, weekdays_after

pytestmark = pytest.mark.slow

THREADS = 32
CONFLICTS = {"staff_conflict", "room_conflict", "patient_conflict"}


def _race(server: Server, bodies: list[dict[str, Any]]) -> list[requests.Response]:
    """Post every body at the same moment, one thread each."""
    start = threading.Barrier(len(bodies))
    headers = {"Authorization": f"Bearer {server.seed['token']}"}

    def post(body: dict[str, Any]) -> requests.Response:
        with requests.Session() as session:
            start.wait(timeout=30)
            return session.post(
                f"{server.base_url}/api/v1/appointments", json=body, headers=headers, timeout=60
            )

    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        return list(pool.map(post, bodies))


def _bodies(server: Server, courses: list[dict[str, str]], day: date) -> list[dict[str, Any]]:
    """One 60-minute preparation session per course, each starting a minute after the
    one before: every two of them overlap."""
    first = datetime.combine(day, time(10), ZONE)
    return [
        {
            "course_id": course["id"],
            "kind": "preparation",
            "starts_at": (first + timedelta(minutes=i)).isoformat(),
            "room_id": server.seed["room_id"],
            "staff_ids": [server.seed["therapist_id"]],
        }
        for i, course in enumerate(courses)
    ]


def _judge(server: Server, answers: list[requests.Response], expected: set[str]) -> Counter[str]:
    statuses = Counter(answer.status_code for answer in answers)
    assert statuses == {201: 1, 409: THREADS - 1}, [a.text[:300] for a in answers]
    named: Counter[str] = Counter()
    for answer in answers:
        if answer.status_code == 409:
            body = answer.json()
            assert answer.headers["Content-Type"] == "application/problem+json"
            rules = {v["rule"] for v in body["violations"]}
            assert rules <= CONFLICTS and rules, body
            named.update(rules)
    assert set(named) == expected
    return named


def _race_both_ways(server: Server) -> None:
    courses = server.seed["courses"]
    # Two different weekdays (weekday_after(7) and (8) are the same Monday when run on a
    # Sunday, and the second race would meet the first's booking).
    first, second = weekdays_after(7, 2)
    one_patient = _race(server, _bodies(server, [courses[0]] * THREADS, first))
    named_one = _judge(server, one_patient, CONFLICTS)
    many_patients = _race(server, _bodies(server, courses[1:], second))
    named_many = _judge(server, many_patients, {"staff_conflict", "room_conflict"})
    holds = holds_never_overlap(server.database_url)
    lost = (server.logs / "gunicorn.log").read_text(errors="replace").count("booking_race_lost")
    # The figures of the run, shown with pytest -s.
    print(
        f"\n{server.database_url.split(':')[0]}: one patient {dict(named_one)}; "
        f"32 patients {dict(named_many)}; {holds} holds; {lost} lost at the database"
    )


def test_one_booking_wins_a_race_on_postgresql(tmp_path):
    with fresh_postgres_database("kapt_race") as url, gunicorn_on(url, tmp_path) as server:
        _race_both_ways(server)


def test_one_booking_wins_a_race_on_sqlite(tmp_path):
    with gunicorn_on(f"sqlite:///{tmp_path / 'race.db'}", tmp_path) as server:
        _race_both_ways(server)
