"""The demo clinic as its staff read it through the API, loaded at moments that test
its hours: a Sunday, the two days of 2027 when New York's clocks change, early
morning before the clinic opens, midday, closing time and late evening.

The front desk reads today's schedule and the reminders, the nurse the dose under way
(its checklist and the one open alert), the prescriber each course's progress and the
finished course's PHQ-9 and GAD-7 trend."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from kapt_api import clock, demo
from kapt_api.monitoring import jobs
from kapt_api.reminders import agenda, dispatcher
from tests.test_readme_tour import dose_chosen_by_the_tour

API = "/api/v1"
ZONE = ZoneInfo("America/New_York")
ARRIVAL = timedelta(minutes=10)  # patients are checked in this long before their session


@dataclass(frozen=True)
class Moment:
    now: datetime
    dose_under_way: bool
    discharged: bool = False  # the featured dose's patient has left


def ny(*wall: int) -> datetime:
    """An instant as the clinic's clocks show it."""
    return datetime(*wall, tzinfo=ZONE)  # type: ignore[misc]


MOMENTS = {
    "sunday-mid-morning": Moment(ny(2027, 1, 10, 10, 0), True),
    "spring-forward-midday": Moment(ny(2027, 3, 14, 12, 30), True),
    "fall-back-morning": Moment(ny(2027, 11, 7, 9, 5), True),
    "weekday-before-opening": Moment(ny(2027, 5, 12, 6, 0), False, True),
    "weekday-midday": Moment(ny(2027, 5, 12, 12, 0), True),
    "weekday-closing-time": Moment(ny(2027, 5, 12, 20, 45), True, True),
    "weekday-late-evening": Moment(ny(2027, 5, 12, 23, 30), False, True),
}
LOGIN = {login.key: login for login in demo.LOGINS}


@pytest.fixture(params=list(MOMENTS.values()), ids=list(MOMENTS))
def moment(request: pytest.FixtureRequest, runner: Any) -> Moment:
    """The demo loaded into the empty database with the clock at this moment."""
    found: Moment = request.param
    clock.freeze(found.now)
    result = runner.invoke(args=["kapt", "demo-data", "--if-empty"])
    assert result.exit_code == 0, result.output
    return found


class Reader:
    """One demo login reading the API."""

    def __init__(self, client: Any, key: str) -> None:
        login = LOGIN[key]
        answer = client.post(
            f"{API}/auth/tokens", json={"email": login.email, "password": login.password}
        )
        assert answer.status_code == 201, answer.json
        self.client = client
        self.headers = {"Authorization": f"Bearer {answer.json['access_token']}"}

    def get(self, path: str, **query: Any) -> Any:
        answer = self.client.get(f"{API}{path}", query_string=query, headers=self.headers)
        assert answer.status_code == 200, (path, answer.json)
        return answer.json


def _today(reader: Reader, moment: Moment) -> dict[str, Any]:
    clinic = reader.get("/clinics")[0]["id"]
    return reader.get("/schedule", clinic_id=clinic, date=moment.now.date().isoformat())


def _appointments(day: dict[str, Any]) -> list[dict[str, Any]]:
    return list({a["id"]: a for r in day["by_room"] for a in r["appointments"]}.values())


def _courses(desk: Reader) -> dict[str, list[dict[str, Any]]]:
    """Each demo patient's appointments, by given name."""
    found = {}
    for patient in desk.get("/patients", page_size=100):
        found[patient["given_name"]] = desk.get(
            "/appointments", patient_id=patient["id"], page_size=100
        )
    return found


def test_the_demo_as_its_staff_read_it(client, moment):
    desk, nurse, prescriber = (Reader(client, key) for key in ("patel", "okafor", "reyes"))
    courses = _courses(desk)

    front_desk_sees_a_busy_day(desk, moment)
    front_desk_sees_reminders_pending_and_sent(desk, courses, moment)
    nurse_sees_the_featured_dose_and_the_one_open_alert(nurse, courses, moment)
    prescriber_sees_every_stage_of_the_four_protocols(prescriber, courses, moment)
    nothing_happened_before_it_could(nurse, courses, moment)
    the_scheduler_has_nothing_to_catch_up(moment)


def front_desk_sees_a_busy_day(desk: Reader, moment: Moment) -> None:
    day = _today(desk, moment)
    today = _appointments(day)

    assert {"intake", "preparation", "dosing", "integration", "follow_up"} == {
        a["kind"] for a in today
    }
    assert len({r["room"]["id"] for r in day["by_room"] if r["appointments"]}) >= 3
    assert len({s["staff"]["id"] for s in day["by_staff"] if s["appointments"]}) >= 3
    under_way = [a for a in today if a["kind"] == "dosing" and a["status"] == "in_progress"]
    assert len(under_way) == (1 if moment.dose_under_way else 0)
    monitored = moment.dose_under_way and not moment.discharged
    assert dose_chosen_by_the_tour(day) == (under_way[0]["id"] if monitored else "")
    for appointment in today:
        starts_at = datetime.fromisoformat(appointment["starts_at"])
        if starts_at <= moment.now:
            assert appointment["status"] != "booked", appointment
        if starts_at > moment.now + ARRIVAL:
            assert appointment["status"] == "booked", appointment


