"""Reminder rules over plain values: channel and consent, waking hours in the
patient's zone, the 1-a-day and 3-a-week text caps, backoff with jitter."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kapt_api.protocols.definition import Channel
from kapt_api.reminders.rules import (
    Recipient,
    channel_for,
    next_waking_moment,
    retry_delay,
    sms_cap_reason,
    within_waking_hours,
)

NY = "America/New_York"
BOTH = frozenset(Channel)


def recipient(**kw) -> Recipient:
    values = {
        "preferred_channel": "email",
        "email": "avery@mail.test",
        "phone": "+15555550199",
        "sms_opt_in": True,
        "sms_opted_out": False,
        "time_zone": NY,
    }
    return Recipient(**{**values, **kw})


@pytest.mark.parametrize(
    ("kw", "allowed", "expected"),
    [
        ({}, BOTH, (Channel.EMAIL, "avery@mail.test", None)),
        ({"preferred_channel": "sms"}, BOTH, (Channel.SMS, "+15555550199", None)),
        ({"preferred_channel": "sms", "sms_opt_in": False}, BOTH, "sms_not_consented"),
        ({"preferred_channel": "sms", "sms_opted_out": True}, BOTH, "sms_opted_out"),
        ({"preferred_channel": "sms", "phone": None}, BOTH, "no_phone_number"),
        ({"email": None}, BOTH, "no_email_address"),
        ({"preferred_channel": "none"}, BOTH, None),
        ({"preferred_channel": "sms"}, frozenset({Channel.EMAIL}), None),
    ],
)
def test_the_patients_own_channel_and_consent_decide(kw, allowed, expected):
    choice = channel_for(recipient(**kw), allowed)

    if expected is None or isinstance(expected, tuple):
        assert (choice and (choice.channel, choice.address, choice.skip_reason)) == expected
    else:
        assert choice is not None and choice.skip_reason == expected


def ny(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=ZoneInfo(NY)).astimezone(UTC)


@pytest.mark.parametrize(
    ("due", "sent"),
    [
        (ny(7, 7, 30), ny(7, 8)),  # too early: waits for 08:00
        (ny(7, 8), ny(7, 8)),
        (ny(7, 20, 59), ny(7, 20, 59)),
        (ny(7, 21), ny(7, 20, 59)),  # too late: earlier, never closer to the session
        (ny(7, 23, 30), ny(7, 20, 59)),
    ],
)
def test_messages_go_between_08_and_21_in_the_patients_zone(due, sent):
    assert within_waking_hours(due, NY) == sent


def test_waking_hours_are_the_patients_not_utcs():
    # 13:00 UTC is 08:00 in New York but 00:00 in Sydney the next day.
    due = datetime(2026, 12, 7, 13, tzinfo=UTC)

    assert within_waking_hours(due, NY) == due
    assert (
        within_waking_hours(due, "Australia/Sydney").astimezone(ZoneInfo("Australia/Sydney")).hour
        == 8
    )


def test_one_text_a_day():
    assert sms_cap_reason(ny(7, 9), NY, []) is None
    assert sms_cap_reason(ny(7, 18), NY, [ny(7, 9)]) == "sms_daily_cap"
    assert sms_cap_reason(ny(8, 9), NY, [ny(7, 9)]) is None


def test_three_texts_in_any_seven_days():
    three = [ny(1, 9), ny(3, 9), ny(5, 9)]

    assert sms_cap_reason(ny(7, 9), NY, three) == "sms_weekly_cap"
    assert sms_cap_reason(ny(8, 9), NY, three) is None  # 2-8 Dec holds two of them
    assert sms_cap_reason(ny(7, 9), NY, three[1:]) is None


@given(st.integers(min_value=1, max_value=30), st.integers(min_value=0, max_value=2**32))
def test_backoff_doubles_within_jitter_and_is_capped(attempts, seed):
    delay = retry_delay(attempts, base_seconds=30, cap_seconds=3600, rng=random.Random(seed))

    ceiling = min(3600, 30 * 2 ** (attempts - 1))
    assert timedelta(seconds=ceiling / 2) <= delay <= timedelta(seconds=ceiling)


def _ny(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=ZoneInfo(NY)).astimezone(UTC)


@pytest.mark.parametrize(
    ("retry", "expected"),
    [
        (_ny(7, 12), _ny(7, 12)),  # waking hours: at once
        (_ny(7, 8), _ny(7, 8)),
        (_ny(7, 20, 59), _ny(7, 20, 59)),
        (_ny(7, 21), _ny(8, 8)),  # from 21:00 to the next morning
        (_ny(7, 23, 30), _ny(8, 8)),
        (_ny(8, 3), _ny(8, 8)),  # after midnight: the same morning
        (_ny(8, 7, 59), _ny(8, 8)),
    ],
)
def test_a_retry_in_quiet_hours_waits_for_08_00_in_the_patients_zone(retry, expected):
    assert next_waking_moment(retry, NY, expires=None) == expected


def test_a_retry_never_waits_past_the_session_start():
    session = _ny(8, 7, 30)
    assert next_waking_moment(_ny(7, 22), NY, expires=session) == session
    assert next_waking_moment(_ny(7, 22), NY, expires=_ny(8, 9)) == _ny(8, 8)


def test_the_morning_after_a_clock_change_is_08_00_local():
    # New York springs forward at 02:00 on 14 Mar 2027: 08:00 EDT is 12:00 UTC.
    late = datetime(2027, 3, 14, 2, 30, tzinfo=UTC)  # 21:30 EST on the 13th
    assert next_waking_moment(late, NY, expires=None) == datetime(2027, 3, 14, 12, 0, tzinfo=UTC)
