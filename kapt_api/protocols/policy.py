"""Who may see and change protocols.

Only admins write (API.md: "only admins change protocols"). Every authenticated user
reads the published versions of the protocols their clinic may use: group-wide ones
and their own clinic's. Drafts, and protocols with nothing published, are the admins'
alone; for anyone else they answer 404, as if they did not exist.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, exists, or_, select, true

from kapt_api.auth.models import Role, User
from kapt_api.clinics.policy import clinic_scope
from kapt_api.protocols.models import Protocol, ProtocolVersion, VersionStatus


def can_manage(user: User) -> bool:
    return Role.ADMIN in user.roles


def can_see_protocol(user: User, protocol: Protocol) -> bool:
    if can_manage(user):
        return True
    scope = clinic_scope(user)
    in_scope = protocol.clinic_id is None or scope is None or protocol.clinic_id in scope
    return in_scope and bool(protocol.published_versions)


def can_see_version(user: User, version: ProtocolVersion) -> bool:
    if can_manage(user):
        return True
    return version.is_published and can_see_protocol(user, version.protocol)


def visible_protocols(user: User) -> ColumnElement[Any]:
    """A filter on Protocol: the protocols this user may see."""
    if can_manage(user):
        return true()
    scope = clinic_scope(user)
    published = exists(
        select(ProtocolVersion.id).where(
            ProtocolVersion.protocol_id == Protocol.id,
            ProtocolVersion.status == VersionStatus.PUBLISHED.value,
        )
    )
    if scope is None:
        return published
    place = or_(Protocol.clinic_id.is_(None), Protocol.clinic_id.in_(scope))
    return and_(place, published)
