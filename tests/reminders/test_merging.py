"""One text a day: a second text for a day that already has a pending one goes out
inside it when the joint text fits 160 characters, else it is skipped; both rows say
why. Moving or cancelling either appointment decides again, so a text never names a
cancelled appointment."""

from __future__ import annotations

import random
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from kapt_api.db import db
from kapt_api.errors import RuleRefused
from kapt_api.protocols.definition import SessionKind
from kapt_api.protocols.reminder_text import clinical_terms_in
from kapt_api.reminders.channels import ConsoleChannel, DeliveryError
from kapt_api.reminders.dispatcher import Limits, dispatch_due
from kapt_api.reminders.models import Reminder
from kapt_api.scheduling.booking import attendance
from kapt_api.scheduling.booking import service as scheduling
from kapt_api.scheduling.booking.models import Appointment
from tests.scheduling.conftest import at

PREPARATION = SessionKind.PREPARATION
JOINT = (
    "Cedar Clinic: appointments Monday, December 7 at 9:00 AM and 1:00 PM. "
    "To change them call +15555550100. Reply STOP to opt out."
)


@pytest.fixture(autouse=True)
def texting(patient, now):
    patient.preferred_reminder_channel = "sms"
    patient.sms_opt_in, patient.sms_opt_in_at = True, now
    db.session.commit()


def texts(appointment) -> list[Reminder]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(Reminder)
            .where(Reminder.appointment_id == appointment.id)
            .order_by(Reminder.due_at)
        )
    )


def test_a_second_text_on_one_day_goes_inside_the_first(course, book):
    morning = book(course, PREPARATION, at(0, 9))
    (plain,) = texts(morning)
    plain_body = plain.body
    afternoon = book(course, PREPARATION, at(0, 13))

    (host,) = texts(morning)
    (merged,) = texts(afternoon)
    assert (host.status, host.reason, host.body) == ("pending", "sms_daily_cap", JOINT)
    assert host.body != plain_body
    assert (merged.status, merged.reason, merged.merged_into) == (
        "merged",
        "sms_daily_cap",
        host.id,
    )
    assert len(host.body) <= 160 and clinical_terms_in(host.body) == []


def test_the_joint_text_goes_at_the_earlier_time_and_once(course, book):
    afternoon = book(course, PREPARATION, at(0, 13))
    morning = book(course, PREPARATION, at(0, 9))

    (host,) = texts(afternoon)
    assert (host.due_at, host.next_attempt_at, host.expires_at) == (at(-1, 9),) * 2 + (at(0, 9),)
    assert [r.status for r in texts(morning)] == ["merged"]

    console = ConsoleChannel()
    limits = Limits(timedelta(minutes=2), 4, 30, 600)
    report = dispatch_due(
        now=at(-1, 9), batch_size=10, channel_registry={"sms": console}, limits=limits
    )
    assert report.sent == 1
    assert [m.body for m in console.delivered] == [JOINT]


class RefusingGateway:
    """An SMS gateway that refuses every text for good (the number does not exist)."""

    def deliver(self, messages):
        return [DeliveryError("number unknown", permanent=True) for _ in messages]


def test_a_text_merged_into_one_that_failed_says_it_failed_too(course, book):
    morning = book(course, PREPARATION, at(0, 9))
    afternoon = book(course, PREPARATION, at(0, 13))
    limits = Limits(timedelta(minutes=2), 4, 30, 600)

    report = dispatch_due(
        now=at(-1, 9), batch_size=10, channel_registry={"sms": RefusingGateway()}, limits=limits
    )

    assert report.failed == 1
    assert [(r.status, r.reason) for r in texts(morning)] == [("failed", "undeliverable")]
    assert [(r.status, r.reason) for r in texts(afternoon)] == [("failed", "carrier_failed")]


def test_a_text_merged_into_one_picked_up_too_late_expires_with_it(course, book):
    morning = book(course, PREPARATION, at(0, 9))
    afternoon = book(course, PREPARATION, at(0, 13))
    limits = Limits(timedelta(minutes=2), 4, 30, 600)

    report = dispatch_due(
        now=at(0, 9, 30), batch_size=10, channel_registry={"sms": ConsoleChannel()}, limits=limits
    )

    assert report.expired == 1 and report.sent == 0
    assert [(r.status, r.reason) for r in texts(morning)] == [("expired", "session_started")]
    assert [(r.status, r.reason) for r in texts(afternoon)] == [("expired", "carrier_expired")]


