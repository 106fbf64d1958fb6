"""What the waitlist does when booking or a course tells it something, inside the
same transaction (booking/signals.py, courses/signals.py):

- a booked session ends the course's entry for that kind (the wait is over);
- a cancellation, a move away, or a no-show with time left records the freed time
  (FreedSlot) for the backfill job; a time already past is nobody's to take;
- a discontinued course ends its entries;
- a staff member's new working hours or withdrawn time off (clinics/signals.py) record
  the time they became bookable, shift by shift on the clinic's days, while someone of
  the clinic waits and up to the last day anyone waits for (at most HORIZON ahead):
  with nobody waiting there is nobody to offer it to.

Imported by waitlist/routes.py, which every process that serves or runs jobs loads.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from kapt_api.clinics import signals as clinic_signals
from kapt_api.clinics.availability import working_pattern
from kapt_api.clinics.models import StaffMember
from kapt_api.clinics.rules import WeeklyInterval, local_intervals_to_utc
from kapt_api.db import db
from kapt_api.protocols.definition import SessionKind
from kapt_api.scheduling.booking import signals as booking_signals
from kapt_api.scheduling.booking.models import Appointment
from kapt_api.scheduling.courses import signals as course_signals
from kapt_api.scheduling.courses.models import Course
from kapt_api.scheduling.waitlist import service
from kapt_api.scheduling.waitlist.models import (
    EndReason,
    EntryStatus,
    FreedSlot,
    SlotReason,
    WaitlistEntry,
)

HORIZON = timedelta(days=60)  # how far ahead a staff member's new time is offered


def _record(
    appointment: Appointment, reason: SlotReason, starts_at: datetime, ends_at: datetime,
    *, now: datetime,
) -> None:  # fmt: skip
    starts_at = max(starts_at, now)
    if ends_at <= starts_at:
        return
    db.session.add(
        FreedSlot(
            clinic_id=appointment.clinic_id,
            appointment_id=appointment.id,
            kind=appointment.kind,
            reason=reason.value,
            starts_at=starts_at,
            ends_at=ends_at,
            created_at=now,
        )
    )


def _cancelled(appointment: Appointment, *, now: datetime, **_: Any) -> None:
    _record(appointment, SlotReason.CANCELLED, appointment.starts_at, appointment.held_until,
            now=now)  # fmt: skip


def _no_show(appointment: Appointment, *, now: datetime, **_: Any) -> None:
    _record(appointment, SlotReason.NO_SHOW, appointment.starts_at, appointment.held_until, now=now)


def _moved(
    appointment: Appointment, *, now: datetime, previous_starts_at: datetime, **_: Any
) -> None:
    if previous_starts_at == appointment.starts_at:
        return  # a change of room or staff only: no time is freed for the patient's slot
    length = appointment.held_until - appointment.starts_at
    _record(appointment, SlotReason.MOVED, previous_starts_at, previous_starts_at + length,
            now=now)  # fmt: skip


def _booked(appointment: Appointment, *, now: datetime, **_: Any) -> None:
    service.end_waiting(
        appointment.course_id, EndReason.BOOKED, now=now, kind=SessionKind(appointment.kind)
    )


def _course_ended(course: Course, *, now: datetime, **_: Any) -> None:
    service.end_waiting(course.id, EndReason.COURSE_ENDED, now=now)


def _last_wanted_day(clinic_id: Any) -> date | None:
    return db.session.scalar(
        select(func.max(WaitlistEntry.latest_date)).where(
            WaitlistEntry.clinic_id == clinic_id,
            WaitlistEntry.status == EntryStatus.WAITING.value,
        )
    )


def _record_staff_time(
    staff: StaffMember, reason: SlotReason, pattern: Sequence[WeeklyInterval],
    *, since: datetime, until: datetime | None, now: datetime,
) -> None:  # fmt: skip
    """One freed slot per shift of `pattern` inside [since, until) from now on, on the
    clinic's days up to the last day anyone of the clinic waits for."""
    last = _last_wanted_day(staff.clinic_id)
    if last is None:
        return
    zone = staff.clinic.time_zone
    since = max(since, now)
    day = service.local_today(zone, since)
    last = min(last, service.local_today(zone, now + HORIZON))
    if until is not None:
        last = min(last, service.local_today(zone, until))
    while day <= last:
        for starts_at, ends_at in local_intervals_to_utc(day, pattern, zone):
            starts_at, ends_at = max(starts_at, since), min(ends_at, until or ends_at)
            if starts_at < ends_at:
                db.session.add(FreedSlot(
                    clinic_id=staff.clinic_id, staff_id=staff.id, reason=reason.value,
                    starts_at=starts_at, ends_at=ends_at, created_at=now,
                ))  # fmt: skip
        day += timedelta(days=1)


def _working_hours_added(
    staff: StaffMember, *, added: list[WeeklyInterval], now: datetime, **_: Any
) -> None:
    _record_staff_time(staff, SlotReason.WORKING_HOURS, added, since=now, until=None, now=now)


def _time_off_withdrawn(
    staff: StaffMember, *, starts_at: datetime, ends_at: datetime, now: datetime, **_: Any
) -> None:
    _record_staff_time(staff, SlotReason.TIME_OFF_WITHDRAWN, working_pattern(staff=staff),
                       since=starts_at, until=ends_at, now=now)  # fmt: skip


booking_signals.appointment_cancelled.connect(_cancelled)
booking_signals.appointment_no_show.connect(_no_show)
booking_signals.appointment_moved.connect(_moved)
booking_signals.appointment_booked.connect(_booked)
course_signals.course_discontinued.connect(_course_ended)
clinic_signals.working_hours_added.connect(_working_hours_added)
clinic_signals.time_off_withdrawn.connect(_time_off_withdrawn)
