"""Clinics, rooms and staff use cases: find, list, create, change. They flush and never commit.

An object of a clinic the caller does not work in is answered 404, as if it did not
exist (clinics/policy.py). Every change is audited with who made it. Opening and
working hours and time off are in availability.py, and importable from here too.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, func, select

from kapt_api import clock
from kapt_api.auth import audit
from kapt_api.auth import service as auth_service
from kapt_api.auth.models import Role, User, UserRole
from kapt_api.clinics import policy
from kapt_api.clinics.availability import (
    add_time_off,
    opening_pattern,
    replace_working_hours,
    time_off_of,
    weekly_intervals,
    withdraw_time_off,
    working_pattern,
)
from kapt_api.clinics.models import Clinic, OpeningHours, Room, StaffMember
from kapt_api.db import db
from kapt_api.errors import Conflict, InvalidInput, NotFound

__all__ = [
    "CLINIC_COLUMNS",
    "ROOM_COLUMNS",
    "STAFF_COLUMNS",
    "add_time_off",
    "clinics_for",
    "create_clinic",
    "create_room",
    "create_staff",
    "find_clinic",
    "find_room",
    "find_staff",
    "opening_pattern",
    "replace_working_hours",
    "rooms_of",
    "staff_directory",
    "time_off_of",
    "update_clinic",
    "update_room",
    "update_staff",
    "withdraw_time_off",
    "working_pattern",
]

CLINIC_COLUMNS = (
    "name",
    "time_zone",
    "phone",
    "address",
    "waitlist_offer_minutes",
    "waitlist_offers_enabled",
    "check_in_opens_minutes",
)
ROOM_COLUMNS = ("name", "kind", "active")
STAFF_COLUMNS = ("credentials", "phone")
M = TypeVar("M", Room, StaffMember)


def _in_scope(model: type[M], object_id: uuid.UUID, by: User, noun: str) -> M:
    """A room or staff member of a clinic `by` may see; anything else is 404."""
    found = db.session.get(model, object_id)
    if found is None or not policy.can_see_clinic(by, found.clinic_id):
        raise NotFound(f"No {noun} with this id.")
    return found


def _set_fields(target: Any, changes: Mapping[str, Any], columns: Sequence[str]) -> None:
    for name in columns:
        if name in changes:
            setattr(target, name, changes[name])


# --- clinics --------------------------------------------------------------------------------


def find_clinic(*, clinic_id: uuid.UUID, by: User) -> Clinic:
    """The clinic with this id if `by` works there or is an admin (else 404)."""
    clinic = db.session.get(Clinic, clinic_id)
    if clinic is None or not policy.can_see_clinic(by, clinic.id):
        raise NotFound("No clinic with this id.")
    return clinic


def clinics_for(*, by: User) -> Select[tuple[Clinic]]:
    """The clinics `by` may see, by name."""
    stmt = select(Clinic).order_by(func.lower(Clinic.name), Clinic.id)
    return policy.within_scope(stmt, Clinic.id, by)


def _opening_hours(hours: Sequence[Mapping[str, Any]]) -> list[OpeningHours]:
    intervals = weekly_intervals(hours, field="opening_hours", start="opens", end="closes")
    return [OpeningHours(weekday=i.weekday, opens=i.start, closes=i.end) for i in intervals]


def create_clinic(*, data: Mapping[str, Any], by: User) -> Clinic:
    """Open a clinic with its time zone and weekly opening hours."""
    clinic = Clinic()
    _set_fields(clinic, data, CLINIC_COLUMNS)
    clinic.opening_hours = _opening_hours(data.get("opening_hours", []))
    db.session.add(clinic)
    db.session.flush()
    audit.record("create", "clinic", clinic.id, actor_id=by.id)
    return clinic


def update_clinic(*, clinic: Clinic, changes: Mapping[str, Any], by: User) -> Clinic:
    """Change a clinic; opening hours, when sent, replace the whole week."""
    _set_fields(clinic, changes, CLINIC_COLUMNS)
    if "opening_hours" in changes:
        clinic.opening_hours = _opening_hours(changes["opening_hours"])
    db.session.flush()
    audit.record("update", "clinic", clinic.id, actor_id=by.id)
    return clinic


# --- rooms ----------------------------------------------------------------------------------


def find_room(*, room_id: uuid.UUID, by: User) -> Room:
    """The room with this id if `by` may see its clinic (else 404)."""
    return _in_scope(Room, room_id, by, "room")


def rooms_of(
    *, clinic: Clinic, kind: str | None = None, active: bool | None = None
) -> Select[tuple[Room]]:
    """A clinic's rooms, by name, optionally only of one kind or activity."""
    stmt = select(Room).where(Room.clinic_id == clinic.id)
    if kind is not None:
        stmt = stmt.where(Room.kind == kind)
    if active is not None:
        stmt = stmt.where(Room.active == active)
    return stmt.order_by(func.lower(Room.name), Room.id)


