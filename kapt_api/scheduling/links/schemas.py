"""What goes over the wire for a patient link: what it is for and where things stand.
Nothing clinical and not the patient's name: the clinic, the date, time and place."""

from __future__ import annotations

import marshmallow as ma

from kapt_api.fields import AwareDateTime

ACTIONS = ("confirm", "escort", "cancel", "accept_offer")


class PatientLinkOut(ma.Schema):
    purpose = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(("appointment", "offer")),
        metadata={"description": "What the link is for: one appointment, or one offer"},
    )
    clinic_name = ma.fields.String(required=True)
    clinic_phone = ma.fields.String(required=True)
    date = ma.fields.String(
        required=True, metadata={"description": "The day, as the clinic's clocks read it"}
    )
    time = ma.fields.String(required=True, metadata={"description": "e.g. 9:30 AM"})
    place = ma.fields.String(required=True)
    status = ma.fields.String(
        required=True,
        metadata={
            "description": "The appointment's status (e.g. booked), or for an offer's link "
            "the offer's (offered, accepted)"
        },
    )
    confirmed = ma.fields.Boolean(required=True)
    escort_needed = ma.fields.Boolean(
        required=True, metadata={"description": "Whether someone must take the patient home"}
    )
    escort_confirmed = ma.fields.Boolean(required=True)
    late_cancellation = ma.fields.Boolean(required=True)
    cancel_would_be_late = ma.fields.Boolean(
        required=True,
        metadata={"description": "Cancelling now falls inside the protocol's notice window"},
    )
    actions = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(ACTIONS)),
        required=True,
        metadata={"description": "What the link may still do"},
    )
    offer_expires_at = AwareDateTime(
        allow_none=True,
        metadata={"description": "An offer's link: when the offer passes to the next patient"},
    )
    offer_passes_on = ma.fields.String(
        allow_none=True,
        metadata={
            "description": "That time as the clinic's clocks read it, e.g. 9:30 AM on "
            "Monday, December 7"
        },
    )
