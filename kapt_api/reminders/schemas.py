"""What goes over the wire about the outbox."""

from __future__ import annotations

import re
from typing import Any

import marshmallow as ma

from kapt_api.fields import AwareDateTime, Choice, Text, every_field_sent
from kapt_api.reminders.events import EVENTS
from kapt_api.reminders.models import OutboxChannel, Status


class ReminderQuery(ma.Schema):
    appointment_id = ma.fields.UUID(required=True)


@every_field_sent
class ReminderOut(ma.Schema):
    id = ma.fields.UUID()
    appointment_id = ma.fields.UUID(allow_none=True)
    channel = ma.fields.String(validate=ma.validate.OneOf([c.value for c in OutboxChannel]))
    offset_hours = ma.fields.Integer(allow_none=True)
    due_at = AwareDateTime()
    status = ma.fields.String(validate=ma.validate.OneOf([s.value for s in Status]))
    reason = ma.fields.String(
        allow_none=True,
        metadata={
            "description": "Why it was skipped, cancelled, expired or failed; sms_daily_cap "
            "on a text merged with another of the same day, and on the text carrying it."
        },
    )
    merged_into = ma.fields.UUID(
        allow_none=True,
        metadata={"description": "The reminder whose text carries this one (status merged)."},
    )
    attempts = ma.fields.Integer()
    next_attempt_at = AwareDateTime()
    last_error = ma.fields.String(allow_none=True)
    sent_at = AwareDateTime(allow_none=True)


# An http(s) URL with a host, without spaces or control characters; the OpenAPI
# document publishes this same pattern, so what it calls valid is accepted.
_URL_CHAR = r"[^\s\x00-\x1f\x7f-\x9f]"
_URL = re.compile(rf"https?://[^\s\x00-\x1f\x7f-\x9f/?#@]+(?:[/?#]{_URL_CHAR}*)?")


class WebhookUrl(Text):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            max_length=2000, min_length=8, strip=False, pattern=f"^{_URL.pattern}$", **kwargs
        )

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if not _URL.fullmatch(text):
            raise ma.ValidationError("Use an http:// or https:// URL.")
        return text


class WebhookSubscriptionIn(ma.Schema):
    clinic_id = ma.fields.UUID(required=True)
    url = WebhookUrl(required=True)
    events = ma.fields.List(
        Choice(EVENTS),
        required=True,
        validate=ma.validate.Length(min=1, max=len(EVENTS)),
    )


@every_field_sent
class WebhookSubscriptionOut(ma.Schema):
    id = ma.fields.UUID()
    clinic_id = ma.fields.UUID()
    url = ma.fields.String()
    events = ma.fields.List(ma.fields.String(validate=ma.validate.OneOf(EVENTS)))
    created_at = AwareDateTime()


@every_field_sent
class WebhookSubscriptionCreated(WebhookSubscriptionOut):
    secret = ma.fields.String(
        metadata={"description": "Signs every post (HMAC-SHA256); shown only in this answer."}
    )


class SmsInboundIn(ma.Schema):
    sender = Text(
        required=True,
        min_length=1,
        max_length=32,
        metadata={"description": "The sender's phone number, E.164 (+15555550100)"},
    )
    # Read for C or X and never stored: what else a patient writes goes nowhere.
    text = Text(
        required=True,
        max_length=1600,
        metadata={"description": "The patient's reply: C confirms, X cancels the next session"},
    )


class SmsReplyOut(ma.Schema):
    action = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(("confirmed", "cancelled", "refused", "not_understood", "none")),
        metadata={"description": "What the reply did"},
    )
    reply = ma.fields.String(
        required=True,
        metadata={"description": "The text the gateway should send back (no health details)"},
    )
