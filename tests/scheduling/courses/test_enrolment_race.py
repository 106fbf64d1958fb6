"""One active course per patient and protocol, whatever the race: 64 threads post the
same enrolment at once through a real gunicorn with 4 workers, on PostgreSQL and on a
SQLite file. Exactly one course is made; every other answer is 409
`course_already_active`, and the database holds one active course.
"""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
import sqlalchemy as sa

from tests.ops.databases import fresh_postgres_database
from tests.scheduling.live import Server, gunicorn_on

pytestmark = pytest.mark.slow

THREADS = 64


def _send(server: Server, method: str, path: str, **kw: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {server.seed['admin_token']}"}
    return requests.request(
        method, f"{server.base_url}/api/v1{path}", headers=headers, timeout=60, **kw
    )


def _enrolment(server: Server) -> dict[str, Any]:
    """The seeded patient's course discontinued, and the body that enrols them again."""
    course_id = server.seed["courses"][0]["id"]
    course = _send(server, "GET", f"/courses/{course_id}").json()
    ended = _send(server, "POST", f"/courses/{course_id}/discontinue", json={"reason": "Paused"})
    assert ended.status_code == 200, ended.text
    team = {k: v for k, v in course["care_team"].items() if v is not None}
    return {
        "patient_id": course["patient_id"],
        "protocol_version_id": course["protocol_version_id"],
        "care_team": team,
    }


def _race(server: Server, body: dict[str, Any]) -> list[requests.Response]:
    start = threading.Barrier(THREADS)

    def post(_: int) -> requests.Response:
        start.wait(timeout=30)
        return _send(server, "POST", "/courses", json=body)

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        return list(pool.map(post, range(THREADS)))


def _active_courses(database_url: str, patient_id: str) -> int:
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
            # SQLite keeps a Uuid as 32 hex digits, PostgreSQL as a uuid.
            ids = [patient_id, patient_id.replace("-", "")]
            return int(
                connection.execute(
                    sa.text(
                        "SELECT count(*) FROM courses WHERE status = 'active'"
                        " AND CAST(patient_id AS VARCHAR(36)) IN (:a, :b)"
                    ),
                    {"a": ids[0], "b": ids[1]},
                ).scalar_one()
            )
    finally:
        engine.dispose()


def _one_course_wins(server: Server) -> None:
    body = _enrolment(server)
    answers = _race(server, body)
    statuses = Counter(answer.status_code for answer in answers)
    assert statuses == {201: 1, 409: THREADS - 1}, [a.text[:300] for a in answers]
    codes = {a.json()["code"] for a in answers if a.status_code == 409}
    assert codes == {"course_already_active"}
    assert _active_courses(server.database_url, body["patient_id"]) == 1


def test_one_enrolment_wins_a_race_on_postgresql(tmp_path):
    with fresh_postgres_database("kapt_enrol_race") as url, gunicorn_on(url, tmp_path) as server:
        _one_course_wins(server)


def test_one_enrolment_wins_a_race_on_sqlite(tmp_path):
    with gunicorn_on(f"sqlite:///{tmp_path / 'race.db'}", tmp_path) as server:
        _one_course_wins(server)
