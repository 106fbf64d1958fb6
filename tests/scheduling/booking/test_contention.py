"""Bookings collide all day without an error answer: 600 operations (more than 700
requests), 24 at a time, through a real gunicorn with 4 workers on PostgreSQL, over two
clinics. Batches book in both clinics, naming them in one order or the other (the
deadlock this guards against: each holds one clinic's schedule and waits for the
other's), while single bookings, reschedules, cancellations and day schedules run in
either clinic. Every answer is 200, 201, 409, 412 or 422 with a problem `code`, never a
5xx; no two holds of one resource overlap; every booked appointment holds exactly its
staff, room and patient for its time, and a cancelled one nothing.

Staff work in one clinic each (StaffMember.clinic_id): what spans both clinics here is
the administrator, who works in every clinic, sending the batches. Rate limits count
failed logins only, and these requests use tokens the seed issued: nothing is limited.
"""

from __future__ import annotations

import json
import random
import threading
import time as clock
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

import pytest
import requests
import sqlalchemy as sa

from tests.ops.databases import fresh_postgres_database
from tests.scheduling.live import ZONE, Server, gunicorn_on, overlapping_holds, weekdays_after

pytestmark = pytest.mark.slow

OPERATIONS = 600
AT_ONCE = 24
SEED = ["--clinics", "2", "--patients", "40", "--therapists", "3", "--rooms", "3"]
# Preparation sessions last 60 minutes and hold 10 more; starts every 30 minutes, so
# neighbouring starts collide on whoever they share.
STARTS = [time(9 + n // 2, 30 * (n % 2)) for n in range(14)]  # 09:00 to 15:30
ANSWERS = {200, 201, 409, 412, 422}


@dataclass
class Load:
    server: Server
    days: list[date]
    rng: random.Random = field(default_factory=lambda: random.Random(11))
    booked: dict[str, int] = field(default_factory=dict)  # appointment id -> clinic index
    answers: Counter[tuple[str, int, str]] = field(default_factory=Counter)
    unexpected: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    local: threading.local = field(default_factory=threading.local)

    @property
    def clinics(self) -> list[dict[str, Any]]:
        return list(self.server.seed["clinics"])

    def item(self, clinic: int) -> dict[str, Any]:
        """A preparation session at a random start, with a random therapist and room."""
        place = self.clinics[clinic]
        with self.lock:
            course = self.rng.choice(place["courses"])
            day, start = self.rng.choice(self.days), self.rng.choice(STARTS)
            therapist, room = (
                self.rng.choice(place["therapist_ids"]),
                self.rng.choice(place["room_ids"]),
            )
        return {
            "course_id": course["id"],
            "kind": "preparation",
            "starts_at": datetime.combine(day, start, ZONE).isoformat(),
            "room_id": room,
            "staff_ids": [therapist],
        }

    def send(
        self, kind: str, method: str, path: str, clinic: int | None, **kw: Any
    ) -> requests.Response:
        """One request, as the administrator or (clinic given) that clinic's front desk."""
        session = getattr(self.local, "session", None)
        if session is None:
            session = self.local.session = requests.Session()
        token = self.server.seed["admin_token"] if clinic is None else self.clinics[clinic]["token"]
        headers = {"Authorization": f"Bearer {token}", **kw.pop("headers", {})}
        answer = session.request(
            method, f"{self.server.base_url}/api/v1{path}", headers=headers, timeout=60, **kw
        )
        code = ""
        if answer.status_code >= 400:
            problem = answer.headers.get("Content-Type") == "application/problem+json"
            code = answer.json().get("code", "") if problem else ""
        with self.lock:
            self.answers[(kind, answer.status_code, code)] += 1
            if answer.status_code not in ANSWERS or (answer.status_code >= 400 and not code):
                self.unexpected.append(f"{kind} {answer.status_code} {answer.text[:300]}")
        return answer

    def remember(self, answer: requests.Response, clinics: list[int]) -> None:
        if answer.status_code == 201:
            made = answer.json()
            with self.lock:
                for appointment, clinic in zip(
                    made if isinstance(made, list) else [made], clinics, strict=True
                ):
                    self.booked[appointment["id"]] = clinic

    def pick(self) -> tuple[str, int] | None:
        with self.lock:
            if not self.booked:
                return None
            ident = self.rng.choice(sorted(self.booked))
            return ident, self.booked[ident]

    # --- the operations ---------------------------------------------------------------------

    def batch(self) -> None:
        """Items in both clinics, the first named first or second at random."""
        with self.lock:
            order = [0, 1] if self.rng.random() < 0.5 else [1, 0]
            order += order[: self.rng.choice((0, 0, 1, 2))]
        answer = self.send(
            "batch",
            "POST",
            "/appointments/batch",
            None,
            json={"items": [self.item(c) for c in order]},
        )
        self.remember(answer, order)

    def book(self) -> None:
        with self.lock:
            clinic = self.rng.randrange(2)
        answer = self.send("book", "POST", "/appointments", clinic, json=self.item(clinic))
        self.remember(answer, [clinic])

    def move(self) -> None:
        picked = self.pick()
        if picked is None:
            return self.batch()
        ident, clinic = picked
        loaded = self.send("load", "GET", f"/appointments/{ident}", None)
        change = {
            k: v for k, v in self.item(clinic).items() if k in ("starts_at", "room_id", "staff_ids")
        }
        self.send(
            "move",
            "PATCH",
            f"/appointments/{ident}",
            clinic,
            json=change,
            headers={"If-Match": loaded.headers["ETag"]},
        )
        return None

    def cancel(self) -> None:
        picked = self.pick()
        if picked is None:
            return self.batch()
        ident, clinic = picked
        headers = {}
        with self.lock:
            screen_loaded_it = self.rng.random() < 0.5
        if screen_loaded_it:
            headers["If-Match"] = self.send("load", "GET", f"/appointments/{ident}", None).headers[
                "ETag"
            ]
        self.send(
            "cancel",
            "POST",
            f"/appointments/{ident}/cancel",
            clinic,
            json={"reason": "Patient called"},
            headers=headers,
        )
        return None

    def look(self) -> None:
        with self.lock:
            clinic, day = self.rng.randrange(2), self.rng.choice(self.days)
        place = self.clinics[clinic]
        self.send("schedule", "GET", f"/schedule?clinic_id={place['clinic_id']}&date={day}", clinic)


def _consistent(database_url: str) -> tuple[int, int]:
    """Each booked appointment holds its staff, room and patient over its time and
    buffer; a cancelled one holds nothing. The booked and the cancelled, counted."""
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
            wrong = connection.execute(
                sa.text(
                    "SELECT a.id FROM appointments a"
                    " LEFT JOIN resource_holds h ON h.appointment_id = a.id"
                    " GROUP BY a.id, a.status, a.starts_at, a.held_until"
                    " HAVING (a.status = 'cancelled' AND count(h.id) > 0)"
                    " OR (a.status = 'booked' AND (count(h.id) <> 3"
                    " OR min(h.starts_at) <> a.starts_at OR max(h.ends_at) <> a.held_until"
                    " OR max(h.starts_at) <> a.starts_at OR min(h.ends_at) <> a.held_until))"
                )
            ).all()
            counts = dict(
                connection.execute(
                    sa.text("SELECT status, count(*) FROM appointments GROUP BY status")
                ).all()
            )
    finally:
        engine.dispose()
    assert wrong == []
    return counts.get("booked", 0), counts.get("cancelled", 0)


def _retries(server: Server) -> Counter[str]:
    seen: Counter[str] = Counter()
    for line in (server.logs / "gunicorn.log").read_text(errors="replace").splitlines():
        if '"transaction_retried"' in line or '"database_busy"' in line:
            event = json.loads(line)
            seen[f"{event['event']} {event.get('sqlstate')}"] += 1
    return seen


def test_collisions_across_two_clinics_are_answered_by_the_rules(tmp_path: Any) -> None:
    with (
        fresh_postgres_database("kapt_contention") as url,
        gunicorn_on(url, tmp_path, SEED) as server,
    ):
        load = Load(server, weekdays_after(7, 10))
        operations = (
            [load.batch] * 40
            + [load.book] * 15
            + [load.move] * 20
            + [load.cancel] * 15
            + [load.look] * 10
        )
        chosen = [load.rng.choice(operations) for _ in range(OPERATIONS)]
        started = clock.monotonic()
        with ThreadPoolExecutor(max_workers=AT_ONCE) as pool:
            for done in [pool.submit(operation) for operation in chosen]:
                done.result()
        took = clock.monotonic() - started
        overlaps = overlapping_holds(url)
        booked, cancelled = _consistent(url)
        retries = _retries(server)

    requests_sent = sum(load.answers.values())
    by_status: Counter[int] = Counter()
    for (_kind, status, _code), count in load.answers.items():
        by_status[status] += count
    print(  # the figures of the run, shown with pytest -s
        f"\n{requests_sent} requests ({OPERATIONS} operations, {AT_ONCE} at once) in {took:.1f} s;"
        f" answers {dict(sorted(by_status.items()))}; {dict(sorted(load.answers.items()))};"
        f" retries {dict(retries)}; {booked} booked, {cancelled} cancelled; {overlaps} overlaps"
    )
    assert load.unexpected == []
    assert requests_sent >= 500
    assert not [status for status in by_status if status >= 500]
    assert overlaps == 0
    assert by_status[201] > 0 and by_status[409] > 0  # bookings went through, and collided
    assert not [event for event in retries if event.startswith("database_busy")]
