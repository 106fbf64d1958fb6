"""What goes over the wire for chair utilisation. Every figure is hours of dosing
chair time: a dosing session in a dosing room, with the buffer after it (the time the
room is held, as freed time is recorded), the part inside the range only, rounded to
the hundredth."""

from __future__ import annotations

import marshmallow as ma

from kapt_api.fields import AwareDateTime, Date, TimeZoneName
from kapt_api.scheduling.days.schemas import RoomBriefOut

BOOKED = (
    "Hours of dosing sessions held in dosing rooms whose status is booked, checked_in, "
    "in_progress or completed (not cancelled, not a no-show), buffer included"
)
FREED = (
    "Hours of dosing time freed by cancellations, moves and no-shows (the waitlist's "
    "freed slots, as recorded when freed: time already past then is not counted)"
)
BACKFILLED = (
    "Hours of the booked figure whose sessions were booked from an accepted waitlist "
    "offer (a part of booked)"
)


class UtilisationQuery(ma.Schema):
    from_ = Date(
        data_key="from",
        required=True,
        metadata={"description": "The first calendar day on the clinic's clocks (included)"},
    )
    to = Date(
        required=True,
        metadata={
            "description": "The last calendar day on the clinic's clocks (included); "
            "at most 366 days from `from`, counting both"
        },
    )


class _Hours(ma.Schema):
    booked_hours = ma.fields.Float(required=True, metadata={"description": BOOKED})
    freed_hours = ma.fields.Float(required=True, metadata={"description": FREED})
    backfilled_hours = ma.fields.Float(required=True, metadata={"description": BACKFILLED})


class RoomUtilisationOut(_Hours):
    """One dosing room's figures: each active dosing room, and any other with hours."""

    room = ma.fields.Nested(RoomBriefOut, required=True)


class UtilisationOut(_Hours):
    """A clinic's dosing chair hours over a range of its calendar days."""

    clinic_id = ma.fields.UUID(required=True)
    time_zone = TimeZoneName(required=True)
    from_ = Date(data_key="from", required=True, metadata={"description": "Included"})
    to = Date(required=True, metadata={"description": "Included"})
    starts_at = AwareDateTime(required=True, metadata={"description": "The range's first instant"})
    ends_at = AwareDateTime(
        required=True, metadata={"description": "The first instant after the range"}
    )
    rooms = ma.fields.List(ma.fields.Nested(RoomUtilisationOut), required=True)
