"""What goes over the wire for protocols, versions and templates (the definition's
own schemas are in definition_schemas.py)."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import g, has_request_context

from kapt_api.fields import AwareDateTime, Choice, Text
from kapt_api.protocols import policy
from kapt_api.protocols.definition import Medication, Route
from kapt_api.protocols.definition_fields import enum_field, stored_value
from kapt_api.protocols.definition_schemas import (
    DefinitionSchema,
    DefinitionSections,
    ReminderPolicySchema,
)
from kapt_api.protocols.models import VersionStatus
from kapt_api.protocols.templates import TEMPLATES

__all__ = ["DefinitionSchema", "ReminderPolicySchema"]


class ProtocolIn(ma.Schema):
    name = Text(min_length=1, max_length=200, required=True)
    description = Text(max_length=2000, load_default="")
    medication = enum_field(Medication, required=True)
    route = enum_field(Route, required=True)
    clinic_id = ma.fields.UUID(
        allow_none=True,
        load_default=None,
        metadata={"description": "Only this clinic may use it; omit for every clinic"},
    )
    definition = ma.fields.Nested(DefinitionSchema, required=True)


class ProtocolQuery(ma.Schema):
    medication = enum_field(Medication)
    route = enum_field(Route)
    clinic_id = ma.fields.UUID(metadata={"description": "This clinic's and group-wide ones"})


class TemplateCopyIn(ma.Schema):
    name = Text(
        min_length=1,
        max_length=200,
        load_default=None,
        metadata={"description": 'Defaults to the template\'s name with "(copy)"'},
    )
    clinic_id = ma.fields.UUID(allow_none=True, load_default=None)


class NewVersionIn(ma.Schema):
    from_version_id = ma.fields.UUID(
        metadata={
            "description": "A version of this protocol to copy; defaults to the latest. "
            "Give this or template, not both."
        }
    )
    template = Choice(
        sorted(TEMPLATES),
        metadata={"description": "Start from a built-in template instead"},
    )
    notes = Text(max_length=2000, load_default="")


class VersionPatch(DefinitionSections):
    notes = Text(max_length=2000)


class VersionSummaryOut(ma.Schema):
    id = ma.fields.UUID(required=True)
    number = ma.fields.Integer(required=True)
    status = stored_value(VersionStatus)
    created_at = AwareDateTime(required=True)
    published_at = AwareDateTime(required=True, allow_none=True)


class VisibleVersions(ma.fields.Nested):
    """The versions the caller may see: drafts only for admins."""

    def get_value(
        self, obj: Any, attr: str, accessor: Any = None, default: Any = ma.missing
    ) -> Any:
        versions = super().get_value(obj, attr, accessor, default)
        user = g.get("_kapt_user") if has_request_context() else None
        return [
            v
            for v in versions or []
            if (policy.can_see_version(user, v) if user is not None else v.is_published)
        ]


class ProtocolRef(ma.Schema):
    id = ma.fields.UUID(required=True)
    name = ma.fields.String(required=True)
    medication = stored_value(Medication)
    route = stored_value(Route)
    clinic_id = ma.fields.UUID(required=True, allow_none=True)


class ProtocolOut(ProtocolRef):
    description = ma.fields.String(required=True)
    template_key = ma.fields.String(required=True, allow_none=True)
    created_at = AwareDateTime(required=True)
    current_version_id = ma.fields.UUID(
        required=True,
        allow_none=True,
        metadata={"description": "The latest published version: new courses enrol on it"},
    )
    versions = VisibleVersions(VersionSummaryOut, many=True, required=True)


class ProtocolVersionOut(ma.Schema):
    id = ma.fields.UUID(required=True)
    protocol = ma.fields.Nested(ProtocolRef, required=True)
    number = ma.fields.Integer(required=True)
    status = stored_value(VersionStatus)
    notes = ma.fields.String(required=True)
    based_on_version_id = ma.fields.UUID(required=True, allow_none=True)
    template_key = ma.fields.String(required=True, allow_none=True)
    created_at = AwareDateTime(required=True)
    created_by = ma.fields.UUID(required=True, allow_none=True)
    updated_at = AwareDateTime(required=True)
    published_at = AwareDateTime(required=True, allow_none=True)
    published_by = ma.fields.UUID(required=True, allow_none=True)
    definition = ma.fields.Nested(DefinitionSchema, required=True)


class TemplateOut(ma.Schema):
    key = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    description = ma.fields.String(required=True)
    medication = enum_field(Medication, required=True)
    route = enum_field(Route, required=True)
    definition = ma.fields.Nested(DefinitionSchema, required=True)
