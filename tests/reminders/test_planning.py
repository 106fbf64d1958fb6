"""Planning against the database: booking writes the protocol's reminders in its own
transaction, a move moves the pending ones, a cancellation cancels them, a reminder
whose time has passed is never written, a sent one is never touched, and the
patient's channel, consent and the text caps decide what is sent."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from kapt_api.db import db
from kapt_api.protocols.definition import SessionKind
from kapt_api.protocols.reminder_text import clinical_terms_in
from kapt_api.reminders.models import Reminder
from kapt_api.scheduling.booking import attendance
from kapt_api.scheduling.booking import service as scheduling
from tests.reminders.conftest import outbox_of
from tests.scheduling.conftest import at

pytestmark = pytest.mark.usefixtures("now")
PREPARATION, DOSING = SessionKind.PREPARATION, SessionKind.DOSING


reminders = outbox_of


def test_booking_writes_the_policys_reminder_with_phi_safe_content(course, book, place):
    appointment = book(course, PREPARATION, at(0, 9))  # Monday 09:00 New York

    (row,) = reminders(appointment)
    assert (row.status, row.channel, row.offset_hours) == ("pending", "email", 24)
    assert row.due_at == appointment.starts_at - timedelta(hours=24)
    assert row.next_attempt_at == row.due_at
    assert row.expires_at == appointment.starts_at
    assert row.subject == "Appointment reminder: Cedar Clinic, Monday, December 7"
    assert "9:00 AM" in row.body and "Avery" not in row.body and "Quill" not in row.body
    assert clinical_terms_in(row.subject) == []
    assert f"UID:appointment-{appointment.id}@kapt.invalid" in (row.attachment or "")


def test_a_reminder_whose_time_has_passed_at_booking_is_not_written(course, book, now):
    book(course, PREPARATION, at(0, 9))
    book(course, PREPARATION, at(0, 13))
    # Tuesday 10:00: 72 h before is Saturday 10:00, which is now; only the 24-h one is left.
    dose = book(course, DOSING, at(1, 10))

    assert [(r.offset_hours, r.status) for r in reminders(dose)] == [(24, "pending")]


def test_reminders_roll_back_with_the_booking(course, book):
    appointment_id = book(course, PREPARATION, at(0, 9)).id
    db.session.rollback()

    assert (
        db.session.scalars(select(Reminder).where(Reminder.appointment_id == appointment_id)).all()
        == []
    )


def test_a_move_moves_the_pending_reminder_and_rerenders_it(course, book, place, caller_of, now):
    appointment = book(course, PREPARATION, at(0, 9))
    (before,) = reminders(appointment)

    scheduling.move(
        appointment=appointment, by=caller_of(place.front_desk), now=now, starts_at=at(1, 14)
    )

    (after,) = reminders(appointment)
    assert after.id == before.id
    assert after.due_at == at(0, 14)
    assert after.expires_at == at(1, 14)
    assert "Tuesday, December 8" in (after.subject or "")


def test_a_sent_reminder_stays_sent_and_the_new_time_gets_its_own(
    course, book, place, caller_of, now
):
    appointment = book(course, PREPARATION, at(0, 9))
    (sent,) = reminders(appointment)
    sent.status, sent.sent_at = "sent", now
    db.session.commit()

    scheduling.move(
        appointment=appointment, by=caller_of(place.front_desk), now=now, starts_at=at(1, 14)
    )

    rows = reminders(appointment)
    assert [(r.id == sent.id, r.status, r.due_at) for r in rows] == [
        (True, "sent", at(-1, 9)),
        (False, "pending", at(0, 14)),
    ]


def test_a_move_too_close_for_a_reminder_cancels_it(course, book, place, caller_of, now):
    book(course, PREPARATION, at(0, 9))
    book(course, PREPARATION, at(0, 13))
    dose = book(course, DOSING, at(3, 10))  # Thursday: reminders Monday and Wednesday 10:00

    # On Monday at 09:00, moved a day earlier: its 72-h reminder time has passed.
    scheduling.move(
        appointment=dose,
        by=caller_of(place.front_desk),
        now=now + timedelta(hours=47),
        starts_at=at(2, 10),
    )

    assert [(r.offset_hours, r.status, r.reason, r.due_at) for r in reminders(dose)] == [
        (72, "cancelled", "moved_too_close", at(0, 10)),
        (24, "pending", None, at(1, 10)),
    ]


def test_cancelling_cancels_pending_reminders(course, book, place, caller_of, now):
    appointment = book(course, PREPARATION, at(0, 9))

    attendance.cancel(
        appointment=appointment, reason="patient ill", by=caller_of(place.front_desk), now=now
    )

    (row,) = reminders(appointment)
    assert (row.status, row.reason) == ("cancelled", "appointment_cancelled")


def _set(patient, **values) -> None:
    for name, value in values.items():
        setattr(patient, name, value)
    db.session.commit()


def test_a_patient_who_wants_no_reminders_gets_none(course, book, patient):
    _set(patient, preferred_reminder_channel="none")

    assert reminders(book(course, PREPARATION, at(0, 9))) == []


def test_texts_without_consent_are_recorded_as_skipped(course, book, patient):
    _set(patient, preferred_reminder_channel="sms", sms_opt_in=False)

    (row,) = reminders(book(course, PREPARATION, at(0, 9)))
    assert (row.channel, row.status, row.reason) == ("sms", "skipped", "sms_not_consented")


def test_a_consented_text_is_at_most_160_characters_and_names_no_treatment(
    course, book, patient, now
):
    _set(patient, preferred_reminder_channel="sms", sms_opt_in=True, sms_opt_in_at=now)

    (row,) = reminders(book(course, PREPARATION, at(0, 9)))
    assert (row.channel, row.status, row.recipient) == ("sms", "pending", patient.phone)
    assert len(row.body) <= 160 and "Reply STOP" in row.body
    assert clinical_terms_in(row.body) == []


def test_a_second_text_on_one_day_goes_inside_the_first_with_the_reason(course, book, patient, now):
    _set(patient, preferred_reminder_channel="sms", sms_opt_in=True, sms_opt_in_at=now)

    first = book(course, PREPARATION, at(0, 9))
    second = reminders(book(course, PREPARATION, at(0, 13)))

    assert [(r.status, r.reason) for r in reminders(first)] == [("pending", "sms_daily_cap")]
    assert [(r.status, r.reason) for r in second] == [("merged", "sms_daily_cap")]
