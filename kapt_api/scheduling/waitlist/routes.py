"""Waitlist endpoints: put a course on the waitlist, list, read and remove entries; the
front desk's freed slots with their ranked candidates; accept or decline an offer.

Every view that writes takes the database's write lock first (db.begin_write) and
commits once.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView

from kapt_api import clock
from kapt_api.auth.identity import authenticated, current_user
from kapt_api.db import begin_write, db
from kapt_api.openapi import documents
from kapt_api.openapi.pages import Blueprint
from kapt_api.patients.policy import Caller, caller
from kapt_api.scheduling.booking.routes import all_shown
from kapt_api.scheduling.booking.schemas import APPOINTMENT_OUT_DOC
from kapt_api.scheduling.waitlist import offers, service
from kapt_api.scheduling.waitlist import receivers as receivers  # connects them
from kapt_api.scheduling.waitlist.schemas import (
    EntryIn,
    EntryOut,
    EntryQuery,
    FreedSlotOut,
    OfferOut,
    OffersQuery,
)

bp = Blueprint("waitlist", __name__)
CONFLICT = documents([409])
APPOINTMENT = {"content": {"application/json": {"schema": APPOINTMENT_OUT_DOC}}}
Answer = dict[str, Any]


def _who() -> Caller:
    return caller(current_user())


@bp.route("/courses/<uuid:course_id>/waitlist", methods=["POST"])
@bp.arguments(EntryIn)
@bp.response(201, EntryOut)
@bp.doc(**CONFLICT)
@authenticated
def put_on_waitlist(data: dict[str, Any], course_id: uuid.UUID) -> Any:
    """Put a course on the waitlist for an earlier session of one kind."""
    who = _who()
    begin_write(db.session)
    entry = service.put_on_waitlist(course_id=course_id, by=who, now=clock.now(), **data)
    db.session.commit()
    return entry


@bp.route("/waitlist")
class Entries(MethodView):
    @bp.arguments(EntryQuery, location="query")
    @bp.response(200, EntryOut(many=True))
    @bp.paginate()
    @authenticated
    def get(self, query: dict[str, Any], pagination_parameters: Any) -> Any:
        """The courses waiting, oldest first."""
        who = _who()
        found = service.list_entries(by=who, page=pagination_parameters, **query)
        db.session.commit()
        return found


@bp.route("/waitlist/<uuid:entry_id>")
class EntryById(MethodView):
    @bp.response(200, EntryOut)
    @authenticated
    def get(self, entry_id: uuid.UUID) -> Any:
        """One waitlist entry."""
        entry = service.find_entry(entry_id=entry_id, by=_who())
        db.session.commit()
        return entry

    @bp.response(204)
    @authenticated
    def delete(self, entry_id: uuid.UUID) -> None:
        """Take a course off the waitlist; an open offer to it is withdrawn."""
        who = _who()
        begin_write(db.session)
        service.remove_entry(entry_id=entry_id, by=who, now=clock.now())
        db.session.commit()


@bp.route("/waitlist/offers")
@bp.arguments(OffersQuery, location="query")
@bp.response(200, FreedSlotOut(many=True))
@authenticated
def freed_slots(query: dict[str, Any]) -> Any:
    """Freed times still to fill, with their ranked candidates and open offer."""
    found = offers.open_slots(by=_who(), now=clock.now(), **query)
    db.session.commit()
    return found


@bp.route("/waitlist/offers/<uuid:offer_id>/accept", methods=["POST"])
@bp.response(200)
@bp.doc(responses={200: APPOINTMENT}, **CONFLICT)
@authenticated
def accept_offer(offer_id: uuid.UUID) -> Answer:
    """Book the offered session for the patient (every booking rule checked again)."""
    who = _who()
    begin_write(db.session)
    appointment = offers.accept_offer(offer_id, by=who, now=clock.now())
    db.session.commit()
    return all_shown(who, [appointment])[0]


@bp.route("/waitlist/offers/<uuid:offer_id>/decline", methods=["POST"])
@bp.response(200, OfferOut)
@bp.doc(**CONFLICT)
@authenticated
def decline_offer(offer_id: uuid.UUID) -> Any:
    """The patient does not want the time; it passes to the next candidate."""
    who = _who()
    begin_write(db.session)
    offer = offers.decline_offer(offer_id, by=who, now=clock.now())
    db.session.commit()
    return offer
