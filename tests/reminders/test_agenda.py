"""The therapist's daily agenda: one email per therapist with sessions that day,
after the configured local time, once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from kapt_api.db import db
from kapt_api.protocols.definition import SessionKind
from kapt_api.reminders.agenda import write_agendas
from kapt_api.reminders.models import Reminder
from tests.scheduling.conftest import at

pytestmark = pytest.mark.usefixtures("now")


def agendas() -> list[Reminder]:
    db.session.expire_all()
    return list(db.session.scalars(select(Reminder).where(Reminder.purpose == "agenda")))


def test_each_therapist_gets_the_days_sessions_once_after_the_agenda_time(course, book, place):
    book(course, SessionKind.PREPARATION, at(0, 9))
    book(course, SessionKind.PREPARATION, at(0, 13))

    assert write_agendas(now=at(0, 6, 59)) == 0  # before 07:00 in New York
    assert write_agendas(now=at(0, 7)) == 1
    assert write_agendas(now=at(0, 7) + timedelta(minutes=5)) == 0

    (row,) = agendas()
    assert (row.recipient, row.channel, row.status) == (place.therapist.email, "email", "pending")
    assert row.subject == "Your sessions at Cedar Clinic on Monday, December 7"
    assert "09:00-10:00" in row.body and "13:00-14:00" in row.body
    assert "Avery" not in row.body


def test_no_sessions_no_agenda(course, book):
    book(course, SessionKind.PREPARATION, at(1, 9))

    assert write_agendas(now=at(0, 8)) == 0
    assert agendas() == []
