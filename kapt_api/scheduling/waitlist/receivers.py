"""What the waitlist does when booking or a course tells it something, inside the
same transaction (booking/signals.py, courses/signals.py):

- a booked session ends the course's entry for that kind (the wait is over);
- a cancellation, a move away, or a no-show with time left records the freed time
  (FreedSlot) for the backfill job; a time already past is nobody's to take;
- a discontinued course ends its entries.

Imported by waitlist/routes.py, which every process that serves or runs jobs loads.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kapt_api.db import db
from kapt_api.protocols.definition import SessionKind
from kapt_api.scheduling.booking import signals as booking_signals
from kapt_api.scheduling.booking.models import Appointment
from kapt_api.scheduling.courses import signals as course_signals
from kapt_api.scheduling.courses.models import Course
from kapt_api.scheduling.waitlist import service
from kapt_api.scheduling.waitlist.models import EndReason, FreedSlot, SlotReason


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
    found = service.waiting(appointment.course_id, SessionKind(appointment.kind))
    service.end(found, EndReason.BOOKED, now=now)


def _course_ended(course: Course, *, now: datetime, **_: Any) -> None:
    service.end(service.waiting(course.id), EndReason.COURSE_ENDED, now=now)


booking_signals.appointment_cancelled.connect(_cancelled)
booking_signals.appointment_no_show.connect(_no_show)
booking_signals.appointment_moved.connect(_moved)
booking_signals.appointment_booked.connect(_booked)
course_signals.course_discontinued.connect(_course_ended)
