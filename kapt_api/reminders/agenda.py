"""The daily agenda: each therapist with sessions that day gets one email listing
them, once the clinic's local time reaches KAPT_AGENDA_TIME. Sent through the outbox,
at most once per therapist and day (the job runs every few minutes and skips an
agenda already written). Patients appear by a short reference, not by name: the
email may be read on a phone's lock screen."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import select

from kapt_api.auth.models import Role
from kapt_api.clinics.models import Clinic, Room, StaffMember
from kapt_api.db import db
from kapt_api.reminders.models import OutboxChannel, Purpose, Reminder
from kapt_api.scheduling.booking.models import Appointment
from kapt_api.scheduling.courses.values import AppointmentStatus

SHOWN = (AppointmentStatus.BOOKED.value, AppointmentStatus.CHECKED_IN.value)


def agenda_time() -> time:
    hours, minutes = str(current_app.config["KAPT_AGENDA_TIME"]).split(":")
    return time(int(hours), int(minutes))


def _day_of(clinic: Clinic, day: date) -> list[Appointment]:
    zone = ZoneInfo(clinic.time_zone)
    start = datetime.combine(day, time(0), zone)
    return list(
        db.session.scalars(
            select(Appointment)
            .where(
                Appointment.clinic_id == clinic.id,
                Appointment.status.in_(SHOWN),
                Appointment.starts_at >= start,
                Appointment.starts_at < start + timedelta(days=1),
            )
            .order_by(Appointment.starts_at, Appointment.id)
        )
    )


def _line(appointment: Appointment, zone: ZoneInfo) -> str:
    room = db.session.get(Room, appointment.room_id)
    starts = appointment.starts_at.astimezone(zone)
    ends = appointment.ends_at.astimezone(zone)
    return (
        f"{starts:%H:%M}-{ends:%H:%M}  {appointment.kind.replace('_', ' ')}, "
        f"room {room.name if room else '-'}, patient ref {str(appointment.patient_id)[:8]}"
    )


def write_agendas(*, now: datetime) -> int:
    """Write today's agenda email for every therapist who has sessions and has none yet."""
    written = 0
    for clinic in db.session.scalars(select(Clinic).order_by(Clinic.id)):
        zone = ZoneInfo(clinic.time_zone)
        local = now.astimezone(zone)
        if local.time() < agenda_time():
            continue
        by_staff: dict[uuid.UUID, list[Appointment]] = defaultdict(list)
        for appointment in _day_of(clinic, local.date()):
            for staff_id in appointment.staff_ids:
                by_staff[staff_id].append(appointment)
        subject = f"Your sessions at {clinic.name} on {local:%A, %B} {local.day}"
        for staff_id, sessions in by_staff.items():
            staff = db.session.get(StaffMember, staff_id)
            if staff is None or Role.THERAPIST not in staff.user.roles:
                continue
            if _already_written(staff.email, subject):
                continue
            body = "\n".join(_line(a, zone) for a in sessions)
            db.session.add(
                Reminder(
                    clinic_id=clinic.id,
                    purpose=Purpose.AGENDA.value,
                    channel=OutboxChannel.EMAIL.value,
                    recipient=staff.email,
                    subject=subject,
                    body=f"Your sessions today:\n\n{body}\n",
                    due_at=now,
                    next_attempt_at=now,
                )
            )
            written += 1
    db.session.flush()
    return written


def _already_written(recipient: str, subject: str) -> bool:
    return (
        db.session.scalar(
            select(Reminder.id).where(
                Reminder.purpose == Purpose.AGENDA.value,
                Reminder.recipient == recipient,
                Reminder.subject == subject,
            )
        )
        is not None
    )