def _check_room_name(clinic_id: uuid.UUID, name: str, *, room_id: uuid.UUID | None) -> None:
    # Case-insensitive: "Dosing 1" and "dosing 1" on one schedule would confuse the front desk.
    stmt = select(Room.id).where(Room.clinic_id == clinic_id, func.lower(Room.name) == name.lower())
    if room_id is not None:
        stmt = stmt.where(Room.id != room_id)
    if db.session.scalar(stmt.limit(1)) is not None:
        message = "This clinic already has a room with this name."
        raise Conflict(message, code="room_name_taken", errors={"name": [message]})


def create_room(*, clinic: Clinic, data: Mapping[str, Any], by: User) -> Room:
    """Add a room to a clinic; its name must be new there."""
    _check_room_name(clinic.id, data["name"], room_id=None)
    room = Room(clinic_id=clinic.id, active=data.get("active", True))
    _set_fields(room, data, ROOM_COLUMNS)
    db.session.add(room)
    db.session.flush()
    audit.record("create", "room", room.id, actor_id=by.id)
    return room


def update_room(*, room: Room, changes: Mapping[str, Any], by: User) -> Room:
    """Rename a room, change its kind, or take it out of (or back into) use."""
    if "name" in changes:
        _check_room_name(room.clinic_id, changes["name"], room_id=room.id)
    _set_fields(room, changes, ROOM_COLUMNS)
    db.session.flush()
    audit.record("update", "room", room.id, actor_id=by.id)
    return room


# --- staff ----------------------------------------------------------------------------------


def find_staff(*, staff_id: uuid.UUID, by: User) -> StaffMember:
    """The staff member with this id if `by` may see their clinic (else 404)."""
    return _in_scope(StaffMember, staff_id, by, "staff member")


def staff_directory(
    *,
    by: User,
    clinic_id: uuid.UUID | None = None,
    role: Role | None = None,
    active: bool | None = None,
) -> Select[tuple[StaffMember]]:
    """The staff `by` may see that match the filters, by name."""
    stmt = select(StaffMember).join(StaffMember.user)
    if clinic_id is not None:
        stmt = stmt.where(StaffMember.clinic_id == clinic_id)
    if role is not None:
        holders = select(UserRole.user_id).where(UserRole.role == role.value)
        stmt = stmt.where(StaffMember.user_id.in_(holders))
    if active is not None:
        stmt = stmt.where(StaffMember.active == active)
    stmt = stmt.order_by(func.lower(User.full_name), StaffMember.id)
    return policy.within_scope(stmt, StaffMember.clinic_id, by)


def _clinic_for_staff(clinic_id: uuid.UUID) -> Clinic:
    clinic = db.session.get(Clinic, clinic_id)
    if clinic is None:
        raise InvalidInput({"clinic_id": ["No clinic with this id."]})
    return clinic


def create_staff(*, data: Mapping[str, Any], by: User) -> StaffMember:
    """Create a staff member and their login in one step."""
    clinic = _clinic_for_staff(data["clinic_id"])
    if auth_service.find_user_by_email(data["email"]) is not None:
        message = "An account with this email already exists."
        raise Conflict(message, code="email_taken", errors={"email": [message]})
    user = auth_service.create_user(
        email=data["email"],
        full_name=data["full_name"],
        password=data["password"],
        roles=set(data["roles"]),
    )
    staff = StaffMember(user=user, clinic=clinic)
    _set_fields(staff, data, STAFF_COLUMNS)
    db.session.add(staff)
    db.session.flush()
    audit.record("create", "staff", staff.id, actor_id=by.id)
    return staff


def _other_active_admins(user: User) -> int:
    stmt = (
        select(func.count())
        .select_from(User)
        .join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role == Role.ADMIN.value, User.active.is_(True), User.id != user.id)
    )
    return int(db.session.scalar(stmt) or 0)


def _check_keeps_an_admin(staff: StaffMember, changes: Mapping[str, Any]) -> None:
    # Without an active administrator nobody can configure clinics or staff any more.
    losing = changes.get("active") is False or (
        "roles" in changes and Role.ADMIN not in changes["roles"]
    )
    if losing and Role.ADMIN in staff.user.roles and _other_active_admins(staff.user) == 0:
        raise Conflict(
            "This is the last active administrator; make someone else an administrator first.",
            code="last_admin",
        )


def update_staff(
    *, staff: StaffMember, changes: Mapping[str, Any], by: User, now: datetime | None = None
) -> StaffMember:
    """Change a staff member; deactivating them disables their login too."""
    _check_keeps_an_admin(staff, changes)
    if "clinic_id" in changes:
        staff.clinic = _clinic_for_staff(changes["clinic_id"])
    if "full_name" in changes:
        staff.user.full_name = changes["full_name"]
    if "roles" in changes:
        staff.user.set_roles(set(changes["roles"]))
    if "active" in changes:
        staff.active = staff.user.active = changes["active"]
    if changes.get("active") is False:
        # Their logins end with them: reactivating the account later opens none of them again.
        auth_service.revoke_sessions_of(staff.user, now=now or clock.now())
    _set_fields(staff, changes, STAFF_COLUMNS)
    db.session.flush()
    audit.record("update", "staff", staff.id, actor_id=by.id)
    return staff
