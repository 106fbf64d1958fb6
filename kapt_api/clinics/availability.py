"""When a clinic is open and its staff can be booked: opening and working hours as
weekly intervals for the rules, a staff member's working week, their time off. The
use cases flush and never commit, and every change is audited with who made it."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select

from kapt_api import clock
from kapt_api.auth import audit
from kapt_api.auth.models import User
from kapt_api.clinics import rules, signals
from kapt_api.clinics.models import Clinic, StaffMember, TimeOff, WorkingHours
from kapt_api.db import db
from kapt_api.errors import InvalidInput, NotFound


def weekly_intervals(
    hours: Sequence[Mapping[str, Any]], *, field: str, start: str, end: str
) -> list[rules.WeeklyInterval]:
    """Weekly intervals from the request's items, refused with every problem named
    `field.index` (an interval ending before it starts, two overlapping)."""
    intervals = [rules.WeeklyInterval(h["weekday"], h[start], h[end]) for h in hours]
    errors = rules.weekly_hours_errors(intervals, field=field)
    if errors:
        raise InvalidInput(errors)
    return sorted(intervals)


def opening_pattern(*, clinic: Clinic) -> list[rules.WeeklyInterval]:
    """A clinic's opening hours as weekly intervals for the rules (clinic local time)."""
    return [rules.WeeklyInterval(h.weekday, h.opens, h.closes) for h in clinic.opening_hours]


def working_pattern(*, staff: StaffMember) -> list[rules.WeeklyInterval]:
    """A staff member's working hours as weekly intervals for the rules (clinic local time)."""
    return [rules.WeeklyInterval(h.weekday, h.starts, h.ends) for h in staff.working_hours]


def replace_working_hours(
    *,
    staff: StaffMember,
    hours: Sequence[Mapping[str, Any]],
    by: User,
    now: datetime | None = None,
) -> StaffMember:
    """Replace a staff member's whole working week (clinic local time); the hours it
    adds are announced (working_hours_added) for the waitlist to offer."""
    intervals = weekly_intervals(hours, field="working_hours", start="starts", end="ends")
    added = rules.added_intervals(working_pattern(staff=staff), intervals)
    staff.working_hours = [
        WorkingHours(weekday=i.weekday, starts=i.start, ends=i.end) for i in intervals
    ]
    db.session.flush()
    audit.record("update", "working_hours", staff.id, actor_id=by.id)
    if added:
        signals.working_hours_added.send(staff, added=added, now=now or clock.now())
    return staff


def add_time_off(
    *,
    staff: StaffMember,
    starts_at: datetime,
    ends_at: datetime,
    by: User,
    now: datetime,
    reason: str | None = None,
) -> TimeOff:
    """Record a span in which a staff member is away and cannot be booked."""
    errors = rules.time_off_errors(starts_at, ends_at)
    if errors:
        raise InvalidInput(errors)
    entry = TimeOff(
        staff_id=staff.id,
        starts_at=starts_at,
        ends_at=ends_at,
        reason=reason,
        created_by=by.id,
        created_at=now,
    )
    db.session.add(entry)
    db.session.flush()
    audit.record("create", "time_off", entry.id, actor_id=by.id)
    return entry


def withdraw_time_off(
    *, staff: StaffMember, time_off_id: uuid.UUID, by: User, now: datetime
) -> None:
    """Withdraw a staff member's time off: they are bookable then again, and the
    waitlist hears of it (time_off_withdrawn)."""
    entry = db.session.get(TimeOff, time_off_id)
    if entry is None or entry.staff_id != staff.id:
        raise NotFound("No time off with this id for this staff member.")
    starts_at, ends_at = entry.starts_at, entry.ends_at
    db.session.delete(entry)
    db.session.flush()
    audit.record("delete", "time_off", time_off_id, actor_id=by.id)
    signals.time_off_withdrawn.send(staff, starts_at=starts_at, ends_at=ends_at, now=now)


def time_off_of(
    *, staff: StaffMember, starts: datetime | None = None, ends: datetime | None = None
) -> Select[tuple[TimeOff]]:
    """A staff member's time off overlapping [starts, ends), earliest first."""
    stmt = select(TimeOff).where(TimeOff.staff_id == staff.id)
    if starts is not None:
        stmt = stmt.where(TimeOff.ends_at > starts)
    if ends is not None:
        stmt = stmt.where(TimeOff.starts_at < ends)
    return stmt.order_by(TimeOff.starts_at, TimeOff.id)
