"""Protocol, protocol version and built-in template endpoints.

Admins write; every authenticated user reads the published versions of the protocols
their clinic may use. A draft answers 404 to anyone else.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import url_for
from flask.views import MethodView

from kapt_api import clock
from kapt_api.auth.identity import authenticated, current_user, requires
from kapt_api.auth.models import Role
from kapt_api.db import db
from kapt_api.idempotency import idempotent
from kapt_api.openapi import ListPage, QueryPage, documents
from kapt_api.openapi.pages import Blueprint
from kapt_api.protocols import service
from kapt_api.protocols.models import Protocol, ProtocolVersion
from kapt_api.protocols.reminder_policy import ReminderPolicy
from kapt_api.protocols.schemas import (
    NewVersionIn,
    ProtocolIn,
    ProtocolOut,
    ProtocolQuery,
    ProtocolVersionOut,
    ReminderPolicySchema,
    TemplateCopyIn,
    TemplateOut,
    VersionPatch,
)
from kapt_api.protocols.templates import TEMPLATES, ProtocolTemplate

bp = Blueprint(
    "protocols",
    __name__,
    url_prefix="/api/v1",
    description="Treatment protocols, their versions and the built-in templates",
)

Created = tuple[Any, dict[str, str]]


def _protocol_location(protocol: Protocol) -> dict[str, str]:
    return {"Location": url_for("protocols.ProtocolById", protocol_id=protocol.id)}


def _version_location(version: ProtocolVersion) -> dict[str, str]:
    return {"Location": url_for("protocols.ProtocolVersionById", version_id=version.id)}


@bp.route("/protocols")
class Protocols(MethodView):
    @bp.arguments(ProtocolQuery, location="query")
    @bp.response(200, ProtocolOut(many=True))
    @bp.paginate(QueryPage)
    @authenticated
    def get(self, query: dict[str, Any]) -> Any:
        """The protocols the caller's clinic may use, by name (admins: drafts too)."""
        return service.list_protocols(user=current_user(), **query)

    @idempotent
    @bp.arguments(ProtocolIn)
    @bp.response(201, ProtocolOut)
    @bp.doc(**documents([409]))
    @requires(Role.ADMIN)
    def post(self, data: dict[str, Any]) -> Created:
        """Create a protocol; its first version is a draft to edit and publish."""
        protocol = service.create_protocol(**data, by=current_user(), now=clock.now())
        db.session.commit()
        return protocol, _protocol_location(protocol)


@bp.route("/protocols/<uuid:protocol_id>")
class ProtocolById(MethodView):
    @bp.response(200, ProtocolOut)
    @authenticated
    def get(self, protocol_id: uuid.UUID) -> Protocol:
        """One protocol with the versions the caller may see."""
        return service.find_protocol(protocol_id=protocol_id, user=current_user())


@bp.route("/protocols/<uuid:protocol_id>/versions", methods=["POST"])
@idempotent
@bp.arguments(NewVersionIn)
@bp.response(201, ProtocolVersionOut)
@bp.doc(**documents([409]))
@requires(Role.ADMIN)
def create_version(data: dict[str, Any], protocol_id: uuid.UUID) -> Created:
    """Open a new draft, copied from the latest version, a named one or a template."""
    user = current_user()
    protocol = service.find_protocol(protocol_id=protocol_id, user=user)
    version = service.create_draft(
        protocol=protocol,
        from_version_id=data.get("from_version_id"),
        template_key=data.get("template"),
        notes=data["notes"],
        by=user,
        now=clock.now(),
    )
    db.session.commit()
    return version, _version_location(version)


@bp.route("/protocol-versions/<uuid:version_id>")
class ProtocolVersionById(MethodView):
    @bp.etag
    @bp.response(200, ProtocolVersionOut)
    @authenticated
    def get(self, version_id: uuid.UUID) -> ProtocolVersion:
        """One protocol version with its whole definition."""
        return service.find_version(version_id=version_id, user=current_user())

    @bp.etag
    @bp.arguments(VersionPatch)
    @bp.response(200, ProtocolVersionOut)
    @bp.doc(**documents([409]))
    @requires(Role.ADMIN)
    def patch(self, changes: dict[str, Any], version_id: uuid.UUID) -> ProtocolVersion:
        """Replace whole sections of a draft; a published version answers 409."""
        user = current_user()
        version = service.find_version(version_id=version_id, user=user)
        service.ensure_draft(version)
        bp.check_etag(version, ProtocolVersionOut)
        version = service.update_draft(version=version, changes=changes, by=user, now=clock.now())
        db.session.commit()
        return version


@bp.route("/protocol-versions/<uuid:version_id>/publish", methods=["POST"])
@bp.response(200, ProtocolVersionOut)
@bp.doc(**documents([409]))
@requires(Role.ADMIN)
def publish_version(version_id: uuid.UUID) -> ProtocolVersion:
    """Publish a draft: courses may enrol on it, and it never changes again."""
    user = current_user()
    version = service.find_version(version_id=version_id, user=user)
    version = service.publish(version=version, by=user, now=clock.now())
    db.session.commit()
    return version


@bp.route("/protocol-versions/<uuid:version_id>/reminder-policy")
class ReminderPolicyOfVersion(MethodView):
    @bp.etag
    @bp.response(200, ReminderPolicySchema)
    @authenticated
    def get(self, version_id: uuid.UUID) -> ReminderPolicy:
        """When and how patients are reminded of each kind of session of this version."""
        version = service.find_version(version_id=version_id, user=current_user())
        return version.definition.reminder_policy

    @bp.etag
    @bp.arguments(ReminderPolicySchema)
    @bp.response(200, ReminderPolicySchema)
    @bp.doc(**documents([409]))
    @requires(Role.ADMIN)
    def put(self, reminder_policy: ReminderPolicy, version_id: uuid.UUID) -> ReminderPolicy:
        """Replace a draft's reminder policy; a published version answers 409."""
        user = current_user()
        version = service.find_version(version_id=version_id, user=user)
        service.ensure_draft(version)
        bp.check_etag(version.definition.reminder_policy, ReminderPolicySchema)
        version = service.replace_reminder_policy(
            version=version, reminder_policy=reminder_policy, by=user, now=clock.now()
        )
        db.session.commit()
        return version.definition.reminder_policy


@bp.route("/protocol-templates")
@bp.response(200, TemplateOut(many=True))
@bp.paginate(ListPage)
@requires(Role.ADMIN)
def list_templates() -> list[ProtocolTemplate]:
    """The built-in templates: defaults a medical director approves before use."""
    return list(TEMPLATES.values())


@bp.route("/protocol-templates/<string:key>")
@bp.response(200, TemplateOut)
@requires(Role.ADMIN)
def get_template(key: str) -> ProtocolTemplate:
    """One built-in template with its definition and sources."""
    return service.template(key=key)


@bp.route("/protocol-templates/<string:key>/copy", methods=["POST"])
@idempotent
@bp.arguments(TemplateCopyIn)
@bp.response(201, ProtocolOut)
@bp.doc(**documents([409]))
@requires(Role.ADMIN)
def copy_template(data: dict[str, Any], key: str) -> Created:
    """Copy a built-in template into a new protocol whose first version is a draft."""
    protocol = service.copy_template(key=key, **data, by=current_user(), now=clock.now())
    db.session.commit()
    return protocol, _protocol_location(protocol)
