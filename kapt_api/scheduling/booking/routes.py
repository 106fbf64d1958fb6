"""Appointment endpoints: book, list, read, move, and the status steps.

Each answer is the Out schema of the caller's view (courses/policy.view_of); the ETag
is computed from that same answer. Every view that writes takes the database's write
lock first (db.begin_write) and commits once.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from flask import url_for
from flask.views import MethodView

from kapt_api import clock
from kapt_api.auth.identity import authenticated, current_user
from kapt_api.db import begin_write, db
from kapt_api.idempotency import idempotent
from kapt_api.openapi import OPTIONAL_IF_MATCH, check_if_match, documents
from kapt_api.openapi.pages import Blueprint
from kapt_api.patients.policy import Caller, caller
from kapt_api.scheduling.booking import attendance, service
from kapt_api.scheduling.booking import queries as booking_queries
from kapt_api.scheduling.booking import receivers as receivers  # connects them
from kapt_api.scheduling.booking.models import Appointment
from kapt_api.scheduling.booking.schemas import (
    APPOINTMENT_OUT_DOC,
    APPOINTMENT_VIEWS,
    AppointmentIn,
    AppointmentPatch,
    AppointmentQuery,
    CancelIn,
    CheckInIn,
    CompleteIn,
    NoShowIn,
)
from kapt_api.scheduling.courses import policy, queries

# Served under the "scheduling" tag (scheduling/routes.py).
bp = Blueprint("booking", __name__)
ONE_APPOINTMENT = {"content": {"application/json": {"schema": APPOINTMENT_OUT_DOC}}}
APPOINTMENT_LIST = {
    "content": {"application/json": {"schema": {"type": "array", "items": APPOINTMENT_OUT_DOC}}}
}
CONFLICT = documents([409])
# The status steps: If-Match is optional, and a stale one answers 412.
# 422: a step a rule refuses (a flagged dose at check-in, a held dose at its start, a
# step before the check-in window opens).
STEP = {"parameters": [OPTIONAL_IF_MATCH], **documents([409, 412, 422])}
Answer = dict[str, Any]


def _who() -> Caller:
    return caller(current_user())


def _appointment_schema(who: Caller, appointment: Appointment) -> Any:
    team = queries.patient_care_team(appointment.patient_id)
    return APPOINTMENT_VIEWS[policy.view_of(who, team)]


def _shown(who: Caller, appointment: Appointment) -> Answer:
    return _appointment_schema(who, appointment).dump(appointment)


def all_shown(who: Caller, appointments: list[Appointment]) -> list[Answer]:
    """Each appointment in the caller's view of its patient."""
    treated = booking_queries.clinical_patients(who, [a.patient_id for a in appointments])
    return [
        APPOINTMENT_VIEWS[policy.view(who, treating=a.patient_id in treated)].dump(a)
        for a in appointments
    ]


@bp.route("/appointments")
class Appointments(MethodView):
    @bp.arguments(AppointmentQuery, location="query")
    @bp.response(200)
    @bp.doc(responses={200: APPOINTMENT_LIST})
    @bp.paginate()
    @authenticated
    def get(self, query: dict[str, Any], pagination_parameters: Any) -> list[Answer]:
        """Appointments of the caller's clinic, by start time; a time range keeps those
        that overlap it."""
        who = _who()
        found = booking_queries.list_appointments(by=who, page=pagination_parameters, **query)
        return all_shown(who, found)

    @idempotent
    @bp.arguments(AppointmentIn)
    @bp.response(201)
    @bp.doc(responses={201: ONE_APPOINTMENT}, **CONFLICT)
    @authenticated
    def post(self, data: dict[str, Any]) -> tuple[Answer, dict[str, str]]:
        """Book a session; a refusal names every rule it breaks (409 when a person,
        room or the patient is taken, else 422)."""
        who = _who()
        begin_write(db.session)
        appointment = service.book(**data, by=who, now=clock.now())
        db.session.commit()
        location = url_for("scheduling.booking.AppointmentById", appointment_id=appointment.id)
        return _shown(who, appointment), {"Location": location}


