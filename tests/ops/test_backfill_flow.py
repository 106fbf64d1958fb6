"""The waitlist's promise end to end, through the processes compose describes: a fresh
PostgreSQL database migrated with `flask db upgrade`, the demo clinic loaded, gunicorn
serving `wsgi:app`, the scheduler as its own process ticking every second, and an
aiosmtpd server standing in for Mailpit.

Over HTTP the administrator lets the clinic message offers and the front desk puts
the demo's just-enrolled patient (Rowan, sublingual KAP) on the waitlist for a first
dose, after booking their second preparation as the README's tour does, then cancels a
booked dose of another patient. The scheduler's backfill offers the freed time and its
dispatcher emails the offer; the test reads the email from the SMTP server's maildir,
opens its link and presses "Take this session" as a phone's browser would (a plain form
post). The dose is booked for Rowan's course at the freed time, the day schedule lists
it, and a second press hears that the session has been taken.
"""

from __future__ import annotations

import email
import email.policy
import re
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from tests.ops.databases import fresh_postgres_database
from tests.ops.test_processes import Stack, start_stack, stop_all, wait_for

pytestmark = pytest.mark.slow

ZONE = ZoneInfo("America/New_York")  # the demo clinic's
DESK = ("front.desk@cedargrove.example", "demo-frontdesk-patel")
ADMIN = ("admin@cedargrove.example", "demo-admin-cedar-grove")
OFFER_TIMEOUT = 40.0  # a bound: one tick offers, the next sends (ticks of 1 s)
LINK = re.compile(r"https?://\S+/p/[A-Za-z0-9_-]{22}")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    logs = tmp_path_factory.mktemp("backfill")
    running: list[subprocess.Popen[bytes]] = []
    with fresh_postgres_database("kapt_backfill") as database_url:
        try:
            yield start_stack(
                running,
                logs,
                database_url,
                settings={"KAPT_SCHEDULER_TICK_SECONDS": "1"},
                after_migrate=(["kapt", "demo-data", "--if-empty", "--no-logins"],),
            )
        finally:
            stop_all(running)


class Api:
    """Requests as one logged-in member of staff."""

    def __init__(self, base_url: str, login: tuple[str, str]) -> None:
        self.base = f"{base_url}/api/v1"
        answer = requests.post(
            f"{self.base}/auth/tokens", json={"email": login[0], "password": login[1]}, timeout=10
        )
        assert answer.status_code == 201, answer.text
        self.headers = {"Authorization": f"Bearer {answer.json()['access_token']}"}

    def call(self, method: str, path: str, expect: int = 200, **kwargs: Any) -> Any:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        answer = requests.request(method, f"{self.base}{path}", headers=headers, timeout=30,
                                  **kwargs)  # fmt: skip
        assert answer.status_code == expect, f"{method} {path}: {answer.status_code} {answer.text}"
        return answer

    def patch(self, path: str, body: dict[str, Any]) -> Any:
        etag = self.call("GET", path).headers["ETag"]
        return self.call("PATCH", path, json=body, headers={"If-Match": etag}).json()


