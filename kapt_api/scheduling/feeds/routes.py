"""Calendar feed endpoints, under the document's "calendar" tag (scheduling/routes.py).
The feed itself is the one public route here: its URL's token is its credential."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlsplit

from flask import Response, current_app, url_for

from kapt_api import clock
from kapt_api.auth.identity import authenticated, current_user, public
from kapt_api.db import begin_write, db
from kapt_api.openapi.pages import Blueprint
from kapt_api.patients.policy import Caller, caller
from kapt_api.scheduling.feeds import service
from kapt_api.scheduling.feeds.schemas import CalendarFeedOut

# Served under the "calendar" tag (scheduling/routes.py).
bp = Blueprint("feeds", __name__)
ICALENDAR = "text/calendar"
Answer = dict[str, Any]


def _who() -> Caller:
    return caller(current_user())


@bp.route("/staff/<uuid:staff_id>/calendar-feed", methods=["POST"])
@bp.response(201, CalendarFeedOut)
@authenticated
def issue_calendar_feed(staff_id: uuid.UUID) -> Answer:
    """Create the staff member's private calendar feed, or rotate its token (the old
    URL stops working); the URL is shown only in this answer."""
    # Not @idempotent on purpose: a stored replay would keep the token in clear text.
    who = _who()
    begin_write(db.session)
    staff = service.find_staff_for_feed(staff_id=staff_id, by=who)
    now = clock.now()
    token = service.issue_feed(staff=staff, by=who, now=now)
    db.session.commit()
    base = current_app.config["KAPT_BASE_URL"].rstrip("/")
    return {"url": base + url_for("calendar.feeds.calendar_feed", token=token), "created_at": now}


@bp.route("/staff/<uuid:staff_id>/calendar-feed", methods=["DELETE"])
@bp.response(204)
@authenticated
def revoke_calendar_feed(staff_id: uuid.UUID) -> None:
    """Revoke the staff member's calendar feed: its URL answers 404 from now on."""
    who = _who()
    begin_write(db.session)
    staff = service.find_staff_for_feed(staff_id=staff_id, by=who)
    service.revoke_feed(staff=staff, by=who)
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
    staff = service.staff_of_token(token)
    host = urlsplit(current_app.config["KAPT_BASE_URL"]).hostname or "kapt-api"
    body = service.feed(staff=staff, host=host, now=clock.now())
    response = Response(body, mimetype=ICALENDAR)
    response.headers["Cache-Control"] = "private, no-store"
    return response
