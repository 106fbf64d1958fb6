"""Protocol use cases: create, copy a template, open a draft, edit it, publish it.

Every write validates the whole definition (rules.py) and refuses with every problem
named by its field. A published version never changes: a change answers 409 and
points to a new draft.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import Select, func, or_, select

from kapt_api import clock
from kapt_api.auth import audit
from kapt_api.auth.models import User
from kapt_api.clinics.models import Clinic
from kapt_api.db import db
from kapt_api.errors import Conflict, InvalidInput, NotFound, RuleRefused, Violation
from kapt_api.protocols import policy, rules
from kapt_api.protocols.definition import Medication, ProtocolDefinition, Route, to_document
from kapt_api.protocols.models import Protocol, ProtocolVersion, VersionStatus
from kapt_api.protocols.reminder_policy import ReminderPolicy
from kapt_api.protocols.templates import TEMPLATES, ProtocolTemplate, find_template

log = structlog.get_logger("kapt.protocols")
BASE = "/api/v1"


def list_protocols(
    *,
    user: User,
    medication: Medication | None = None,
    route: Route | None = None,
    clinic_id: uuid.UUID | None = None,
) -> Select[tuple[Protocol]]:
    """The protocols the user may see, by name."""
    stmt = select(Protocol).where(policy.visible_protocols(user))
    if medication is not None:
        stmt = stmt.where(Protocol.medication == medication.value)
    if route is not None:
        stmt = stmt.where(Protocol.route == route.value)
    if clinic_id is not None:
        stmt = stmt.where(or_(Protocol.clinic_id.is_(None), Protocol.clinic_id == clinic_id))
    return stmt.order_by(Protocol.name, Protocol.id)


def find_protocol(*, protocol_id: uuid.UUID, user: User) -> Protocol:
    """One protocol, or 404 when it does not exist or is not the user's to see."""
    protocol = db.session.get(Protocol, protocol_id)
    if protocol is None or not policy.can_see_protocol(user, protocol):
        raise NotFound("No such protocol.")
    return protocol


def find_version(*, version_id: uuid.UUID, user: User) -> ProtocolVersion:
    """One version, or 404 (drafts are the admins' alone)."""
    version = db.session.get(ProtocolVersion, version_id)
    if version is None or not policy.can_see_version(user, version):
        raise NotFound("No such protocol version.")
    return version


def enrollable_version(*, version_id: uuid.UUID, clinic_id: uuid.UUID) -> ProtocolVersion:
    """A published version a patient of this clinic may be enrolled on."""
    version = db.session.get(ProtocolVersion, version_id)
    place = version.protocol.clinic_id if version is not None else None
    if version is None or place not in (None, clinic_id):
        raise NotFound("No such protocol version.")
    if not version.is_published:
        raise RuleRefused(
            [
                Violation(
                    "protocol_version_not_published",
                    "Patients are enrolled on a published protocol version only.",
                )
            ]
        )
    return version


def template(*, key: str) -> ProtocolTemplate:
    """A built-in template, or 404."""
    found = find_template(key)
    if found is None:
        raise NotFound("No such protocol template.")
    return found


def create_protocol(
    *,
    name: str,
    description: str,
    medication: Medication,
    route: Route,
    clinic_id: uuid.UUID | None,
    definition: ProtocolDefinition,
    by: User | None,
    now: datetime,
    template_key: str | None = None,
) -> Protocol:
    """A new protocol with its first version, a draft."""
    problems = rules.route_problems(medication=medication, route=route)
    if problems:
        raise InvalidInput(rules.errors_by_field(problems))
    _check(definition, medication=medication, route=route, prefix="definition")
    _ensure_name_free(name)
    if clinic_id is not None and db.session.get(Clinic, clinic_id) is None:
        raise InvalidInput({"clinic_id": ["No clinic with this id."]})
    protocol = Protocol(
        name=name,
        description=description,
        medication=medication.value,
        route=route.value,
        clinic_id=clinic_id,
        template_key=template_key,
        created_by=_id(by),
        created_at=now,
        updated_at=now,
    )
    db.session.add(protocol)
    version = _new_version(
        protocol, definition, by=by, now=now, template_key=template_key, number=1
    )
    db.session.flush()
    audit.record("create", "protocol", protocol.id, actor_id=_id(by))
    audit.record("create", "protocol_version", version.id, actor_id=_id(by))
    return protocol


def copy_template(
    *, key: str, name: str | None, clinic_id: uuid.UUID | None, by: User | None, now: datetime
) -> Protocol:
    """A new protocol whose first draft is a copy of a built-in template."""
    found = template(key=key)
    return create_protocol(
        name=name or _free_copy_name(found.name),
        description=found.description,
        medication=found.medication,
        route=found.route,
        clinic_id=clinic_id,
        definition=found.definition,
        by=by,
        now=now,
        template_key=found.key,
    )


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
    based_on: ProtocolVersion | None = None
    if template_key is not None:
        found = template(key=template_key)
        if (found.medication.value, found.route.value) != (protocol.medication, protocol.route):
            raise InvalidInput(
                {"template": [f"This template is for {found.medication} ({found.route})."]}
            )
        definition = found.definition
    else:
        based_on = _source_version(protocol, from_version_id)
        definition = based_on.definition
    # Copied as it is, unchecked: a version published under older rules must still be
    # copyable so it can be corrected; every edit and the publishing check it whole.
    version = _new_version(
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
    _check(
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
    _check(
        version.definition,
        medication=Medication(version.protocol.medication),
        route=Route(version.protocol.route),
    )
    # One UPDATE: once the row says published, the database refuses any further change
    # (so nothing here may autoflush half of it, such as loading the publisher's id).
    publisher = _id(by)
    with db.session.no_autoflush:
        version.status = VersionStatus.PUBLISHED.value
        version.published_at = now
        version.published_by = publisher
        version.updated_at = now
    db.session.flush()
    audit.record("publish", "protocol_version", version.id, actor_id=_id(by))
    log.info("protocol_version_published", version_id=str(version.id), number=version.number)
    return version


def install_builtin_templates(*, by: User | None, now: datetime | None = None) -> list[Protocol]:
    """Create and publish each built-in template not installed yet (matched by name);
    returns the four protocols, installed now or before."""
    when = now or clock.now()
    installed = []
    for found in TEMPLATES.values():
        protocol = db.session.scalar(select(Protocol).where(Protocol.name == found.name))
        if protocol is None:
            protocol = copy_template(
                key=found.key, name=found.name, clinic_id=None, by=by, now=when
            )
            publish(version=protocol.versions[0], by=by, now=when)
        installed.append(protocol)
    return installed


def _check(
    definition: ProtocolDefinition, *, medication: Medication, route: Route, prefix: str = ""
) -> None:
    problems = rules.definition_problems(definition, medication=medication, route=route)
    if problems:
        raise InvalidInput(rules.errors_by_field(problems, prefix))


def _new_version(
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
        created_by=_id(by),
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


def _name_taken(name: str) -> bool:
    stmt = select(Protocol.id).where(func.lower(Protocol.name) == name.lower()).limit(1)
    return db.session.scalar(stmt) is not None


def _ensure_name_free(name: str) -> None:
    if _name_taken(name):
        raise Conflict("A protocol with this name exists already.", code="protocol_name_taken")


def _free_copy_name(name: str) -> str:
    candidates = [f"{name} (copy)", *(f"{name} (copy {n})" for n in range(2, 100))]
    return next((c for c in candidates if not _name_taken(c)), f"{name} ({uuid.uuid4().hex[:8]})")


def _id(user: User | None) -> uuid.UUID | None:
    return user.id if user is not None else None
