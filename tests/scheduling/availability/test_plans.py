"""Course plans and batch booking: a proposed calendar satisfies every rule (as the core
rules judge it, and by booking it), follows the protocol's phases and the preferred
weekdays and times; a batch books all or nothing, names each refused item by index,
and honours Idempotency-Key."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from kapt_api.auth.models import Role
from kapt_api.db import db
from kapt_api.errors import RuleRefused
from kapt_api.protocols.definition import SessionKind
from kapt_api.scheduling.availability import plans
from kapt_api.scheduling.availability.schemas import PlanOut
from kapt_api.scheduling.booking.models import Appointment
from kapt_api.scheduling.courses import queries
from kapt_api.scheduling.courses import rules as course_rules
from kapt_api.scheduling.courses.values import CourseSession
from tests.scheduling.conftest import API, ESKETAMINE_KEY, PROBLEM
from tests.scheduling.test_calendar_helpers import book, book_preparations

pytestmark = pytest.mark.usefixtures("now")

NEW_YORK = ZoneInfo("America/New_York")
DOSING, PREPARATION, INTEGRATION = (
    SessionKind.DOSING,
    SessionKind.PREPARATION,
    SessionKind.INTEGRATION,
)


def count_appointments() -> int:
    return db.session.scalar(select(func.count()).select_from(Appointment)) or 0


def course_week(first: datetime, instant: datetime) -> int:
    """Course weeks: 7 clinic calendar days from the first dose's day."""
    days = instant.astimezone(NEW_YORK).date() - first.astimezone(NEW_YORK).date()
    return days.days // 7 + 1


def kinds(plan: plans.Plan) -> list[tuple[str, int]]:
    return [(p.slot.kind.value, p.number) for p in plan.sessions]


def as_items(plan: plans.Plan) -> list[dict[str, Any]]:
    return [
        {
            "course_id": plan.course_id,
            "kind": p.slot.kind,
            "starts_at": p.slot.starts_at,
            "room_id": p.slot.room_id,
            "staff_ids": list(p.slot.staff_ids),
        }
        for p in plan.sessions
    ]


# --- planning --------------------------------------------------------------------------------


def test_an_im_kap_plan_has_every_session_in_protocol_order(course, now):
    plan = plans.plan_course(course=course, now=now)

    assert kinds(plan) == [
        ("preparation", 1),
        ("preparation", 2),
        *[pair for n in range(1, 7) for pair in (("dosing", n), ("integration", n))],
    ]
    starts = [p.slot.starts_at for p in plan.sessions]
    assert starts == sorted(starts)
    assert starts[0] >= now + timedelta(hours=24)  # the preparation's notice
    # The protocol's phase is weekly: each dose in its own week from the first.
    doses = [p.slot.starts_at for p in plan.sessions if p.slot.kind is DOSING]
    assert [course_week(doses[0], d) for d in doses] == [1, 2, 3, 4, 5, 6]


def test_the_plan_satisfies_every_rule_as_the_core_rules_judge_it(course, now, place, caller_of):
    plan = plans.plan_course(course=course, now=now)
    state = queries.course_state(course, now=now)
    sessions = [
        CourseSession(uuid.uuid4(), p.slot.kind, p.slot.starts_at, p.slot.ends_at)
        for p in plan.sessions
    ]
    assert course_rules.schedule_findings(state.definition, sessions, "America/New_York") == []
    # And booking it session by session, through every booking rule, passes.
    booked = plans.book_batch(items=as_items(plan), by=caller_of(place.front_desk), now=now)
    assert [a.starts_at for a in booked] == [p.slot.starts_at for p in plan.sessions]
    assert count_appointments() == 14


def test_an_esketamine_plan_is_twice_weekly_then_weekly(place, make_course, make_patient, now):
    course = make_course(ESKETAMINE_KEY, on=make_patient(place.clinic))
    plan = plans.plan_course(course=course, now=now)
    doses = [p.slot.starts_at for p in plan.sessions]
    # Twelve doses, then the first four of the maintenance phase (week 9 on, weekly).
    assert kinds(plan) == [("dosing", n) for n in range(1, 17)]
    per_week = Counter(course_week(doses[0], d) for d in doses)
    assert [per_week[w] for w in range(1, 13)] == [2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1]
    shorter = plans.plan_course(course=course, now=now, maintenance_doses=0)
    assert kinds(shorter) == [("dosing", n) for n in range(1, 13)]
    assert all(p.slot.staff_ids == (place.prescriber.id,) for p in plan.sessions)


def _preferred(planned: plans.PlannedSession, weekdays: tuple[int, ...]) -> bool:
    local = planned.slot.starts_at.astimezone(NEW_YORK)
    return local.weekday() in weekdays and time(10) <= local.time() <= time(12)


def test_the_plan_prefers_the_weekdays_and_times_asked_for(
    course, now, place, make_course, make_patient
):
    tuesday_thursday = plans.Preferences(frozenset({1, 3}), time(10), time(12))
    plan = plans.plan_course(course=course, now=now, preferences=tuesday_thursday)
    # An integration session must fall 24-72 hours after its dose: where no preferred
    # time lies in that window, another time is taken.
    assert all(_preferred(p, (1, 3)) for p in plan.sessions if p.slot.kind is not INTEGRATION)
    integrations = [p for p in plan.sessions if p.slot.kind is INTEGRATION]
    assert [f"{p.slot.starts_at.astimezone(NEW_YORK):%a %H:%M}" for p in integrations] == [
        "Fri 12:30"
    ] * 6
    esketamine = make_course(ESKETAMINE_KEY, on=make_patient(place.clinic))
    tuesday_friday = plans.Preferences(frozenset({1, 4}), time(10), time(12))
    plan = plans.plan_course(course=esketamine, now=now, preferences=tuesday_friday)
    assert all(_preferred(p, (1, 4)) for p in plan.sessions)