def iso(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat()


def daytime_zone(now: datetime) -> str:
    """A zone where it is now about noon, so the offer is not held for quiet hours."""
    offset = 12 - now.astimezone(UTC).hour
    offset = offset + 24 if offset < -12 else offset - 24 if offset > 14 else offset
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"


def offer_email(maildir: Path, recipient: str) -> EmailMessage | None:
    for path in sorted((maildir / "new").glob("*")) if (maildir / "new").exists() else []:
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        if recipient in str(message["To"]) and "a session is free" in str(message["Subject"]):
            return message
    return None


def set_the_scene(desk: Api, admin: Api) -> dict[str, Any]:
    """Rowan ready for a first dose and waiting for one; another patient's dose cancelled."""
    clinic = desk.call("GET", "/clinics").json()[0]
    admin.patch(f"/clinics/{clinic['id']}", {"waitlist_offers_enabled": True})
    today = datetime.now(ZONE).date().isoformat()
    day = desk.call("GET", "/schedule", params={"clinic_id": clinic["id"], "date": today}).json()
    preparation = next(
        a for room in day["by_room"] for a in room["appointments"] if a["kind"] == "preparation"
    )
    course_id, patient_id = preparation["course_id"], preparation["patient_id"]
    now = datetime.now(UTC)
    [slot] = desk.call("GET", f"/courses/{course_id}/slots", params={
        "kind": "preparation", "limit": 1, "from": iso(now), "to": iso(now + timedelta(days=2)),
    }).json()  # fmt: skip
    body = {k: slot[k] for k in ("kind", "starts_at", "room_id", "staff_ids")}
    desk.call("POST", "/appointments", 201, json={"course_id": course_id, **body})
    address = "rowan.offers@patients.example"
    desk.patch(f"/patients/{patient_id}", {
        "email": address, "preferred_reminder_channel": "email", "time_zone": daytime_zone(now),
    })  # fmt: skip
    week = {"from": iso(now + timedelta(days=2)), "to": iso(now + timedelta(days=9))}
    booked = desk.call(
        "GET", "/appointments", params={"status": "booked", "page_size": 100, **week}
    ).json()
    dose = max(
        (a for a in booked if a["kind"] == "dosing" and a["patient_id"] != patient_id),
        key=lambda a: a["starts_at"],
    )
    dose_day = datetime.fromisoformat(dose["starts_at"]).astimezone(ZONE).date().isoformat()
    desk.call("POST", f"/courses/{course_id}/waitlist", 201, json={
        "kind": "dosing", "earliest_date": dose_day, "latest_date": dose_day,
    })  # fmt: skip
    desk.call("POST", f"/appointments/{dose['id']}/cancel", json={"reason": "Unwell"})
    return {"clinic": clinic, "course_id": course_id, "patient_id": patient_id,
            "dose": dose, "dose_day": dose_day, "address": address}  # fmt: skip


def test_a_cancelled_dose_is_offered_by_email_and_taken_from_the_link(stack):
    desk, admin = Api(stack.base_url, DESK), Api(stack.base_url, ADMIN)
    scene = set_the_scene(desk, admin)

    message = wait_for(
        lambda: offer_email(stack.maildir, scene["address"]),
        what="the offer's email in the SMTP server's maildir",
        timeout=OFFER_TIMEOUT,
        watched=[stack.gunicorn, stack.scheduler],
        logs=stack.logs,
    )
    text = message.get_body(preferencelist=("plain",))
    assert text is not None
    content = text.get_content()
    starts = datetime.fromisoformat(scene["dose"]["starts_at"]).astimezone(ZONE)
    assert f"{starts:%-I:%M %p}" in content and "Rowan" not in content
    link = LINK.search(content)
    assert link is not None, content

    page = requests.get(link.group(0), timeout=10)
    assert page.status_code == 200 and "Take this session" in page.text
    action = re.search(r'<form method="post" action="(/p/[^"]+/accept)"', page.text)
    assert action is not None, page.text
    taken = requests.post(f"{stack.base_url}{action.group(1)}", timeout=30)
    assert taken.status_code == 200, taken.text
    assert "This session is booked for you." in taken.text

    found = desk.call("GET", "/appointments", params={
        "patient_id": scene["patient_id"], "status": "booked",
        "from": scene["dose"]["starts_at"], "to": scene["dose"]["ends_at"],
    }).json()  # fmt: skip
    [booked] = [a for a in found if a["kind"] == "dosing"]
    assert booked["course_id"] == scene["course_id"]
    assert booked["starts_at"] == scene["dose"]["starts_at"]
    day = desk.call("GET", "/schedule", params={
        "clinic_id": scene["clinic"]["id"], "date": scene["dose_day"],
    }).json()  # fmt: skip
    listed = {a["id"] for room in day["by_room"] for a in room["appointments"]}
    assert booked["id"] in listed

    again = requests.post(f"{stack.base_url}{action.group(1)}", timeout=30)
    assert again.status_code == 409 and "This session has been taken" in again.text
    token = action.group(1).split("/")[2]
    problem = requests.post(f"{desk.base}/patient-links/{token}/accept", timeout=30)
    assert problem.status_code == 409
    assert problem.headers["Content-Type"].startswith("application/problem+json")
    assert problem.json()["code"] == "offer_taken"
