"""Planning: booking writes the reminder rows of the protocol's policy, a move moves
the pending ones, a cancellation or completion cancels them. Each receiver runs in
the appointment's own transaction (scheduling/booking/signals.py), so the outbox and the
appointment commit or roll back together. A sent reminder is never touched. Texts
over the one-a-day cap are merged into the day's other text where they fit
(merging.py), and decided again on every move and cancellation.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select

from kapt_api.db import db
from kapt_api.reminders import merging
from kapt_api.reminders.drafts import Draft, apply, drafts_for
from kapt_api.reminders.models import Purpose, Reminder, Status
from kapt_api.rows import insert_as_loaded
from kapt_api.scheduling.booking import signals
from kapt_api.scheduling.booking.models import Appointment


def _new_row(draft: Draft, appointment: Appointment) -> Reminder:
    row = Reminder(
        clinic_id=appointment.clinic_id,
        appointment_id=appointment.id,
        patient_id=appointment.patient_id,
        purpose=Purpose.APPOINTMENT_REMINDER.value,
        offset_hours=draft.offset_hours,
    )
    apply(row, draft, appointment)
    return row


def plan(appointment: Appointment, *, now: datetime) -> list[Reminder]:
    """Write the reminders of a newly booked appointment."""
    rows = [_new_row(draft, appointment) for draft in drafts_for(appointment, now=now)]
    insert_as_loaded(rows)  # written now: merging reads the patient's other texts
    merging.merge_capped(rows, appointment, now=now)
    return rows


def pending_of(appointment: Appointment) -> list[Reminder]:
    """The appointment's reminders not sent yet: pending, or merged into a text that
    is still pending (a merged one whose text went out was delivered with it)."""
    rows = db.session.scalars(
        select(Reminder)
        .where(
            Reminder.appointment_id == appointment.id,
            Reminder.status.in_((Status.PENDING.value, Status.MERGED.value)),
        )
        .order_by(Reminder.due_at)
    )
    return [row for row in rows if row.status == Status.PENDING.value or _carrier_pending(row)]


def _carrier_pending(row: Reminder) -> bool:
    carrier = db.session.get(Reminder, row.merged_into) if row.merged_into else None
    return carrier is not None and carrier.status == Status.PENDING.value


def replan(appointment: Appointment, *, now: datetime) -> None:
    """Move a moved appointment's pending reminders to its new time (re-rendered); one
    whose new time has passed is cancelled, and a reminder already sent for the old
    time is followed by a new one for the new time when there is still time."""
    rows = pending_of(appointment)
    carried = merging.detach(rows, now=now)
    pending = {row.offset_hours: row for row in rows}
    written = []
    for draft in drafts_for(appointment, now=now):
        row = pending.pop(draft.offset_hours, None)
        if row is not None:
            apply(row, draft, appointment)
            written.append(row)
        elif draft.skip_reason in (None, merging.DAILY_CAP):
            written.append(_new_row(draft, appointment))
            db.session.add(written[-1])
    _cancel(pending.values(), reason="moved_too_close")
    db.session.flush()
    merging.merge_capped(written, appointment, now=now)
    merging.settle(carried, now=now)
    merging.revisit_capped(appointment, now=now)


def cancel_pending(appointment: Appointment, *, reason: str, now: datetime) -> None:
    """Cancel the appointment's reminders not sent yet; a text that carried one of
    them, or that one of them carried, goes out on its own."""
    rows = pending_of(appointment)
    carried = merging.detach(rows, now=now)
    _cancel(rows, reason=reason)
    db.session.flush()
    merging.settle(carried, now=now)
    merging.revisit_capped(appointment, now=now)


def _cancel(rows: Iterable[Reminder], *, reason: str) -> None:
    for row in rows:
        row.status = Status.CANCELLED.value
        row.reason = reason
        row.merged_into = None
        row.lease_until = None


def _booked(appointment: Appointment, *, now: datetime, **_: Any) -> None:
    plan(appointment, now=now)


def _moved(appointment: Appointment, *, now: datetime, **_: Any) -> None:
    replan(appointment, now=now)


def _cancelled(appointment: Appointment, *, now: datetime, **_: Any) -> None:
    cancel_pending(appointment, reason="appointment_cancelled", now=now)


def _completed(appointment: Appointment, *, now: datetime, **_: Any) -> None:
    cancel_pending(appointment, reason="appointment_completed", now=now)


signals.appointment_booked.connect(_booked)
signals.appointment_moved.connect(_moved)
signals.appointment_cancelled.connect(_cancelled)
signals.appointment_completed.connect(_completed)
