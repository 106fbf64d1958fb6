"""An integration session not booked within its window: the scheduler's job raises
one alert per dose, whatever the number of ticks, and the course's prescriber gets
it by email through the outbox, without the patient's name."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from kapt_api.db import db
from kapt_api.monitoring.models import Alert
from kapt_api.protocols.definition import SessionKind
from kapt_api.reminders.models import Reminder
from kapt_api.scheduler import JOBS
from kapt_api.scheduling.booking import attendance
from tests.scheduling.conftest import at

PREPARATION, DOSING, INTEGRATION = (
    SessionKind.PREPARATION,
    SessionKind.DOSING,
    SessionKind.INTEGRATION,
)
# IM KAP: the dose (Wednesday 10:00-12:30) needs an integration starting 24-72 h after
# it, booked 24 h ahead: the last start is Saturday 12:30, booked by Friday 12:30.
CLOSING = at(3, 12, 30)  # a day before booking closes
TICK = next(job.run for job in JOBS if job.id == "unbooked-integrations")


@pytest.fixture
def dose_given(course, book, place, caller_of):
    book(course, PREPARATION, at(0, 9))
    book(course, PREPARATION, at(0, 13))
    dose = book(course, DOSING, at(2, 10))
    desk, prescriber = caller_of(place.front_desk), caller_of(place.prescriber)
    attendance.check_in(appointment=dose, by=desk, now=dose.starts_at)
    attendance.start(appointment=dose, by=prescriber, now=dose.starts_at)
    attendance.complete(appointment=dose, by=prescriber, now=dose.ends_at)
    db.session.commit()
    return dose


def tick(now) -> None:
    TICK(now)
    db.session.commit()


def alert_emails() -> list[Reminder]:
    return list(db.session.scalars(select(Reminder).where(Reminder.purpose == "alert")))


def alerts() -> list[Alert]:
    return list(db.session.scalars(select(Alert).where(Alert.kind == "integration_not_booked")))


def test_the_prescriber_hears_once_that_no_integration_is_booked(dose_given, place, patient):
    tick(CLOSING - timedelta(minutes=1))
    assert alerts() == [] and alert_emails() == []

    for minutes in (0, 1, 60, 60 * 24 * 2):
        tick(CLOSING + timedelta(minutes=minutes))

    (alert,) = alerts()
    assert (alert.patient_id, alert.severity, alert.key) == (
        patient.id,
        "warning",
        f"integration:{dose_given.id}",
    )
    assert "dose 1" in alert.message and "Sat 12 Dec 2026 12:30" in alert.message
    (email,) = alert_emails()
    assert (email.recipient, email.status, email.due_at) == (
        place.prescriber.email,
        "pending",
        CLOSING,
    )
    assert "integration not booked" in email.body and str(alert.id) in email.body
    assert patient.family_name not in email.body + (email.subject or "")


def test_an_integration_booked_in_its_window_raises_nothing(dose_given, course, book):
    book(course, INTEGRATION, at(4, 14), at=CLOSING - timedelta(hours=1))
    db.session.commit()

    tick(CLOSING)
    tick(at(6, 13))

    assert alerts() == [] and alert_emails() == []
