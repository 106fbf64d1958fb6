"""Slot search, course plans and batch booking endpoints, under the document's
"calendar" tag (scheduling/routes.py)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from kapt_api import clock
from kapt_api.auth.identity import authenticated, current_user
from kapt_api.db import begin_write, db
from kapt_api.errors import InvalidInput
from kapt_api.idempotency import idempotent
from kapt_api.openapi import documents
from kapt_api.openapi.pages import Blueprint
from kapt_api.patients.policy import Caller, caller
from kapt_api.scheduling.availability import plans, slots
from kapt_api.scheduling.availability import service as availability_service
from kapt_api.scheduling.availability.schemas import BatchIn, PlanIn, PlanOut, SlotOut, SlotQuery
from kapt_api.scheduling.booking.routes import all_shown
from kapt_api.scheduling.booking.schemas import APPOINTMENT_OUT_DOC
from kapt_api.scheduling.courses import queries, service

# Served under the "calendar" tag (scheduling/routes.py).
bp = Blueprint("availability", __name__)
Answer = dict[str, Any]


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


@bp.route("/courses/<uuid:course_id>/slots")
@bp.arguments(SlotQuery, location="query")
@bp.response(200, SlotOut(many=True))
@authenticated
def course_slots(query: Answer, course_id: uuid.UUID) -> list[Answer]:
    """Starts at which a session of the course can be booked, with a room and staff:
    every rule, required role, room and the patient free (a window of at most 31 days)."""
    course = service.find_course(course_id=course_id, by=_who())
    found = availability_service.find_slots(
        course=course,
        kind=query["kind"],
        starts_from=query["starts_from"],
        until=query["until"],
        now=clock.now(),
        step=timedelta(minutes=query["step_minutes"]),
        limit=query["limit"],
    )
    zone = ZoneInfo(queries.clinic_zone(course.clinic_id))
    return [_slot(slot, zone) for slot in found]


@bp.route("/courses/<uuid:course_id>/plan", methods=["POST"])
@bp.arguments(PlanIn)
@bp.response(200, PlanOut)
@authenticated
def plan_course(data: Answer, course_id: uuid.UUID) -> Answer:
    """Propose every session the course still needs (preparations, doses, integrations),
    each with a room and staff, satisfying every rule together; book it with
    POST /appointments/batch and the answer's `batch`."""
    course = service.find_course(course_id=course_id, by=_who())
    earliest, latest = data.get("earliest_time"), data.get("latest_time")
    if earliest is not None and latest is not None and latest < earliest:
        raise InvalidInput({"latest_time": ["Must not be before earliest_time."]})
    preferences = plans.Preferences(frozenset(data.get("weekdays", ())), earliest, latest)
    plan = plans.plan_course(
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
    booked = plans.book_batch(items=data["items"], by=who, now=clock.now())
    db.session.commit()
    return all_shown(who, booked)
