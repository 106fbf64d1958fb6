"""Two screens change one appointment at the same moment, through a real gunicorn with
4 workers: a reschedule against a cancellation, and two reschedules, each sent with
the ETag both screens loaded. The appointment ends as one of the two asked, the other
is told it lost (412, or 409 for a step its status no longer allows), and no 200
describes a state that is not the final one. On PostgreSQL and on a SQLite file."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
import requests

from tests.ops.databases import fresh_postgres_database
from tests.scheduling.live import ZONE, Server, gunicorn_on, weekdays_after

pytestmark = pytest.mark.slow

ROUNDS = 6  # of each race
LOST = {412: "etag_mismatch", 409: "illegal_status_change"}
Send = Callable[[requests.Session], requests.Response]


def _url(server: Server, path: str) -> str:
    return f"{server.base_url}/api/v1{path}"


def _headers(server: Server, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.seed['token']}", **extra}


def _start(day: date, slot: int) -> str:
    """One therapist and one room: the slots of a day, 80 minutes apart, never overlap."""
    return (datetime.combine(day, time(9), ZONE) + timedelta(minutes=80 * slot)).isoformat()


def _booked(server: Server, course: dict[str, str], starts_at: str) -> tuple[str, str]:
    """Book a preparation session; its id and the ETag a screen loading it gets."""
    body = {
        "course_id": course["id"],
        "kind": "preparation",
        "starts_at": starts_at,
        "room_id": server.seed["room_id"],
        "staff_ids": [server.seed["therapist_id"]],
    }
    made = requests.post(
        _url(server, "/appointments"), json=body, headers=_headers(server), timeout=30
    )
    assert made.status_code == 201, made.text
    ident = made.json()["id"]
    loaded = requests.get(
        _url(server, f"/appointments/{ident}"), headers=_headers(server), timeout=30
    )
    return ident, loaded.headers["ETag"]


def _at_once(first: Send, second: Send) -> list[requests.Response]:
    start = threading.Barrier(2)

    def send(request: Send) -> requests.Response:
        with requests.Session() as session:
            start.wait(timeout=30)
            return request(session)

    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(send, (first, second)))


def _move(server: Server, ident: str, etag: str, starts_at: str) -> Send:
    def send(session: requests.Session) -> requests.Response:
        return session.patch(
            _url(server, f"/appointments/{ident}"),
            json={"starts_at": starts_at},
            headers=_headers(server, **{"If-Match": etag}),
            timeout=60,
        )

    return send


def _cancel(server: Server, ident: str, etag: str) -> Send:
    def send(session: requests.Session) -> requests.Response:
        return session.post(
            _url(server, f"/appointments/{ident}/cancel"),
            json={"reason": "Patient called to cancel"},
            headers=_headers(server, **{"If-Match": etag}),
            timeout=60,
        )

    return send


def _judge(server: Server, ident: str, answers: list[requests.Response]) -> str:
    """One answer won and describes the final state; the other says it lost."""
    won = [a for a in answers if a.status_code == 200]
    lost = [a for a in answers if a.status_code != 200]
    assert len(won) == 1 and len(lost) == 1, [(a.status_code, a.text[:300]) for a in answers]
    [winner], [loser] = won, lost
    assert loser.headers["Content-Type"] == "application/problem+json"
    assert LOST.get(loser.status_code) == loser.json()["code"], loser.text
    final = requests.get(
        _url(server, f"/appointments/{ident}"), headers=_headers(server), timeout=30
    )
    assert winner.json() == final.json()
    assert winner.headers["ETag"] == final.headers["ETag"]
    return f"{winner.request.method} won, {loser.status_code}"


def _race_edits(server: Server) -> Counter[str]:
    courses = iter(server.seed["courses"])
    # A day for each: what each race books, and where each move goes.
    first, second, first_moves, one_moves, other_moves = weekdays_after(7, 5)
    outcomes: Counter[str] = Counter()
    for slot in range(ROUNDS):
        ident, etag = _booked(server, next(courses), _start(first, slot))
        move = _move(server, ident, etag, _start(first_moves, slot))
        answers = _at_once(move, _cancel(server, ident, etag))
        outcomes["move vs cancel: " + _judge(server, ident, answers)] += 1
    for slot in range(ROUNDS):
        ident, etag = _booked(server, next(courses), _start(second, slot))
        one = _move(server, ident, etag, _start(one_moves, slot))
        other = _move(server, ident, etag, _start(other_moves, slot))
        outcomes["move vs move: " + _judge(server, ident, _at_once(one, other))] += 1
    print(f"\n{server.database_url.split(':')[0]}: {dict(outcomes)}")  # shown with pytest -s
    return outcomes


def _each_race_had_a_loser(outcomes: Counter[str]) -> None:
    assert sum(n for o, n in outcomes.items() if o.startswith("move vs cancel")) == ROUNDS
    assert sum(n for o, n in outcomes.items() if o.startswith("move vs move")) == ROUNDS


def test_two_screens_changing_one_appointment_on_postgresql(tmp_path: Any) -> None:
    with fresh_postgres_database("kapt_edits") as url, gunicorn_on(url, tmp_path) as server:
        _each_race_had_a_loser(_race_edits(server))


def test_two_screens_changing_one_appointment_on_sqlite(tmp_path: Any) -> None:
    with gunicorn_on(f"sqlite:///{tmp_path / 'edits.db'}", tmp_path) as server:
        _each_race_had_a_loser(_race_edits(server))