def front_desk_sees_reminders_pending_and_sent(
    desk: Reader, courses: dict[str, list[dict[str, Any]]], moment: Moment
) -> None:
    assert len(courses) == 6
    statuses: dict[str, set[str]] = {}
    for appointment in (a for found in courses.values() for a in found):
        for reminder in desk.get("/reminders", appointment_id=appointment["id"]):
            statuses.setdefault(reminder["status"], set()).add(appointment["id"])
            if reminder["status"] == "sent":
                assert reminder["sent_at"] <= appointment["starts_at"]
            if reminder["status"] == "pending":
                assert datetime.fromisoformat(reminder["due_at"]) > moment.now
    assert len(statuses["sent"]) >= 20 and len(statuses["pending"]) >= 3


def nurse_sees_the_featured_dose_and_the_one_open_alert(
    nurse: Reader, courses: dict[str, list[dict[str, Any]]], moment: Moment
) -> None:
    juniper = courses["Juniper"]
    featured = demo.featured_dose_start(moment.now)
    dose = next(a for a in juniper if datetime.fromisoformat(a["starts_at"]) == featured)
    checklist = nurse.get(f"/appointments/{dose['id']}/monitoring")
    alerts = nurse.get("/alerts", status="open")

    assert dose["status"] == ("in_progress" if moment.dose_under_way else "completed")
    assert (checklist["session"]["discharged_at"] is not None) is moment.discharged
    assert not [t for t in checklist["timepoints"] if t["state"] == "overdue"]
    peak = next(r for r in checklist["readings"] if r["timepoint"] == "bp_40_min")
    assert peak["values"]["systolic_bp"] == 186
    measured = [datetime.fromisoformat(r["measured_at"]) for r in checklist["readings"]]
    assert max(measured) <= moment.now
    assert [a["message"] for a in alerts] == ["Systolic blood pressure 186 mm[Hg] is above 180"]
    assert alerts[0]["reading_id"] == peak["id"]


def prescriber_sees_every_stage_of_the_four_protocols(
    prescriber: Reader, appointments: dict[str, list[dict[str, Any]]], moment: Moment
) -> None:
    courses = {
        name: prescriber.get(f"/courses/{found[0]['course_id']}")
        for name, found in appointments.items()
    }
    progress = {
        name: prescriber.get(f"/courses/{course['id']}/progress")
        for name, course in courses.items()
    }

    assert len({c["protocol_name"] for c in courses.values()}) == 4
    assert progress["Rowan"]["preparations_scheduled"] == 1
    assert progress["Rowan"]["doses_booked"] == 0
    assert progress["Juniper"]["doses_done"] == (2 if moment.dose_under_way else 3)
    assert progress["Sage"]["doses_done"] == 3
    assert progress["Quinn"]["status"] == "completed"
    assert progress["Quinn"]["doses_done"] == 6
    assert [s["kind"] for s in progress["Wren"]["done"] + progress["Wren"]["booked"]] == ["intake"]
    trend = {t["instrument"]: t for t in courses["Quinn"]["measures_trend"]}
    assert prescriber.get(f"/courses/{courses['Quinn']['id']}/measures/trend") == list(
        trend.values()
    )
    for instrument, (first, latest) in {"phq9": (19, 6), "gad7": (15, 5)}.items():
        totals = [p["total"] for p in trend[instrument]["points"]]
        assert trend[instrument]["first"] == first and trend[instrument]["latest"] <= latest
        assert len(totals) >= 4 and totals == sorted(totals, reverse=True)
        assert len(set(totals)) == len(totals)


def nothing_happened_before_it_could(
    nurse: Reader, courses: dict[str, list[dict[str, Any]]], moment: Moment
) -> None:
    """Bookings come before their sessions (with the notice they need), each step in
    order and in the past, readings inside their session: history was lived in order."""
    for appointment in (a for found in courses.values() for a in found):
        steps = [(s["to_status"], datetime.fromisoformat(s["at"])) for s in appointment["history"]]
        start = datetime.fromisoformat(appointment["starts_at"])
        assert steps[0][0] == "booked" and steps[0][1] <= start - timedelta(hours=24)
        assert [at for _status, at in steps] == sorted(at for _status, at in steps)
        assert all(at <= moment.now for _status, at in steps)
        if appointment["kind"] == "dosing" and len(steps) > 1:
            checklist = nurse.get(f"/appointments/{appointment['id']}/monitoring")
            checked_in = datetime.fromisoformat(checklist["session"]["checked_in_at"])
            for reading in checklist["readings"]:
                assert checked_in <= datetime.fromisoformat(reading["measured_at"]) <= moment.now


def the_scheduler_has_nothing_to_catch_up(moment: Moment) -> None:
    """The scheduler's jobs, run at the moment the demo was loaded, find nothing to do:
    every timepoint recorded, every REMS form in, every integration booked, the day's
    agendas written and every reminder due sent."""
    assert jobs.raise_overdue_alerts(moment.now) == 0
    assert jobs.flag_late_rems_forms(moment.now) == 0
    assert jobs.flag_unbooked_integrations(moment.now) == 0
    assert agenda.write_agendas(now=moment.now) == 0
    assert dispatcher.dispatch_until_idle(now=moment.now).claimed == 0