def test_a_plan_continues_what_is_booked(course, place, caller_of, now):
    book_preparations(place, course, by=caller_of(place.front_desk), now=now)
    plan = plans.plan_course(course=course, now=now, starts_from=now + timedelta(days=3))
    assert kinds(plan)[:2] == [("dosing", 1), ("integration", 1)]
    assert plan.sessions[0].slot.starts_at >= now + timedelta(days=3)


def test_a_plan_that_cannot_be_staffed_is_refused_naming_the_session(course, place, now):
    place.dosing_room.active = False
    db.session.commit()
    with pytest.raises(RuleRefused) as refused:
        plans.plan_course(course=course, now=now)
    (violation,) = refused.value.violations
    assert violation.rule == "no_slot_found"
    assert violation.details == {"kind": "dosing", "number": 1}


# --- over HTTP: plan, then book it in one request -----------------------------------------------


@pytest.fixture
def post(client, auth_headers):
    def call(url: str, who, body: Any, **headers: str):
        return client.post(f"{API}{url}", json=body, headers={**auth_headers(who.user), **headers})

    return call


def test_a_plan_over_http_books_in_one_request(post, place, course):
    planned = post(f"/courses/{course.id}/plan", place.front_desk, {"weekdays": ["tuesday"]})
    assert planned.status_code == 200, planned.get_json()
    plan = planned.get_json()
    assert PlanOut().load(plan)
    assert len(plan["sessions"]) == 14 == len(plan["batch"]["items"])
    assert plan["sessions"][0]["local_starts_at"].endswith("-05:00")

    booked = post("/appointments/batch", place.front_desk, plan["batch"])

    assert booked.status_code == 201, booked.get_json()
    assert [a["starts_at"] for a in booked.get_json()] == [s["starts_at"] for s in plan["sessions"]]
    assert count_appointments() == 14


def test_plan_input_is_checked(post, place, course, other_place):
    backwards = post(
        f"/courses/{course.id}/plan",
        place.front_desk,
        {"earliest_time": "15:00", "latest_time": "09:00"},
    )
    assert backwards.status_code == 422 and "latest_time" in backwards.get_json()["errors"]
    bad_day = post(f"/courses/{course.id}/plan", place.front_desk, {"weekdays": ["someday"]})
    assert bad_day.status_code == 422 and bad_day.mimetype == PROBLEM
    unknown = post(f"/courses/{course.id}/plan", place.front_desk, {"colour": "blue"})
    assert unknown.status_code == 422
    elsewhere = post(f"/courses/{course.id}/plan", other_place.front_desk, {})
    assert elsewhere.status_code == 404


def _plan_items(post, place, course) -> list[dict[str, Any]]:
    return post(f"/courses/{course.id}/plan", place.front_desk, {}).get_json()["batch"]["items"]


def test_a_batch_with_a_refused_item_writes_nothing_and_names_each_item(post, place, course):
    items = _plan_items(post, place, course)[:4]
    items[2]["room_id"] = str(place.therapy_room.id)  # a dose in a therapy room
    items[3]["room_id"] = str(uuid.uuid4())  # no such room

    refused = post("/appointments/batch", place.front_desk, {"items": items})

    assert refused.status_code == 422 and refused.mimetype == PROBLEM
    body = refused.get_json()
    assert body["code"] == "batch_refused"
    assert {(v["index"], v["rule"]) for v in body["violations"]} >= {(2, "wrong_room_kind")}
    assert body["errors"] == {"items.3.room_id": ["No room with this id at the patient's clinic."]}
    assert count_appointments() == 0


def test_a_batch_clashing_with_a_booking_is_409_and_writes_nothing(
    post, place, course, caller_of, now, make_patient, make_course
):
    items = _plan_items(post, place, course)[:3]
    other = make_course(on=make_patient(place.clinic, given_name="Blake"))
    starts_at = datetime.fromisoformat(items[1]["starts_at"])
    book(place, other, PREPARATION, starts_at, by=caller_of(place.front_desk), now=now)

    refused = post("/appointments/batch", place.front_desk, {"items": items})

    assert refused.status_code == 409
    rules = {(v["index"], v["rule"]) for v in refused.get_json()["violations"]}
    assert (1, "room_conflict") in rules and (1, "staff_conflict") in rules
    assert count_appointments() == 1  # only the other patient's


def test_a_batch_is_idempotent_under_its_key(post, place, course):
    body = {"items": _plan_items(post, place, course)[:2]}
    key = {"Idempotency-Key": "plan-week-1"}
    first = post("/appointments/batch", place.front_desk, body, **key)
    again = post("/appointments/batch", place.front_desk, body, **key)
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert count_appointments() == 2


def test_who_books_a_batch(post, place, course, other_place, make_staff):
    body = {"items": _plan_items(post, place, course)[:1]}
    outsider = make_staff(place.clinic, Role.THERAPIST)  # not on the care team
    assert post("/appointments/batch", outsider, body).status_code == 403
    elsewhere = post("/appointments/batch", other_place.front_desk, body)
    assert elsewhere.status_code == 422
    assert "items.0.course_id" in elsewhere.get_json()["errors"]
    assert post("/appointments/batch", place.therapist, body).status_code == 201  # care team
