"""Day schedules, private calendar feeds, slot search, course plans and batch booking.

Day schedules answer plain dicts documented by calendar_schemas (built without a
marshmallow dump: a clinic's day is read all day long). The calendar feed is the one
public route here: its URL's token is its credential.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import Response, current_app, request, url_for
from flask_smorest import Blueprint

from kapt_api import clock
from kapt_api.auth.identity import authenticated, current_user, public
from kapt_api.db import begin_write, db
from kapt_api.errors import InvalidInput
from kapt_api.idempotency import idempotent
from kapt_api.openapi import documents
from kapt_api.patients.policy import Caller, caller
from kapt_api.scheduling import (
    course_service,
    day_schedule,
    ical,
    loaders,
    planning,
    slots,
)
from kapt_api.scheduling.calendar_schemas import (
    BatchIn,
    CalendarFeedOut,
    ClinicDayOut,
    PlanIn,
    PlanOut,
    ScheduleQuery,
    SlotOut,
    SlotQuery,
    StaffDayOut,
    StaffScheduleQuery,
)
from kapt_api.scheduling.day_cache import ComputedDay
from kapt_api.scheduling.routes import all_shown
from kapt_api.scheduling.schemas import APPOINTMENT_OUT_DOC

bp = Blueprint(
    "calendar",
    __name__,
    url_prefix="/api/v1",
    description="Day schedules, calendar feeds, slot search, course plans and batch booking",
)

Answer = dict[str, Any]
ICALENDAR = "text/calendar"


def _json(schema: Any) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _who() -> Caller:
    return caller(current_user())


def _slot(slot: slots.Slot, zone: ZoneInfo) -> Answer:
    return {
        "kind": slot.kind.value,
        "starts_at": slot.starts_at,
        "ends_at": slot.ends_at,
        "local_starts_at": slot.starts_at.astimezone(zone),
        "local_ends_at": slot.ends_at.astimezone(zone),
        "room_id": slot.room_id,
        "staff_ids": list(slot.staff_ids),
    }


# --- day schedules ---------------------------------------------------------------------------


def _compact(answer: Any) -> str:
    return str(current_app.json.dumps(answer, separators=(",", ":")))


def _day_response(day: ComputedDay) -> Response:
    """The day's JSON, encoded once per computed day (compact, as jsonify answers), with
    its ETag: If-None-Match answers 304 while the day is unchanged (still audited: the
    screen shows the patients again)."""
    answer = Response(day.encoded(_compact), mimetype="application/json")
    answer.set_etag(day.etag(_compact))
    answer.make_conditional(request)  # turns it into a 304 in place
    return answer


UNCHANGED = {304: {"description": "The day is unchanged since the ETag sent in If-None-Match."}}


@bp.route("/schedule")
@bp.arguments(ScheduleQuery, location="query")
@bp.response(200)
@bp.doc(responses={200: _json(ClinicDayOut), **UNCHANGED})
@authenticated
def clinic_schedule(query: Answer) -> Response:
    """A clinic's day by room and by staff member, each appointment with its readiness
    (front desk and administrators)."""
    day = day_schedule.clinic_day(clinic_id=query["clinic_id"], day=query["date"], by=_who())
    return _day_response(day)


@bp.route("/staff/<uuid:staff_id>/schedule")
@bp.arguments(StaffScheduleQuery, location="query")
@bp.response(200)
@bp.doc(responses={200: _json(StaffDayOut), **UNCHANGED})
@authenticated
def staff_schedule(query: Answer, staff_id: uuid.UUID) -> Response:
    """One staff member's day (their own; anyone's for front desk and administrators)."""
    who = _who()
    staff = day_schedule.find_staff_for_day(staff_id=staff_id, by=who)
    return _day_response(day_schedule.staff_day(staff=staff, day=query["date"], by=who))


# --- calendar feeds --------------------------------------------------------------------------


@bp.route("/staff/<uuid:staff_id>/calendar-feed", methods=["POST"])
@bp.response(201, CalendarFeedOut)
@authenticated
def issue_calendar_feed(staff_id: uuid.UUID) -> Answer:
    """Create the staff member's private calendar feed, or rotate its token (the old
    URL stops working); the URL is shown only in this answer."""
    # Not @idempotent on purpose: a stored replay would keep the token in clear text.
    who = _who()
    begin_write(db.session)
    staff = ical.find_staff_for_feed(staff_id=staff_id, by=who)
    now = clock.now()
    token = ical.issue_feed(staff=staff, by=who, now=now)
    db.session.commit()
    base = current_app.config["KAPT_BASE_URL"].rstrip("/")
    return {"url": base + url_for("calendar.calendar_feed", token=token), "created_at": now}


@bp.route("/staff/<uuid:staff_id>/calendar-feed", methods=["DELETE"])
@bp.response(204)
@authenticated
def revoke_calendar_feed(staff_id: uuid.UUID) -> None:
    """Revoke the staff member's calendar feed: its URL answers 404 from now on."""
    who = _who()
    begin_write(db.session)
    staff = ical.find_staff_for_feed(staff_id=staff_id, by=who)
    ical.revoke_feed(staff=staff, by=who)
    db.session.commit()


