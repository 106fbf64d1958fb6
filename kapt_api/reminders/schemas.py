"""What goes over the wire about the outbox."""

from __future__ import annotations

import marshmallow as ma

from kapt_api.fields import AwareDateTime
from kapt_api.reminders.events import EVENTS


class ReminderQuery(ma.Schema):
    appointment_id = ma.fields.UUID(required=True)


class ReminderOut(ma.Schema):
    id = ma.fields.UUID()
    appointment_id = ma.fields.UUID(allow_none=True)
    channel = ma.fields.String()
    offset_hours = ma.fields.Integer(allow_none=True)
    due_at = AwareDateTime()
    status = ma.fields.String(
        metadata={"description": "pending, sent, failed, expired, cancelled or skipped"}
    )
    reason = ma.fields.String(
        allow_none=True,
        metadata={"description": "Why it was skipped, cancelled, expired or failed."},
    )
    attempts = ma.fields.Integer()
    next_attempt_at = AwareDateTime()
    last_error = ma.fields.String(allow_none=True)
    sent_at = AwareDateTime(allow_none=True)


class WebhookSubscriptionIn(ma.Schema):
    clinic_id = ma.fields.UUID(required=True)
    url = ma.fields.Url(
        required=True,
        schemes={"http", "https"},
        require_tld=False,
        validate=ma.validate.Length(max=2000),
    )
    events = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(EVENTS)),
        required=True,
        validate=ma.validate.Length(min=1, max=len(EVENTS)),
    )


class WebhookSubscriptionOut(ma.Schema):
    id = ma.fields.UUID()
    clinic_id = ma.fields.UUID()
    url = ma.fields.String()
    events = ma.fields.List(ma.fields.String())
    created_at = AwareDateTime()


class WebhookSubscriptionCreated(WebhookSubscriptionOut):
    secret = ma.fields.String(
        metadata={"description": "Signs every post (HMAC-SHA256); shown only in this answer."}
    )
