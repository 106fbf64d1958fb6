"""Finding protocols, versions and templates: what a user may see, and what a patient
of a clinic may be enrolled on."""

from __future__ import annotations

import uuid

from sqlalchemy import Select, or_, select

from kapt_api.auth.models import User
from kapt_api.db import db
from kapt_api.errors import NotFound, RuleRefused, Violation, register_rules
from kapt_api.protocols import policy
from kapt_api.protocols.definition import Medication, Route
from kapt_api.protocols.models import Protocol, ProtocolVersion
from kapt_api.protocols.templates import ProtocolTemplate, find_template

# A patient is enrolled only on a published version.
register_rules("protocol_version_not_published")


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
