"""What goes over the wire when a calendar feed is issued."""

from __future__ import annotations

import marshmallow as ma

from kapt_api.fields import AwareDateTime


class CalendarFeedOut(ma.Schema):
    url = ma.fields.String(
        required=True,
        metadata={"description": "Subscribe to it in a calendar app; shown only this once"},
    )
    created_at = AwareDateTime(required=True)