@bp.route("/appointments/<uuid:appointment_id>")
class AppointmentById(MethodView):
    @bp.etag
    @bp.response(200)
    @bp.doc(responses={200: ONE_APPOINTMENT})
    @authenticated
    def get(self, appointment_id: uuid.UUID) -> Answer:
        """One appointment with its status history."""
        who = _who()
        return _shown(who, booking_queries.find_appointment(appointment_id=appointment_id, by=who))

    @bp.etag
    @bp.arguments(AppointmentPatch)
    @bp.response(200)
    @bp.doc(responses={200: ONE_APPOINTMENT}, **CONFLICT)
    @authenticated
    def patch(self, changes: dict[str, Any], appointment_id: uuid.UUID) -> Answer:
        """Reschedule (time, room, staff); every rule is checked again. Send If-Match."""
        who = _who()
        begin_write(db.session)
        appointment = booking_queries.find_appointment(
            appointment_id=appointment_id, by=who, action="update", for_change=True
        )
        bp.check_etag(appointment, _appointment_schema(who, appointment))
        appointment = service.move(appointment=appointment, **changes, by=who, now=clock.now())
        db.session.commit()
        return _shown(who, appointment)


def _step(step: Callable[..., Appointment], appointment_id: uuid.UUID, **data: Any) -> Answer:
    """Lock, find and change one appointment with `step`, commit, answer it. If-Match,
    when sent, is checked once the course is locked and the appointment read again, as
    PATCH's is: of two screens that send the version they both loaded, the one served
    second is told it lost (412), never answered with a state that is not the last."""
    who = _who()
    begin_write(db.session)
    appointment = booking_queries.find_appointment(
        appointment_id=appointment_id, by=who, action="update", for_change=True
    )
    check_if_match(_shown(who, appointment))
    appointment = step(appointment=appointment, **data, by=who, now=clock.now())
    db.session.commit()
    return _shown(who, appointment)


@bp.route("/appointments/<uuid:appointment_id>/cancel", methods=["POST"])
@bp.etag
@bp.arguments(CancelIn)
@bp.response(200)
@bp.doc(responses={200: ONE_APPOINTMENT}, **STEP)
@authenticated
def cancel_appointment(data: dict[str, Any], appointment_id: uuid.UUID) -> Answer:
    """Cancel, with a reason; inside the notice window it is a late cancellation."""
    return _step(attendance.cancel, appointment_id, **data)


@bp.route("/appointments/<uuid:appointment_id>/check-in", methods=["POST"])
@bp.etag
@bp.arguments(CheckInIn, required=False)
@bp.response(200)
@bp.doc(responses={200: ONE_APPOINTMENT}, **STEP)
@authenticated
def check_in_appointment(data: dict[str, Any], appointment_id: uuid.UUID) -> Answer:
    """The patient has arrived (front desk, administrators); a flagged dose needs an
    override of its flags (administrators, prescribers), else 422 naming each flag."""
    return _step(attendance.check_in, appointment_id, **data)


@bp.route("/appointments/<uuid:appointment_id>/start", methods=["POST"])
@bp.etag
@bp.response(200)
@bp.doc(responses={200: ONE_APPOINTMENT}, **STEP)
@authenticated
def start_appointment(appointment_id: uuid.UUID) -> Answer:
    """The session begins (clinicians on the care team)."""
    return _step(attendance.start, appointment_id)


@bp.route("/appointments/<uuid:appointment_id>/complete", methods=["POST"])
@bp.etag
@bp.arguments(CompleteIn)
@bp.response(200)
@bp.doc(responses={200: ONE_APPOINTMENT}, **STEP)
@authenticated
def complete_appointment(data: dict[str, Any], appointment_id: uuid.UUID) -> Answer:
    """The session is over (clinicians on the care team); the course's last completes it."""
    return _step(attendance.complete, appointment_id, **data)


@bp.route("/appointments/<uuid:appointment_id>/no-show", methods=["POST"])
@bp.etag
@bp.arguments(NoShowIn)
@bp.response(200)
@bp.doc(responses={200: ONE_APPOINTMENT}, **STEP)
@authenticated
def mark_no_show(data: dict[str, Any], appointment_id: uuid.UUID) -> Answer:
    """The patient did not come (front desk, administrators); the time is freed."""
    return _step(attendance.mark_no_show, appointment_id, **data)
