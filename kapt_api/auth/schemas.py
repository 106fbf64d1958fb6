"""What goes over the wire for logins, tokens and the audit log."""

from __future__ import annotations

import marshmallow as ma

from kapt_api.auth.models import Role
from kapt_api.fields import AwareDateTime, Choice, Email, FreeTextOut, Password, Text


class LoginIn(ma.Schema):
    email = Email(required=True)
    password = Password(min_length=1, max_length=1024, required=True)


class UserOut(ma.Schema):
    id = ma.fields.UUID(required=True)
    email = ma.fields.String(required=True)
    full_name = ma.fields.String(required=True)
    roles = ma.fields.List(
        ma.fields.Enum(Role, by_value=True), required=True, attribute="sorted_roles"
    )


class TokenOut(ma.Schema):
    access_token = ma.fields.String(required=True)
    token_type = ma.fields.Constant(
        "Bearer", required=True, metadata={"type": "string", "enum": ["Bearer"]}
    )
    expires_in = ma.fields.Integer(required=True, metadata={"description": "Seconds"})
    expires_at = AwareDateTime(required=True)
    refresh_token = ma.fields.String(allow_none=True)
    refresh_expires_at = AwareDateTime(allow_none=True)
    user = ma.fields.Nested(UserOut, required=True)


class AuditQuery(ma.Schema):
    actor_id = ma.fields.UUID()
    patient_id = ma.fields.UUID(
        metadata={"description": "Events concerning this patient, alone or among others"}
    )
    resource_type = Text(max_length=40)
    action = Text(max_length=40)
    outcome = Choice(["success", "denied", "refused", "failed"])
    occurred_from = AwareDateTime(data_key="from")
    occurred_to = AwareDateTime(data_key="to")


class AuditEventOut(ma.Schema):
    id = ma.fields.UUID(required=True)
    occurred_at = AwareDateTime(required=True)
    actor_id = ma.fields.UUID(allow_none=True)
    action = ma.fields.String(required=True)
    resource_type = ma.fields.String(required=True)
    resource_id = ma.fields.String(allow_none=True)
    patient_id = ma.fields.UUID(
        allow_none=True,
        metadata={
            "description": "The one patient the event concerns; null when it showed "
            "several (a day schedule), listed in patient_ids"
        },
    )
    patient_ids = ma.fields.List(
        ma.fields.UUID(),
        required=True,
        metadata={"description": "Every patient the event concerns (none, one or several)"},
    )
    request_id = ma.fields.String(allow_none=True)
    outcome = ma.fields.String(required=True)
    reason = FreeTextOut(
        allow_none=True,
        metadata={"description": "The reason given with a change (administrators only)"},
    )
