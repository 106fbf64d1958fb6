"""Day schedule endpoints, under the document's "calendar" tag (scheduling/routes.py).

Day schedules answer plain dicts documented by schemas.py (built without a marshmallow
dump: a clinic's day is read all day long).
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from flask import Response, current_app, request

from kapt_api.auth.identity import authenticated, current_user
from kapt_api.openapi.pages import Blueprint
from kapt_api.patients.policy import Caller, caller
from kapt_api.scheduling.days import service
from kapt_api.scheduling.days.cache import ComputedDay
from kapt_api.scheduling.days.schemas import (
    ClinicDayOut,
    ScheduleQuery,
    StaffDayOut,
    StaffScheduleQuery,
)

# Served under the "calendar" tag (scheduling/routes.py).
bp = Blueprint("days", __name__)
Answer = dict[str, Any]


def _tagged_json(schema: Any) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}, "headers": {"ETag": "ETAG"}}


def _who() -> Caller:
    return caller(current_user())


def _compact(answer: Any) -> bytes:
    """The answer as the application's JSON encoder writes it compactly (as jsonify
    answers), byte for byte, so its ETag is the same whichever worker or replica
    computed it. orjson writes those same bytes several times faster when they are ASCII
    (both escape control characters alike); otherwise (a name with an accent, or a DEL,
    which the application's encoder escapes as \\uXXXX and orjson does not) the
    application's encoder writes them itself."""
    try:
        encoded: bytes | None = orjson.dumps(answer)
    except orjson.JSONEncodeError:  # a string it refuses (a lone surrogate)
        encoded = None
    if encoded is not None and encoded.isascii() and b"\x7f" not in encoded:
        return encoded
    return str(current_app.json.dumps(answer, separators=(",", ":"))).encode()


def _day_response(day: ComputedDay) -> Response:
    """The day's JSON, encoded once per computed day, with its ETag: If-None-Match
    answers 304 while the day is unchanged (still audited: the screen shows the patients
    again)."""
    answer = Response(day.encoded(_compact), mimetype="application/json")
    answer.set_etag(day.etag(_compact))
    answer.make_conditional(request)  # turns it into a 304 in place
    return answer


# Instances, not classes: webargs would build a schema from a class on every request.
SCHEDULE_QUERY, STAFF_SCHEDULE_QUERY = ScheduleQuery(), StaffScheduleQuery()
UNCHANGED = {304: {"description": "The day is unchanged since the ETag sent in If-None-Match."}}
# A screen polls the day: it sends the ETag it last had, and a 304 costs it nothing to read.
POLLED = ["IF_NONE_MATCH"]


@bp.route("/schedule", parameters=POLLED)
@bp.arguments(SCHEDULE_QUERY, location="query")
@bp.response(200)
@bp.doc(responses={200: _tagged_json(ClinicDayOut), **UNCHANGED})
@authenticated
def clinic_schedule(query: Answer) -> Response:
    """A clinic's day by room and by staff member, each appointment with its readiness
    (front desk and administrators)."""
    day = service.clinic_day_for(
        clinic_id=query["clinic_id"], day=query["date"], user=current_user()
    )
    return _day_response(day)


@bp.route("/staff/<uuid:staff_id>/schedule", parameters=POLLED)
@bp.arguments(STAFF_SCHEDULE_QUERY, location="query")
@bp.response(200)
@bp.doc(responses={200: _tagged_json(StaffDayOut), **UNCHANGED})
@authenticated
def staff_schedule(query: Answer, staff_id: uuid.UUID) -> Response:
    """One staff member's day (their own; anyone's for front desk and administrators)."""
    who = _who()
    staff = service.find_staff_for_day(staff_id=staff_id, by=who)
    return _day_response(service.staff_day(staff=staff, day=query["date"], by=who))
