"""Who may see and change clinics, rooms and staff.

Admins configure every clinic of the group. Everyone else works at one clinic
(their staff record) and sees only that clinic's places and people; another
clinic's objects answer 404, as if they did not exist.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Select, bindparam, select

from kapt_api.auth.models import Role, User
from kapt_api.clinics.models import StaffMember
from kapt_api.db import db

T = TypeVar("T", bound=tuple[Any, ...])


@dataclass(frozen=True)
class StaffPost:
    """Where a user works: their staff record's id, clinic and whether it is active."""

    id: uuid.UUID
    clinic_id: uuid.UUID
    active: bool


# Built once: only the user changes.
_STAFF_POST = select(StaffMember.id, StaffMember.clinic_id, StaffMember.active).where(
    StaffMember.user_id == bindparam("user_id")
)


def staff_post(user: User) -> StaffPost | None:
    """The caller's own staff record, if they have one, in one small query: every
    request asks it, and a whole StaffMember would bring its working hours along."""
    row = db.session.execute(_STAFF_POST, {"user_id": user.id}).first()
    return StaffPost(row.id, row.clinic_id, row.active) if row is not None else None


def clinic_scope(user: User, post: StaffPost | None = None) -> frozenset[uuid.UUID] | None:
    """The clinics a user works in; None means every clinic (admins). `post`, when the
    caller already has it, saves looking it up again."""
    if Role.ADMIN in user.roles:
        return None
    staff = post or staff_post(user)
    if staff is None or not staff.active:
        return frozenset()
    return frozenset({staff.clinic_id})


def can_see_clinic(user: User, clinic_id: uuid.UUID) -> bool:
    scope = clinic_scope(user)
    return scope is None or clinic_id in scope


def can_manage_clinics(user: User) -> bool:
    """Only admins create or change clinics, rooms and staff."""
    return Role.ADMIN in user.roles


def within_scope(stmt: Select[T], clinic_column: Any, user: User) -> Select[T]:
    """`stmt` narrowed to the rows of the clinics `user` may see."""
    scope = clinic_scope(user)
    return stmt if scope is None else stmt.where(clinic_column.in_(scope))