@bp.route("/calendar/<token>.ics")
@bp.response(200)
@bp.doc(
    security=[],
    responses={
        200: {
            "description": "The staff member's appointments as iCalendar (RFC 5545)",
            "content": {ICALENDAR: {"schema": {"type": "string"}}},
        }
    },
)
@public
def calendar_feed(token: str) -> Response:
    """A staff member's private iCalendar feed; the token in the URL is its key."""
    staff = ical.staff_of_token(token)
    host = urlsplit(current_app.config["KAPT_BASE_URL"]).hostname or "kapt-api"
    body = ical.feed(staff=staff, host=host, now=clock.now())
    response = Response(body, mimetype=ICALENDAR)
    response.headers["Cache-Control"] = "private, no-store"
    return response


# --- slots, plans, batches ---------------------------------------------------------------------


@bp.route("/courses/<uuid:course_id>/slots")
@bp.arguments(SlotQuery, location="query")
@bp.response(200, SlotOut(many=True))
@authenticated
def course_slots(query: Answer, course_id: uuid.UUID) -> list[Answer]:
    """Starts at which a session of the course can be booked, with a room and staff:
    every rule, required role, room and the patient free (a window of at most 31 days)."""
    course = course_service.find_course(course_id=course_id, by=_who())
    found = slots.find_slots(
        course=course,
        kind=query["kind"],
        starts_from=query["starts_from"],
        until=query["until"],
        now=clock.now(),
        step=timedelta(minutes=query["step_minutes"]),
        limit=query["limit"],
    )
    zone = ZoneInfo(loaders.clinic_zone(course.clinic_id))
    return [_slot(slot, zone) for slot in found]


@bp.route("/courses/<uuid:course_id>/plan", methods=["POST"])
@bp.arguments(PlanIn)
@bp.response(200, PlanOut)
@authenticated
def plan_course(data: Answer, course_id: uuid.UUID) -> Answer:
    """Propose every session the course still needs (preparations, doses, integrations),
    each with a room and staff, satisfying every rule together; book it with
    POST /appointments/batch and the answer's `batch`."""
    course = course_service.find_course(course_id=course_id, by=_who())
    earliest, latest = data.get("earliest_time"), data.get("latest_time")
    if earliest is not None and latest is not None and latest < earliest:
        raise InvalidInput({"latest_time": ["Must not be before earliest_time."]})
    preferences = planning.Preferences(frozenset(data.get("weekdays", ())), earliest, latest)
    plan = planning.plan_course(
        course=course,
        now=clock.now(),
        starts_from=data.get("starts_from"),
        preferences=preferences,
        maintenance_doses=data["maintenance_doses"],
    )
    zone = ZoneInfo(plan.zone)
    return {
        "course_id": plan.course_id,
        "time_zone": plan.zone,
        "sessions": [{**_slot(p.slot, zone), "number": p.number} for p in plan.sessions],
        "batch": {
            "items": [
                {
                    "course_id": plan.course_id,
                    "kind": p.slot.kind.value,
                    "starts_at": p.slot.starts_at,
                    "room_id": p.slot.room_id,
                    "staff_ids": list(p.slot.staff_ids),
                }
                for p in plan.sessions
            ]
        },
    }


@bp.route("/appointments/batch", methods=["POST"])
@idempotent
@bp.arguments(BatchIn)
@bp.response(201)
@bp.doc(
    responses={201: _json({"type": "array", "items": APPOINTMENT_OUT_DOC})},
    **documents([409]),
)
@authenticated
def book_batch(data: Answer) -> list[Answer]:
    """Book a list of sessions (a plan) all or nothing: if any is refused nothing is
    written, and the refusal lists each item's violations by index (409 when a person,
    room or patient is taken, else 422)."""
    who = _who()
    begin_write(db.session)
    booked = planning.book_batch(items=data["items"], by=who, now=clock.now())
    db.session.commit()
    return all_shown(who, booked)
