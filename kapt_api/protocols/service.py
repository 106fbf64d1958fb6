"""Protocol use cases: create, copy a template, open a draft, edit it, publish it.

Every write validates the whole definition (rules.py) and refuses with every problem
named by its field. A published version never changes: a change answers 409 and
points to a new draft. Finding what a user may see is catalogue.py's, a version's
drafts and publishing versions.py's; both are called through here.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, select

from kapt_api import clock
from kapt_api.auth import audit
from kapt_api.auth.models import User
from kapt_api.clinics.models import Clinic
from kapt_api.db import db
from kapt_api.errors import Conflict, InvalidInput
from kapt_api.protocols import rules
from kapt_api.protocols.catalogue import (
    enrollable_version,
    find_protocol,
    find_version,
    list_protocols,
    template,
)
from kapt_api.protocols.definition import Medication, ProtocolDefinition, Route
from kapt_api.protocols.models import Protocol
from kapt_api.protocols.templates import TEMPLATES
from kapt_api.protocols.versions import (
    check_definition,
    create_draft,
    ensure_draft,
    id_of,
    new_version,
    publish,
    replace_reminder_policy,
    update_draft,
)

__all__ = [
    "copy_template",
    "create_draft",
    "create_protocol",
    "enrollable_version",
    "ensure_draft",
    "find_protocol",
    "find_version",
    "install_builtin_templates",
    "list_protocols",
    "publish",
    "replace_reminder_policy",
    "template",
    "update_draft",
]


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
    check_definition(definition, medication=medication, route=route, prefix="definition")
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
        created_by=id_of(by),
        created_at=now,
        updated_at=now,
    )
    db.session.add(protocol)
    version = new_version(protocol, definition, by=by, now=now, template_key=template_key, number=1)
    db.session.flush()
    audit.record("create", "protocol", protocol.id, actor_id=id_of(by))
    audit.record("create", "protocol_version", version.id, actor_id=id_of(by))
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


def _name_taken(name: str) -> bool:
    stmt = select(Protocol.id).where(func.lower(Protocol.name) == name.lower()).limit(1)
    return db.session.scalar(stmt) is not None


def _ensure_name_free(name: str) -> None:
    if _name_taken(name):
        raise Conflict("A protocol with this name exists already.", code="protocol_name_taken")


def _free_copy_name(name: str) -> str:
    candidates = [f"{name} (copy)", *(f"{name} (copy {n})" for n in range(2, 100))]
    return next((c for c in candidates if not _name_taken(c)), f"{name} ({uuid.uuid4().hex[:8]})")
