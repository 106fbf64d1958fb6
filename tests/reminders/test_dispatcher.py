"""The dispatcher as a function of `now`, against a real SMTP server and a real HTTP
gateway: due rows are sent once, with their id as idempotency key; late ones expire;
transient failures back off and are retried; permanent ones fail with an alert;
a claim is a lease that another dispatcher respects until it ends."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import blinker
import pytest
from sqlalchemy import select

from kapt_api import scheduler
from kapt_api.db import db
from kapt_api.reminders import dispatcher
from kapt_api.reminders.channels import (
    ConsoleChannel,
    DeliveryError,
    GatewaySmsProvider,
    SmsChannel,
    SmtpChannel,
    SmtpSettings,
)
from kapt_api.reminders.claims import claim
from kapt_api.reminders.dispatcher import (
    Limits,
    channels_of,
    dispatch_due,
    dispatch_until_idle,
)
from kapt_api.reminders.models import Reminder

T0 = datetime(2026, 12, 6, 15, 0, tzinfo=UTC)
LIMITS = Limits(
    lease=timedelta(minutes=2), max_attempts=4, retry_base_seconds=30, retry_max_seconds=600
)
SECRET = "gateway-shared-secret"


@pytest.fixture
def clinic(make_clinic):
    return make_clinic(name="Cedar Clinic", time_zone="America/New_York")


@pytest.fixture
def outbox(clinic):
    def add(*, due=T0, expires=T0 + timedelta(hours=24), **values) -> Reminder:
        values.setdefault("channel", "email")
        values.setdefault("recipient", "avery@mail.test")
        row = Reminder(
            clinic_id=clinic.id,
            subject=values.pop("subject", "Appointment reminder: Cedar Clinic, Monday"),
            body=values.pop("body", "Hello Avery,\n\nSee you Monday at 9:00 AM."),
            due_at=due,
            next_attempt_at=due,
            expires_at=expires,
            **values,
        )
        db.session.add(row)
        db.session.commit()
        return row

    return add


@pytest.fixture
def registry(smtp_server, gateway):
    return {
        "email": SmtpChannel(SmtpSettings("127.0.0.1", smtp_server.port, "reminders@kapt.invalid")),
        "sms": SmsChannel(GatewaySmsProvider(gateway.url, SECRET)),
    }


def dispatch(registry, now, **kw):
    return dispatch_due(
        now=now, batch_size=kw.pop("batch_size", 50), channel_registry=registry, limits=LIMITS, **kw
    )


def fresh(row: Reminder) -> Reminder:
    db.session.expire_all()
    found = db.session.get(Reminder, row.id)
    assert found is not None
    return found


def test_a_due_email_is_sent_once_with_its_id_as_message_id(outbox, registry, smtp_server):
    row = outbox(attachment="BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")
    outbox(due=T0 + timedelta(minutes=1))  # not due yet

    report = dispatch(registry, T0)
    again = dispatch(registry, T0 + timedelta(seconds=30))

    assert (report.claimed, report.sent, again.claimed) == (1, 1, 0)
    (mail,) = smtp_server.mailbox.messages
    assert mail["Message-ID"] == f"<reminder-{row.id}@kapt.invalid>"
    assert mail["To"] == "avery@mail.test"
    kinds = [part.get_content_type() for part in mail.walk()]
    assert {"text/plain", "text/html", "text/calendar"} <= set(kinds)
    ics = next(p for p in mail.walk() if p.get_content_type() == "text/calendar")
    assert ics.get_filename() == "invite.ics"
    sent = fresh(row)
    assert (sent.status, sent.attempts, sent.sent_at, sent.lease_until) == ("sent", 1, T0, None)


def test_a_reminder_picked_up_after_its_session_started_expires_unsent(
    outbox, registry, smtp_server
):
    row = outbox(due=T0, expires=T0 + timedelta(hours=1))

    report = dispatch(registry, T0 + timedelta(hours=1))

    assert (report.expired, report.sent, smtp_server.mailbox.total) == (1, 0, 0)
    assert (fresh(row).status, fresh(row).reason) == ("expired", "session_started")


def test_with_the_server_down_it_backs_off_then_delivers(outbox, registry, smtp_server):
    row = outbox()
    smtp_server.stop()

    first = dispatch(registry, T0)
    waiting = fresh(row)
    assert (first.retrying, waiting.status, waiting.attempts) == (1, "pending", 1)
    assert "SMTP connection failed" in (waiting.last_error or "")
    # Jittered backoff: between half and all of the 30-s base.
    assert T0 + timedelta(seconds=15) <= waiting.next_attempt_at <= T0 + timedelta(seconds=30)
    assert dispatch(registry, T0 + timedelta(seconds=14)).claimed == 0

    smtp_server.start()
    later = dispatch(registry, T0 + timedelta(seconds=31))

    assert later.sent == 1
    assert (fresh(row).status, fresh(row).attempts) == ("sent", 2)
    assert smtp_server.mailbox.total == 1


@pytest.fixture
def new_yorker(clinic, make_patient):
    return make_patient(clinic, time_zone="America/New_York")


NIGHT = datetime(2026, 12, 7, 1, 59, 50, tzinfo=UTC)  # 20:59:50 in New York
MORNING = datetime(2026, 12, 7, 13, 0, tzinfo=UTC)  # 08:00 in New York


def test_a_retry_landing_in_quiet_hours_waits_for_08_00(outbox, registry, smtp_server, new_yorker):
    row = outbox(due=NIGHT, expires=MORNING + timedelta(hours=3), patient_id=new_yorker.id)
    smtp_server.stop()

    assert dispatch(registry, NIGHT).retrying == 1
    # The 15-30 s backoff ends after 21:00: the next try is the next morning.
    assert fresh(row).next_attempt_at == MORNING
    smtp_server.start()
    assert dispatch(registry, MORNING - timedelta(minutes=1)).claimed == 0

    report = dispatch(registry, MORNING)
    assert (report.sent, fresh(row).status, smtp_server.mailbox.total) == (1, "sent", 1)


def test_a_retry_whose_morning_is_after_the_session_start_expires(
    outbox, registry, smtp_server, new_yorker
):
    starts = MORNING - timedelta(hours=1)  # 07:00 in New York
    row = outbox(due=NIGHT, expires=starts, patient_id=new_yorker.id)
    smtp_server.stop()
    dispatch(registry, NIGHT)
    assert fresh(row).next_attempt_at == starts
    smtp_server.start()

    report = dispatch(registry, starts)

    assert (report.expired, report.sent, smtp_server.mailbox.total) == (1, 0, 0)
    assert (fresh(row).status, fresh(row).reason) == ("expired", "session_started")


def test_a_staff_message_is_retried_at_night_after_its_backoff(
    outbox, registry, smtp_server, new_yorker
):
    row = outbox(due=NIGHT, expires=None, patient_id=new_yorker.id, purpose="alert")
    smtp_server.stop()

    dispatch(registry, NIGHT)

    assert (
        NIGHT + timedelta(seconds=15) <= fresh(row).next_attempt_at <= NIGHT + timedelta(seconds=30)
    )


def test_backoff_doubles_until_the_last_attempt_fails_with_an_alert(outbox, registry, smtp_server):
    row = outbox()
    smtp_server.stop()
    alerts = []

    def receive(sender, **kw):
        alerts.append((sender, kw))

    blinker.signal("delivery.failed").connect(receive)
    try:
        at, delays = T0, []
        for _ in range(LIMITS.max_attempts - 1):
            dispatch(registry, at)
            nxt = fresh(row).next_attempt_at
            delays.append((nxt - at).total_seconds())
            at = nxt
        dispatch(registry, at)
    finally:
        blinker.signal("delivery.failed").disconnect(receive)

    failed = fresh(row)
    assert (failed.status, failed.attempts, failed.reason) == ("failed", 4, "undeliverable")
    assert 15 <= delays[0] <= 30 and 30 <= delays[1] <= 60 and 60 <= delays[2] <= 120
    assert alerts == [(row.id, {"now": at})]


def test_a_refused_recipient_fails_at_once_and_raises_an_alert(outbox, registry, smtp_server):
    row = outbox(recipient="nobody@mail.test")
    alerts = []

    def receive(sender, **kw):
        alerts.append(sender)

    blinker.signal("delivery.failed").connect(receive)
    try:
        report = dispatch(registry, T0)
    finally:
        blinker.signal("delivery.failed").disconnect(receive)

    assert (report.failed, alerts) == (1, [row.id])
    failed = fresh(row)
    assert failed.status == "failed" and "550" in (failed.last_error or "")


def test_a_claim_is_a_lease_the_others_respect_until_it_ends(outbox, registry, smtp_server):
    row = outbox()

    taken = claim(now=T0, batch_size=10, worker="a", lease=LIMITS.lease)
    assert [c.message.id for c in taken.items] == [row.id]
    assert dispatch(registry, T0 + timedelta(seconds=119), worker="b").claimed == 0

    # "a" died; its lease ends and "b" sends the reminder.
    report = dispatch(registry, T0 + timedelta(seconds=120), worker="b")
    assert (report.claimed, report.sent) == (1, 1)
    assert (fresh(row).attempts, smtp_server.mailbox.total) == (2, 1)


def test_a_dispatcher_that_lost_its_lease_does_not_overwrite_the_new_holder(
    outbox, registry, smtp_server
):
    row = outbox()
    claim(now=T0, batch_size=10, worker="a", lease=LIMITS.lease)
    claim(now=T0 + timedelta(minutes=3), batch_size=10, worker="b", lease=LIMITS.lease)

    # "a" comes back and fails: its mark must not touch b's claim.
    item = dispatcher.Claimed(dispatcher.Outgoing(row.id, "email", "", None, ""), 1)
    report = dispatcher.DispatchReport()
    dispatcher._mark(
        [item],
        [DeliveryError("x", permanent=True)],
        now=T0 + timedelta(minutes=3),
        worker="a",
        limits=LIMITS,
        report=report,
    )
    held = fresh(row)
    assert (held.status, held.leased_by) == ("pending", "b")


def test_a_text_goes_to_the_gateway_signed_with_its_id_as_idempotency_key(
    outbox, registry, gateway
):
    row = outbox(channel="sms", recipient="+15555550199", subject=None, body="Cedar Clinic: hi")

    assert dispatch(registry, T0).sent == 1

    ((headers, body),) = gateway.posts
    assert json.loads(body) == {"to": "+15555550199", "body": "Cedar Clinic: hi"}
    assert headers["Idempotency-Key"] == str(row.id)
    expected = hmac.new(
        SECRET.encode(), headers["X-Kapt-Timestamp"].encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    assert headers["X-Kapt-Signature"] == f"sha256={expected}"


def test_a_gateway_refusal_is_permanent_and_its_outage_transient(outbox, registry, gateway):
    refused = outbox(channel="sms", recipient="+15555550199", body="x")
    gateway.status = 400
    dispatch(registry, T0)
    gateway.status = 503
    busy = outbox(channel="sms", recipient="+15555550199", body="y")
    dispatch(registry, T0)

    assert fresh(refused).status == "failed"
    assert (fresh(busy).status, fresh(busy).last_error) == ("pending", "webhook answered 503")


def test_the_console_channel_records_what_it_delivers(outbox):
    row = outbox()
    console = ConsoleChannel()

    assert dispatch({"email": console}, T0).sent == 1
    assert [m.id for m in console.delivered] == [row.id]


def test_a_channel_nobody_configured_fails_the_reminder(outbox):
    row = outbox(channel="sms", recipient="+15555550199")

    assert dispatch({"email": ConsoleChannel()}, T0).failed == 1
    assert fresh(row).last_error == "no sms channel configured"


def test_rows_are_claimed_in_due_order_in_batches(outbox):
    rows = [outbox(due=T0 - timedelta(minutes=n)) for n in range(5)]
    console = ConsoleChannel()

    first = dispatch({"email": console}, T0, batch_size=3)
    second = dispatch({"email": console}, T0, batch_size=3)

    assert (first.sent, second.sent) == (3, 2)
    assert [m.id for m in console.delivered] == [r.id for r in reversed(rows)]
    assert db.session.scalars(select(Reminder.status).distinct()).all() == ["sent"]


def test_the_scheduler_runs_the_dispatcher_every_tick(app):
    runner = scheduler.build(app, blocking=False)
    job = runner.get_job("dispatch-reminders")

    assert job is not None
    assert job.trigger.interval == timedelta(seconds=app.config["KAPT_SCHEDULER_TICK_SECONDS"])
    assert (job.coalesce, job.max_instances) == (True, 1)


def test_the_dispatcher_job_sends_through_the_apps_channels(app, outbox):
    rows = [outbox(due=T0 - timedelta(minutes=n)) for n in range(3)]

    report = dispatch_until_idle(now=T0)

    console = channels_of(app)["email"]
    assert report.sent == 3
    assert isinstance(console, ConsoleChannel)  # no SMTP host in the test settings
    assert {r.id for r in rows} <= {m.id for m in console.delivered}
