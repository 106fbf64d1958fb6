"""A staff member's private iCalendar feed: their appointments for a calendar app.

The feed's URL carries a random token (calendar apps cannot send a bearer token); only
its SHA-256 is stored, and creating the feed again rotates it, deleting it revokes it.
Each appointment is one VEVENT whose UID (`appointment-<id>@<host>`) never changes, so
a moved appointment replaces the old event; its SEQUENCE grows with every move or
cancellation (CalendarRevision), and a cancelled one stays as STATUS:CANCELLED until it
leaves the feed's window. What a lock screen may show is kept to the room and the time:
no patient name, drug, treatment or diagnosis (DOMAIN.md §5.1), in any property.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
from sqlalchemy import select

from kapt_api.auth import audit
from kapt_api.auth.models import Role
from kapt_api.clinics.models import Clinic, Room, StaffMember
from kapt_api.db import db
from kapt_api.errors import NotFound
from kapt_api.patients.policy import Caller
from kapt_api.scheduling.booking import signals
from kapt_api.scheduling.booking.models import Appointment, AppointmentStaff
from kapt_api.scheduling.courses import policy
from kapt_api.scheduling.courses.values import AppointmentStatus
from kapt_api.scheduling.feeds.models import CalendarFeed, CalendarRevision

AUDITED_AS = "calendar_feed"
PRODID = "-//kapt-api//staff calendar//EN"
# What the feed shows: the last month (recent changes) and the next six months.
FEED_PAST = timedelta(days=30)
FEED_FUTURE = timedelta(days=183)
TOKEN_BYTES = 32
# An en dash between the parts of a title ("Session \u2013 Room 2").
DASH = "\u2013"
# The session did not, or will not, take place: the event stays, marked cancelled.
CANCELLED = frozenset({AppointmentStatus.CANCELLED.value, AppointmentStatus.NO_SHOW.value})


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def find_staff_for_feed(*, staff_id: uuid.UUID, by: Caller) -> StaffMember:
    """The staff member whose feed `by` manages: themselves or, for an administrator,
    anyone (404 outside the caller's clinics, 403 for someone else's feed)."""
    staff = db.session.get(StaffMember, staff_id)
    if staff is None or not (by.works_in(staff.clinic_id) or by.staff_id == staff_id):
        raise NotFound("No staff member with this id.")
    policy.ensure(
        by.staff_id == staff.id or Role.ADMIN in by.roles,
        "Only the staff member themselves and administrators manage their calendar feed.",
    )
    return staff


def issue_feed(*, staff: StaffMember, by: Caller, now: datetime) -> str:
    """Create the staff member's feed, or rotate its token (the old URL stops working);
    returns the new token, which is stored only as its hash."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    feed = db.session.scalar(select(CalendarFeed).where(CalendarFeed.staff_id == staff.id))
    action = "update" if feed is not None else "create"
    if feed is None:
        feed = CalendarFeed(staff_id=staff.id)
        db.session.add(feed)
    feed.token_hash = token_hash(token)
    feed.created_at = now
    feed.created_by = by.user_id
    db.session.flush()
    audit.record(action, AUDITED_AS, staff.id, actor_id=by.user_id)
    return token


def revoke_feed(*, staff: StaffMember, by: Caller) -> None:
    """Revoke the staff member's feed: its URL answers 404 from now on."""
    feed = db.session.scalar(select(CalendarFeed).where(CalendarFeed.staff_id == staff.id))
    if feed is None:
        raise NotFound("This staff member has no calendar feed.")
    db.session.delete(feed)
    db.session.flush()
    audit.record("delete", AUDITED_AS, staff.id, actor_id=by.user_id)


def staff_of_token(token: str) -> StaffMember:
    """The active staff member whose feed this token opens (else 404)."""
    staff = db.session.scalar(
        select(StaffMember)
        .join(CalendarFeed, CalendarFeed.staff_id == StaffMember.id)
        .where(CalendarFeed.token_hash == token_hash(token))
    )
    if staff is None or not staff.active or not staff.user.active:
        raise NotFound("No calendar feed at this address.")
    return staff


def _revised(appointment: Appointment, **_: Any) -> None:
    """The appointment moved or was cancelled: its event's SEQUENCE grows (RFC 5545
    3.8.7.4), written in the change's own transaction."""
    revision = db.session.get(CalendarRevision, appointment.id)
    if revision is None:
        db.session.add(CalendarRevision(appointment_id=appointment.id, sequence=1))
    else:
        revision.sequence += 1
    db.session.flush()


signals.appointment_moved.connect(_revised)


signals.appointment_cancelled.connect(_revised)


def summary(room_name: str) -> str:
    """What a lock screen shows: never the patient, the drug or the kind of session."""
    return f"Session {DASH} Room {room_name}"


def _appointments(staff: StaffMember, *, now: datetime) -> list[Any]:
    """The staff member's appointments in the feed's window, with room and revision."""
    stmt = (
        select(Appointment, Room.name, CalendarRevision.sequence)
        .join(Room, Room.id == Appointment.room_id)
        .outerjoin(CalendarRevision, CalendarRevision.appointment_id == Appointment.id)
        .where(
            Appointment.clinic_id == staff.clinic_id,
            Appointment.starts_at >= now - FEED_PAST,
            Appointment.starts_at < now + FEED_FUTURE,
            Appointment.id.in_(
                select(AppointmentStaff.appointment_id).where(AppointmentStaff.staff_id == staff.id)
            ),
        )
        .order_by(Appointment.starts_at, Appointment.id)
    )
    return list(db.session.execute(stmt))


def _event(
    appointment: Appointment, room_name: str, sequence: int | None, *, host: str, zone: ZoneInfo
) -> Any:
    event = icalendar.Event()
    event.add("uid", f"appointment-{appointment.id}@{host}")
    event.add("dtstamp", appointment.updated_at)
    event.add("dtstart", appointment.starts_at.astimezone(zone))
    event.add("dtend", appointment.ends_at.astimezone(zone))
    event.add("summary", summary(room_name))
    event.add("location", f"Room {room_name}")
    event.add("sequence", sequence or 0)
    cancelled = appointment.status in CANCELLED
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    event.add("transp", "TRANSPARENT" if cancelled else "OPAQUE")
    return event


def _timezone(zone: str, first: date, last: date) -> Any:
    return icalendar.Timezone.from_tzid(zone, first_date=first, last_date=last)


def feed(*, staff: StaffMember, host: str, now: datetime) -> bytes:
    """The staff member's calendar as iCalendar bytes, in their clinic's time zone."""
    clinic = db.session.get(Clinic, staff.clinic_id)
    assert clinic is not None
    rows: Sequence[Any] = _appointments(staff, now=now)
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", f"{clinic.name} {DASH} {staff.full_name}")
    calendar.add("x-wr-timezone", clinic.time_zone)
    first = (now - FEED_PAST - timedelta(days=1)).date()
    last = (now + FEED_FUTURE + timedelta(days=2)).date()
    calendar.add_component(_timezone(clinic.time_zone, first, last))
    zone = ZoneInfo(clinic.time_zone)
    for appointment, room_name, sequence in rows:
        calendar.add_component(_event(appointment, room_name, sequence, host=host, zone=zone))
    return bytes(calendar.to_ical())