def test_a_joint_text_over_160_characters_is_not_merged(course, book, place):
    place.clinic.name = "Northern Lakes Integrative Health and Wellness Center"
    db.session.commit()
    morning = book(course, PREPARATION, at(0, 9))
    afternoon = book(course, PREPARATION, at(0, 13))

    (first,) = texts(morning)
    assert (first.status, first.reason) == ("pending", None)
    assert "1:00 PM" not in first.body
    assert [(r.status, r.reason, r.merged_into) for r in texts(afternoon)] == [
        ("skipped", "sms_daily_cap", None)
    ]


def test_a_text_skipped_for_the_cap_goes_when_its_day_is_freed(course, book, place, caller_of):
    place.clinic.name = "Northern Lakes Integrative Health and Wellness Center"
    db.session.commit()
    morning = book(course, PREPARATION, at(0, 9))
    afternoon = book(course, PREPARATION, at(0, 13))
    assert [r.status for r in texts(afternoon)] == ["skipped"]

    attendance.cancel(
        appointment=morning, reason="patient ill", by=caller_of(place.front_desk), now=at(-2, 11)
    )

    (revived,) = texts(afternoon)
    assert (revived.status, revived.reason, revived.due_at) == ("pending", None, at(-1, 13))
    assert "1:00 PM" in revived.body


def test_a_text_already_sent_is_not_merged_into(course, book, now):
    morning = book(course, PREPARATION, at(0, 9))
    (sent,) = texts(morning)
    sent.status, sent.sent_at = "sent", now
    db.session.commit()

    afternoon = book(course, PREPARATION, at(0, 13))

    assert [(r.status, r.reason) for r in texts(afternoon)] == [("skipped", "sms_daily_cap")]


def test_cancelling_the_merged_appointment_leaves_a_plain_text(course, book, place, caller_of):
    morning = book(course, PREPARATION, at(0, 9))
    (plain,) = texts(morning)
    plain_body, plain_due = plain.body, plain.due_at
    afternoon = book(course, PREPARATION, at(0, 13))

    attendance.cancel(
        appointment=afternoon, reason="patient ill", by=caller_of(place.front_desk), now=at(-2, 11)
    )

    (host,) = texts(morning)
    assert (host.status, host.reason, host.body, host.due_at) == (
        "pending",
        None,
        plain_body,
        plain_due,
    )
    assert "1:00 PM" not in host.body
    assert [(r.status, r.reason, r.merged_into) for r in texts(afternoon)] == [
        ("cancelled", "appointment_cancelled", None)
    ]


def test_cancelling_the_carrying_appointment_sends_the_other_on_its_own(
    course, book, place, caller_of
):
    morning = book(course, PREPARATION, at(0, 9))
    afternoon = book(course, PREPARATION, at(0, 13))

    attendance.cancel(
        appointment=morning, reason="patient ill", by=caller_of(place.front_desk), now=at(-2, 11)
    )

    assert [(r.status, r.reason) for r in texts(morning)] == [
        ("cancelled", "appointment_cancelled")
    ]
    (alone,) = texts(afternoon)
    assert (alone.status, alone.reason, alone.merged_into, alone.due_at) == (
        "pending",
        None,
        None,
        at(-1, 13),
    )
    assert "1:00 PM" in alone.body and "9:00 AM" not in alone.body


def test_moving_the_merged_appointment_to_another_day_splits_the_text(
    course, book, place, caller_of
):
    morning = book(course, PREPARATION, at(0, 9))
    (plain,) = texts(morning)
    plain_body = plain.body
    afternoon = book(course, PREPARATION, at(0, 13))

    scheduling.move(
        appointment=afternoon, by=caller_of(place.front_desk), now=at(-2, 11), starts_at=at(1, 14)
    )

    assert [(r.status, r.reason, r.body) for r in texts(morning)] == [("pending", None, plain_body)]
    (moved,) = texts(afternoon)
    assert (moved.status, moved.reason, moved.merged_into, moved.due_at) == (
        "pending",
        None,
        None,
        at(0, 14),
    )
    assert "Tuesday, December 8" in moved.body


