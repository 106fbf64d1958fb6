"""One text a day per patient (DOMAIN.md §5.2): a second text planned for a day that
already has a pending one goes out inside it, one text naming both appointments at
the earlier of the two times, when that text fits 160 characters; otherwise it is
skipped. Both rows record the reason (`sms_daily_cap`); the merged row names the row
that carries it (`merged_into`).

A move or a cancellation decides again: before an appointment's texts change, their
merges are undone; afterwards a text that no longer carries another is re-rendered as
its own, and a text that was carried is planned again on its own (and merged again if
its day still has another text); a text skipped for a cap goes after all if the change
freed its day or week. So a text never names a cancelled appointment.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Select, or_, select

from kapt_api.clinics.models import Clinic
from kapt_api.db import db
from kapt_api.patients.models import Patient
from kapt_api.protocols.definition import Channel
from kapt_api.reminders import content, drafts
from kapt_api.reminders.models import Purpose, Reminder, Status
from kapt_api.scheduling.booking.models import Appointment
from kapt_api.scheduling.courses.values import AppointmentStatus

DAILY_CAP = "sms_daily_cap"
CAPS = (DAILY_CAP, "sms_weekly_cap")


def _day(instant: datetime, zone: str) -> date:
    return instant.astimezone(ZoneInfo(zone)).date()


def carried_by(host: Reminder) -> list[Reminder]:
    """The texts that go out inside this one."""
    return list(
        db.session.scalars(
            select(Reminder).where(
                Reminder.merged_into == host.id, Reminder.status == Status.MERGED.value
            )
        )
    )


def _other_texts(appointment: Appointment) -> Select[tuple[Reminder]]:
    """The patient's appointment texts for their other appointments, in time order."""
    return (
        select(Reminder)
        .where(
            Reminder.patient_id == appointment.patient_id,
            Reminder.appointment_id != appointment.id,
            Reminder.purpose == Purpose.APPOINTMENT_REMINDER.value,
            Reminder.channel == Channel.SMS.value,
        )
        .order_by(Reminder.due_at, Reminder.id)
    )


def _free_hosts(appointment: Appointment, *, now: datetime) -> list[Reminder]:
    """The patient's texts for other appointments still waiting to go: pending, not
    in a dispatcher's hands, carrying no other text yet."""
    rows = db.session.scalars(
        _other_texts(appointment).where(
            Reminder.status == Status.PENDING.value,
            or_(Reminder.lease_until.is_(None), Reminder.lease_until <= now),
        )
    )
    return [row for row in rows if not carried_by(row)]


def _set_due(row: Reminder, due: datetime) -> None:
    row.due_at = due
    if row.attempts == 0:  # a retry keeps its backoff
        row.next_attempt_at = due


def _earlier(first: datetime | None, second: datetime | None) -> datetime | None:
    known = [moment for moment in (first, second) if moment is not None]
    return min(known) if known else None


def merge_capped(rows: Iterable[Reminder], appointment: Appointment, *, now: datetime) -> None:
    """Each of the appointment's texts skipped for the daily cap goes inside the day's
    pending text when the joint text fits; otherwise it stays skipped."""
    capped = [
        row
        for row in rows
        if (row.channel, row.status, row.reason)
        == (Channel.SMS.value, Status.SKIPPED.value, DAILY_CAP)
    ]
    if not capped:  # most bookings: nothing to merge, nothing more to read
        return
    patient = db.session.get(Patient, appointment.patient_id)
    clinic = db.session.get(Clinic, appointment.clinic_id)
    assert patient is not None and clinic is not None
    for row in capped:
        day = _day(row.due_at, patient.time_zone)
        host = next(
            (
                h
                for h in _free_hosts(appointment, now=now)
                if _day(h.due_at, patient.time_zone) == day
            ),
            None,
        )
        other = db.session.get(Appointment, host.appointment_id) if host else None
        text = content.joint_text([other, appointment], clinic) if other else None
        if host is None or text is None:
            continue
        row.status, row.merged_into = Status.MERGED.value, host.id
        host.body, host.reason = text, DAILY_CAP
        _set_due(host, min(host.due_at, row.due_at))
        host.expires_at = _earlier(host.expires_at, row.expires_at)
    db.session.flush()


def detach(rows: Sequence[Reminder], *, now: datetime) -> list[Reminder]:
    """Undo the merges of these rows (about to be moved or cancelled): a text that
    carried one of them speaks for its own appointment again at once; the texts they
    carried are returned, to be planned again when the change is written (settle)."""
    ids = {row.id for row in rows}
    carried: list[Reminder] = []
    hosts: list[Reminder] = []
    for row in rows:
        if row.status == Status.MERGED.value and row.merged_into is not None:
            host = db.session.get(Reminder, row.merged_into)
            if host is not None and host.id not in ids and host.status == Status.PENDING.value:
                hosts.append(host)
            row.merged_into = None
        carried += [r for r in carried_by(row) if r.id not in ids]
    db.session.flush()
    for host in hosts:
        _speak_for_itself(host, now=now)
    db.session.flush()
    return carried


def _speak_for_itself(host: Reminder, *, now: datetime) -> None:
    appointment = db.session.get(Appointment, host.appointment_id)
    own = _own_draft(host, appointment, now=now)
    if appointment is None or own is None or carried_by(host):
        return
    host.body, host.reason = own.body, None
    _set_due(host, own.due_at)
    host.expires_at = appointment.starts_at


def settle(carried: Iterable[Reminder], *, now: datetime) -> None:
    """After the move or cancellation: each text that was carried is planned on its
    own again (and merged again if its day still has a pending text)."""
    for row in carried:
        appointment = db.session.get(Appointment, row.appointment_id)
        own = _own_draft(row, appointment, now=now)
        row.merged_into = None
        if appointment is None or own is None:
            row.status, row.reason = Status.CANCELLED.value, "moved_too_close"
            continue
        drafts.apply(row, own, appointment)
        db.session.flush()
        merge_capped([row], appointment, now=now)
    db.session.flush()


def revisit_capped(changed: Appointment, *, now: datetime) -> None:
    """After a move or a cancellation: the patient's texts for other appointments that
    were skipped for a cap and whose time has not come are decided again, so a day or
    a week the change freed gets its text after all."""
    rows = db.session.scalars(
        _other_texts(changed).where(
            Reminder.status == Status.SKIPPED.value,
            Reminder.reason.in_(CAPS),
            Reminder.due_at > now,
        )
    ).all()
    for row in rows:
        appointment = db.session.get(Appointment, row.appointment_id)
        if appointment is None or appointment.status != AppointmentStatus.BOOKED.value:
            continue
        own = _own_draft(row, appointment, now=now)
        if own is None or own.skip_reason not in (None, DAILY_CAP):
            continue
        drafts.apply(row, own, appointment)
        db.session.flush()
        merge_capped([row], appointment, now=now)


def _own_draft(
    row: Reminder, appointment: Appointment | None, *, now: datetime
) -> drafts.Draft | None:
    if appointment is None:
        return None
    return next(
        (
            d
            for d in drafts.drafts_for(appointment, now=now, keep_passed=True)
            if d.offset_hours == row.offset_hours and d.channel.value == row.channel
        ),
        None,
    )
