"""Course endpoints: enrol, read, discontinue, progress.

Each answer is the Out schema of the caller's view (policy.view_of); the ETag is
computed from that same answer. Every view that writes takes the database's write
lock first (db.begin_write) and commits once.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import url_for
from flask.views import MethodView

from kapt_api import clock
from kapt_api.auth.identity import authenticated, current_user
from kapt_api.db import begin_write, db
from kapt_api.idempotency import idempotent
from kapt_api.openapi import documents
from kapt_api.openapi.pages import Blueprint
from kapt_api.patients.policy import Caller, caller
from kapt_api.scheduling.courses import policy, queries
from kapt_api.scheduling.courses import service as course_service
from kapt_api.scheduling.courses.models import Course
from kapt_api.scheduling.courses.schemas import (
    COURSE_OUT_DOC,
    COURSE_VIEWS,
    CourseIn,
    DiscontinueIn,
    ProgressOut,
)

# Served under the "scheduling" tag (scheduling/routes.py).
bp = Blueprint("courses", __name__)
ONE_COURSE = {"content": {"application/json": {"schema": COURSE_OUT_DOC}}}
CONFLICT = documents([409])
Answer = dict[str, Any]


def _who() -> Caller:
    return caller(current_user())


def _course_shown(who: Caller, course: Course) -> Answer:
    team = queries.patient_care_team(course.patient_id)
    return COURSE_VIEWS[policy.view_of(who, team)].dump(course)


@bp.route("/courses")
class Courses(MethodView):
    @idempotent
    @bp.arguments(CourseIn)
    @bp.response(201)
    @bp.doc(responses={201: ONE_COURSE}, **CONFLICT)
    @authenticated
    def post(self, data: dict[str, Any]) -> tuple[Answer, dict[str, str]]:
        """Enrol a patient on a published protocol version with a care team.

        The front desk (the clinic's intake), administrators and prescribers enrol;
        nurses and therapists get 403. The audit log names who enrolled.

        409 `course_already_active` when the patient already has an active course on the
        protocol (on any of its versions): the database holds one active course per
        patient and protocol, so of enrolments sent at the same moment one makes the
        course and every other is answered this.
        """
        who = _who()
        begin_write(db.session)
        course = course_service.enroll(**data, by=who, now=clock.now())
        db.session.commit()
        location = url_for("scheduling.courses.CourseById", course_id=course.id)
        return _course_shown(who, course), {"Location": location}


@bp.route("/courses/<uuid:course_id>")
class CourseById(MethodView):
    @bp.etag
    @bp.response(200)
    @bp.doc(responses={200: ONE_COURSE})
    @authenticated
    def get(self, course_id: uuid.UUID) -> Answer:
        """One course: its protocol version, care team and status."""
        who = _who()
        return _course_shown(who, course_service.find_course(course_id=course_id, by=who))


@bp.route("/courses/<uuid:course_id>/discontinue", methods=["POST"])
@bp.arguments(DiscontinueIn)
@bp.response(200)
@bp.doc(responses={200: ONE_COURSE}, **CONFLICT)
@authenticated
def discontinue_course(data: dict[str, Any], course_id: uuid.UUID) -> Answer:
    """End a course early, with a reason; its booked sessions to come are cancelled."""
    who = _who()
    begin_write(db.session)
    course = course_service.find_course(
        course_id=course_id, by=who, action="update", for_change=True
    )
    course = course_service.discontinue(course=course, **data, by=who, now=clock.now())
    db.session.commit()
    return _course_shown(who, course)


@bp.route("/courses/<uuid:course_id>/progress")
@bp.response(200, ProgressOut)
@authenticated
def course_progress(course_id: uuid.UUID) -> Answer:
    """What is done, what is booked, and when each next session may be booked."""
    who = _who()
    course = course_service.find_course(course_id=course_id, by=who)
    progress = course_service.course_progress(course=course, now=clock.now())
    flags = course_service.dose_flags(course=course)
    booked = [{**vars(s), "flags": flags.get(s.id, [])} for s in progress.booked]
    return {"course_id": course.id, "status": course.status, **vars(progress), "booked": booked}
