"""Outcome measure endpoints: PHQ-9 and GAD-7 per course, and their trend. Only
clinicians on the patient's care team; every read and write audited."""

from __future__ import annotations

import uuid
from typing import Any

from kapt_api import clock
from kapt_api.auth.identity import authenticated, current_user
from kapt_api.db import begin_write, db
from kapt_api.idempotency import idempotent
from kapt_api.openapi import QueryPage
from kapt_api.openapi.pages import Blueprint
from kapt_api.outcomes import service
from kapt_api.outcomes.schemas import MeasureIn, MeasureOut, MeasureQuery, TrendOut
from kapt_api.patients.policy import caller

bp = Blueprint("outcomes", __name__, url_prefix="/api/v1", description="Outcome measures")


@bp.route("/courses/<uuid:course_id>/measures", methods=["POST"])
@idempotent
@bp.arguments(MeasureIn)
@bp.response(201, MeasureOut)
@authenticated
def record_measure(data: dict[str, Any], course_id: uuid.UUID) -> Any:
    """Record a PHQ-9 or GAD-7 (items 0-3); PHQ-9 item 9 above 0 alerts the prescriber."""
    who = caller(current_user())
    begin_write(db.session)
    course = service.find_course(course_id=course_id, by=who, action="update")
    measure = service.record_measure(course=course, **data, by=who, now=clock.now())
    db.session.commit()
    return measure


@bp.route("/courses/<uuid:course_id>/measures", methods=["GET"])
@bp.arguments(MeasureQuery, location="query")
@bp.response(200, MeasureOut(many=True))
@bp.paginate(QueryPage)
@authenticated
def list_measures(query: dict[str, Any], course_id: uuid.UUID) -> Any:
    """The course's questionnaires, oldest first."""
    who = caller(current_user())
    course = service.find_course(course_id=course_id, by=who, action="list")
    return service.measures_query(course=course, **query)


@bp.route("/courses/<uuid:course_id>/measures/trend")
@bp.response(200, TrendOut(many=True))
@authenticated
def measure_trend(course_id: uuid.UUID) -> Any:
    """Each instrument's first and latest total and the change over the course."""
    who = caller(current_user())
    course = service.find_course(course_id=course_id, by=who, action="read")
    return service.trends(course=course)
