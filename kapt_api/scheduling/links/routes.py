"""Patient links, twice: as a small page a patient opens from a reminder (`/p/<token>`,
server-rendered, no login, no JavaScript), and as JSON for clinic apps
(`/api/v1/patient-links/<token>`). The token in the URL is the only credential; every
look and action is rate limited per client address and audited with the link as the
actor. Logs name the route (`/p/<token>`), never the token.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint as FlaskBlueprint
from flask import Response, current_app, render_template

from kapt_api import clock
from kapt_api.auth.identity import public
from kapt_api.db import begin_write, db
from kapt_api.errors import DomainError
from kapt_api.extensions import limiter
from kapt_api.openapi import documents
from kapt_api.openapi.pages import Blueprint
from kapt_api.scheduling.links import service
from kapt_api.scheduling.links.rules import LinkAction
from kapt_api.scheduling.links.schemas import PatientLinkOut

# Served under the "patient links" tag of the document (app.py).
bp = Blueprint(
    "patient_links",
    __name__,
    url_prefix="/api/v1",
    description="Patient links: what a reminder's link is for, and the patient's answers",
)
pages = FlaskBlueprint("patient_pages", __name__, template_folder="templates")
LINK_ERRORS = {"security": [], **documents([404, 410, 422, 429])}
ACTION_ERRORS = {"security": [], **documents([404, 409, 410, 422, 429, 503])}
NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def link_limit() -> str:
    return str(current_app.config["KAPT_PATIENT_LINK_RATE_LIMIT"])


# One count per client address over the page and the JSON: trying tokens on either
# spends the same allowance.
limited = limiter.shared_limit(link_limit, scope="patient_links")


def _begin(action: LinkAction) -> None:
    """An answer that writes takes SQLite's write lock first (db.begin_write): what it
    reads (the course, the offer) cannot change before it writes."""
    if action is not LinkAction.VIEW:
        begin_write(db.session)


def _act(token: str, action: LinkAction) -> tuple[service.LinkView, int, dict[str, str]]:
    _begin(action)
    view = service.act(token, action, now=clock.now())
    db.session.commit()
    return view, 200, NO_STORE


@bp.route("/patient-links/<token>")
@public
@limited
@bp.response(200, PatientLinkOut)
@bp.doc(**LINK_ERRORS)
def read_patient_link(token: str) -> Any:
    """What a patient link is for and where things stand (404 unknown, 410 used or
    expired)."""
    return _act(token, LinkAction.VIEW)


@bp.route("/patient-links/<token>/confirm", methods=["POST"])
@public
@limited
@bp.response(200, PatientLinkOut)
@bp.doc(**ACTION_ERRORS)
def confirm_by_link(token: str) -> Any:
    """The patient will come (announced as the webhook event appointment.confirmed)."""
    return _act(token, LinkAction.CONFIRM)


@bp.route("/patient-links/<token>/escort", methods=["POST"])
@public
@limited
@bp.response(200, PatientLinkOut)
@bp.doc(**ACTION_ERRORS)
def confirm_escort_by_link(token: str) -> Any:
    """Someone will take the patient home after their dose (the day schedule's
    escort_confirmed reads `confirmed`)."""
    return _act(token, LinkAction.ESCORT)


@bp.route("/patient-links/<token>/cancel", methods=["POST"])
@public
@limited
@bp.response(200, PatientLinkOut)
@bp.doc(**ACTION_ERRORS)
def cancel_by_link(token: str) -> Any:
    """Cancel by the course's rules; inside the notice window it is marked late and the
    front desk is told. The link is spent."""
    return _act(token, LinkAction.CANCEL)


@bp.route("/patient-links/<token>/accept", methods=["POST"])
@public
@limited
@bp.response(200, PatientLinkOut)
@bp.doc(**ACTION_ERRORS)
def accept_offer_by_link(token: str) -> Any:
    """Take the waitlist offer the link is for: the session is booked (every booking
    rule checked again) and the link spent; 409 offer_taken after the first acceptance,
    410 offer_expired once the offer has passed on."""
    return _act(token, LinkAction.ACCEPT_OFFER)


# --- the page ------------------------------------------------------------------------

DONE = {
    LinkAction.CONFIRM: "Thank you: your appointment is confirmed.",
    LinkAction.ESCORT: "Thank you: we have noted that someone will take you home.",
    LinkAction.CANCEL: "Your appointment is cancelled.",
    LinkAction.ACCEPT_OFFER: "This session is booked for you.",
}
# The page's buttons post to /p/<token>/<name>.
PAGE_ACTIONS = {
    "confirm": LinkAction.CONFIRM,
    "escort": LinkAction.ESCORT,
    "cancel": LinkAction.CANCEL,
    "accept": LinkAction.ACCEPT_OFFER,
}


def _page(token: str, action: LinkAction, *, asking: bool = False) -> Response:
    try:
        _begin(action)
        view = service.act(token, action, now=clock.now())
        db.session.commit()
    except DomainError as refused:
        db.session.rollback()  # nothing of the attempt stays; its audit is written again
        messages = [v.message for v in refused.violations] or [refused.detail]
        body = render_template(
            "links/refused.html", messages=messages, status=refused.status, code=refused.code
        )
        return Response(body, status=refused.status, headers=NO_STORE)
    done = DONE.get(action)
    page = "links/offer.html" if view.purpose == "offer" else "links/page.html"
    body = render_template(page, view=view, token=token, done=done, asking=asking)
    return Response(body, headers=NO_STORE)


@pages.route("/p/<token>")
@limited
def patient_page(token: str) -> Response:
    """The patient's page: their appointment, and buttons for what they may answer."""
    return _page(token, LinkAction.VIEW)


@pages.route("/p/<token>/cancel")
@limited
def patient_page_cancel(token: str) -> Response:
    """Cancelling asks once more (a stray tap must not cancel), saying if it is late."""
    return _page(token, LinkAction.VIEW, asking=True)


@pages.route("/p/<token>/<any(confirm, escort, cancel, accept):action>", methods=["POST"])
@limited
def patient_page_action(token: str, action: str) -> Response:
    """A button of the patient's page (a plain form post, no JavaScript)."""
    return _page(token, PAGE_ACTIONS[action])


@pages.errorhandler(429)
def _too_many(_error: Exception) -> Response:
    messages = ["Too many attempts from this device. Please wait a minute and try again."]
    body = render_template("links/refused.html", messages=messages, status=429)
    return Response(body, status=429, headers=NO_STORE)
