"""A protocol version's life: a draft is opened (from a version or a template), edited
section by section, then published and never changed again.

Every write validates the whole definition (rules.py) and refuses with every problem
named by its field. A change to a published version answers 409 and points to a new
draft.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import structlog

from kapt_api.auth import audit
from kapt_api.auth.models import User
from kapt_api.db import db
from kapt_api.errors import Conflict, InvalidInput
from kapt_api.protocols import rules
from kapt_api.protocols.catalogue import template
from kapt_api.protocols.definition import Medication, ProtocolDefinition, Route, to_document
from kapt_api.protocols.models import Protocol, ProtocolVersion, VersionStatus
from kapt_api.protocols.reminder_policy import ReminderPolicy

log = structlog.get_logger("kapt.protocols")
BASE = "/api/v1"


def create_draft(
    *,
    protocol: Protocol,
    from_version_id: uuid.UUID | None,
    template_key: str | None,
    notes: str,
    by: User,
    now: datetime,
) -> ProtocolVersion:
    """A new draft version, copied from a version of this protocol (the latest by
    default) or from a built-in template."""
    if template_key is not None and from_version_id is not None:
        raise InvalidInput({"template": ["Give from_version_id or template, not both."]})
    draft = protocol.draft
    if draft is not None:
        raise Conflict(
            f"Version {draft.number} is still a draft: change it with "
            f"PATCH {BASE}/protocol-versions/{draft.id}, or publish it first.",
            code="draft_exists",
            headers={"Link": f'<{BASE}/protocol-versions/{draft.id}>; rel="edit"'},
        )
    definition, based_on = _draft_source(
        protocol, from_version_id=from_version_id, template_key=template_key
    )
    # Copied as it is, unchecked: a version published under older rules must still be
    # copyable so it can be corrected; every edit and the publishing check it whole.
    version = new_version(
        protocol,
        definition,
        by=by,
        now=now,
        template_key=template_key,
        number=max(v.number for v in protocol.versions) + 1,
        based_on=based_on,
        notes=notes,
    )
    db.session.flush()
    audit.record("create", "protocol_version", version.id, actor_id=by.id)
    return version


def _draft_source(
    protocol: Protocol, *, from_version_id: uuid.UUID | None, template_key: str | None
) -> tuple[ProtocolDefinition, ProtocolVersion | None]:
    """What a new draft copies: a template of the protocol's medication and route, or one
    of its versions (the latest by default), with that version."""
    if template_key is not None:
        found = template(key=template_key)
        if (found.medication.value, found.route.value) != (protocol.medication, protocol.route):
            raise InvalidInput(
                {"template": [f"This template is for {found.medication} ({found.route})."]}
            )
        return found.definition, None
    based_on = _source_version(protocol, from_version_id)
    return based_on.definition, based_on


def ensure_draft(version: ProtocolVersion) -> None:
    """Refuse, with 409 and a pointer to a new draft, any change to a published version."""
    if version.is_published:
        new_draft = f"{BASE}/protocols/{version.protocol_id}/versions"
        raise Conflict(
            f"Version {version.number} of {version.protocol.name} is published and cannot "
            f"change; create a new draft with POST {new_draft}.",
            code="version_published",
            headers={"Link": f'<{new_draft}>; rel="create-form"'},
        )


def update_draft(
    *, version: ProtocolVersion, changes: Mapping[str, Any], by: User, now: datetime
) -> ProtocolVersion:
    """Replace whole sections of a draft's definition (and its notes)."""
    ensure_draft(version)
    sections = {name: value for name, value in changes.items() if name != "notes"}
    definition = dataclasses.replace(version.definition, **sections)
    check_definition(
        definition,
        medication=Medication(version.protocol.medication),
        route=Route(version.protocol.route),
    )
    version.document = to_document(definition)
    if "notes" in changes:
        version.notes = changes["notes"]
    version.updated_at = now
    db.session.flush()
    audit.record("update", "protocol_version", version.id, actor_id=by.id)
    return version


def replace_reminder_policy(
    *, version: ProtocolVersion, reminder_policy: ReminderPolicy, by: User, now: datetime
) -> ProtocolVersion:
    """Replace a draft's reminder policy (problems named relative to the policy)."""
    try:
        return update_draft(
            version=version, changes={"reminder_policy": reminder_policy}, by=by, now=now
        )
    except InvalidInput as exc:
        prefix = "reminder_policy."
        errors = {k.removeprefix(prefix): v for k, v in exc.errors.items()}
        raise InvalidInput(errors) from None


def publish(*, version: ProtocolVersion, by: User | None, now: datetime) -> ProtocolVersion:
    """Freeze a draft: from now on courses may enrol on it and it never changes."""
    ensure_draft(version)
    check_definition(
        version.definition,
        medication=Medication(version.protocol.medication),
        route=Route(version.protocol.route),
    )
    # One UPDATE: once the row says published, the database refuses any further change
    # (so nothing here may autoflush half of it, such as loading the publisher's id).
    publisher = id_of(by)
    with db.session.no_autoflush:
        version.status = VersionStatus.PUBLISHED.value
        version.published_at = now
        version.published_by = publisher
        version.updated_at = now
    db.session.flush()
    audit.record("publish", "protocol_version", version.id, actor_id=id_of(by))
    log.info("protocol_version_published", version_id=str(version.id), number=version.number)
    return version


def check_definition(
    definition: ProtocolDefinition, *, medication: Medication, route: Route, prefix: str = ""
) -> None:
    problems = rules.definition_problems(definition, medication=medication, route=route)
    if problems:
        raise InvalidInput(rules.errors_by_field(problems, prefix))


def new_version(
    protocol: Protocol,
    definition: ProtocolDefinition,
    *,
    by: User | None,
    now: datetime,
    number: int,
    template_key: str | None = None,
    based_on: ProtocolVersion | None = None,
    notes: str = "",
) -> ProtocolVersion:
    version = ProtocolVersion(
        number=number,
        status=VersionStatus.DRAFT.value,
        document=to_document(definition),
        notes=notes,
        template_key=template_key,
        based_on_version_id=based_on.id if based_on else None,
        created_at=now,
        created_by=id_of(by),
        updated_at=now,
    )
    protocol.versions.append(version)
    return version


def _source_version(protocol: Protocol, version_id: uuid.UUID | None) -> ProtocolVersion:
    if version_id is None:
        return protocol.versions[-1]
    for version in protocol.versions:
        if version.id == version_id:
            return version
    raise InvalidInput({"from_version_id": ["Not a version of this protocol."]})


def id_of(user: User | None) -> uuid.UUID | None:
    return user.id if user is not None else None
