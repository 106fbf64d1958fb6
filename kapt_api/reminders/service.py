"""Use cases of the outbox that staff reach over HTTP."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from kapt_api.patients.policy import Caller
from kapt_api.reminders.models import Reminder
from kapt_api.scheduling.booking import queries as scheduling


def reminders_of(*, appointment_id: uuid.UUID, by: Caller) -> Any:
    """The reminders of an appointment the caller may see, by due time (404 otherwise)."""
    appointment = scheduling.find_appointment(appointment_id=appointment_id, by=by)
    return (
        select(Reminder)
        .where(Reminder.appointment_id == appointment.id)
        .order_by(Reminder.due_at, Reminder.id)
    )