def test_moving_within_the_day_keeps_one_text_with_the_new_time(course, book, place, caller_of):
    morning = book(course, PREPARATION, at(0, 9))
    afternoon = book(course, PREPARATION, at(0, 13))

    scheduling.move(
        appointment=afternoon, by=caller_of(place.front_desk), now=at(-2, 11), starts_at=at(0, 15)
    )

    (host,) = texts(morning)
    assert host.status == "pending"
    assert "9:00 AM and 3:00 PM" in host.body and "1:00 PM" not in host.body
    assert [(r.status, r.merged_into) for r in texts(afternoon)] == [("merged", host.id)]


def test_moving_the_carrying_appointment_away_hands_the_day_to_the_other(
    course, book, place, caller_of
):
    morning = book(course, PREPARATION, at(0, 9))
    afternoon = book(course, PREPARATION, at(0, 13))

    scheduling.move(
        appointment=morning, by=caller_of(place.front_desk), now=at(-2, 11), starts_at=at(1, 9)
    )

    (moved,) = texts(morning)
    assert (moved.status, moved.reason, moved.due_at) == ("pending", None, at(0, 9))
    assert "Tuesday, December 8" in moved.body and "1:00 PM" not in moved.body
    (alone,) = texts(afternoon)
    assert (alone.status, alone.reason, alone.merged_into) == ("pending", None, None)
    assert "1:00 PM" in alone.body and "9:00 AM" not in alone.body


def test_a_third_text_on_the_day_is_skipped(course, book):
    morning = book(course, PREPARATION, at(0, 9))
    book(course, PREPARATION, at(0, 13))
    dose = book(course, SessionKind.DOSING, at(0, 14, 30))

    (host,) = texts(morning)
    assert "2:30 PM" not in host.body
    assert [(r.offset_hours, r.status, r.reason) for r in texts(dose)] == [
        (24, "skipped", "sms_daily_cap")
    ]


def _texts_of(patient) -> list[Reminder]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(Reminder).where(Reminder.patient_id == patient.id, Reminder.channel == "sms")
        )
    )


def _check_texts(patient) -> None:
    rows = {row.id: row for row in _texts_of(patient)}
    zone = ZoneInfo(patient.time_zone)
    going = [r for r in rows.values() if r.status in ("pending", "sent")]
    days = [r.due_at.astimezone(zone).date() for r in going]
    assert len(days) == len(set(days)), "two texts on one day"
    for row in rows.values():
        appointment = db.session.get(Appointment, row.appointment_id)
        if row.status == "pending":
            assert appointment.status == "booked"
            carried = [r for r in rows.values() if r.merged_into == row.id]
            assert len(carried) == (1 if row.reason == "sms_daily_cap" else 0)
        if row.status == "merged":
            host = rows[row.merged_into]
            assert host.status == "pending" and appointment.status == "booked"
            local = appointment.starts_at.astimezone(zone)
            assert local.strftime("%I:%M %p").lstrip("0") in host.body
        elif row.merged_into is not None:
            raise AssertionError(f"a {row.status} text names a carrier")
        if (row.status, row.reason, appointment.status) == ("skipped", "sms_daily_cap", "booked"):
            assert row.due_at.astimezone(zone).date() in days, "a freed day kept its text skipped"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_bookings_moves_and_cancellations_keep_one_honest_text_a_day(
    seed, course, book, place, caller_of, patient, now
):
    rng = random.Random(seed)
    desk = caller_of(place.front_desk)
    booked: list[Appointment] = []
    for _ in range(25):
        starts = at(rng.randrange(0, 4), rng.choice((9, 11, 13, 15)))
        action = rng.choice(("book", "book", "move", "cancel")) if booked else "book"
        try:
            if action == "book":
                booked.append(book(course, PREPARATION, starts))
            elif action == "move":
                scheduling.move(appointment=rng.choice(booked), by=desk, now=now, starts_at=starts)
            else:
                gone = booked.pop(rng.randrange(len(booked)))
                attendance.cancel(appointment=gone, reason="patient ill", by=desk, now=now)
            db.session.commit()
        except RuleRefused:
            db.session.rollback()
        _check_texts(patient)
