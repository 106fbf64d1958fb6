"""Reminder decisions over plain values: which channel, when, and whether a text may
go at all (DOMAIN.md §5). No database, no Flask."""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from kapt_api.protocols.definition import Channel

# TCPA: calls and texts between 08:00 and 21:00 in the recipient's zone (DOMAIN.md §5.2).
QUIET_ENDS = time(8, 0)
QUIET_STARTS = time(21, 0)
# TCPA healthcare exemption: at most 1 text a day and 3 a week per patient.
SMS_PER_DAY = 1
SMS_PER_WEEK = 3


@dataclass(frozen=True)
class Recipient:
    """What planning may know of a patient's contact and consent."""

    preferred_channel: str  # "email", "sms" or "none"
    email: str | None
    phone: str | None
    sms_opt_in: bool
    sms_opted_out: bool
    time_zone: str


@dataclass(frozen=True)
class ChannelChoice:
    channel: Channel
    address: str | None
    skip_reason: str | None = None


def channel_for(recipient: Recipient, allowed: Iterable[Channel]) -> ChannelChoice | None:
    """The one channel a patient is reminded on: their preference, if the protocol's
    policy uses it. None means no reminder at all (the patient said none, or the
    policy does not use that channel). A choice with a skip reason is recorded but
    never sent (no address, no SMS consent, or consent withdrawn)."""
    if recipient.preferred_channel == "none":
        return None
    channel = Channel(recipient.preferred_channel)
    if channel not in set(allowed):
        return None
    if channel is Channel.EMAIL:
        if not recipient.email:
            return ChannelChoice(channel, None, "no_email_address")
        return ChannelChoice(channel, recipient.email)
    if not recipient.phone:
        return ChannelChoice(channel, None, "no_phone_number")
    if recipient.sms_opted_out:
        return ChannelChoice(channel, recipient.phone, "sms_opted_out")
    if not recipient.sms_opt_in:
        return ChannelChoice(channel, recipient.phone, "sms_not_consented")
    return ChannelChoice(channel, recipient.phone)


def within_waking_hours(due: datetime, zone: str) -> datetime:
    """The due time moved into 08:00-21:00 in the recipient's zone: earlier than 08:00
    waits for 08:00, 21:00 or later is sent at 20:59 the same day (before, not after,
    so a reminder never comes closer to the session than its policy says)."""
    local = due.astimezone(ZoneInfo(zone))
    if local.time() < QUIET_ENDS:
        local = local.replace(hour=QUIET_ENDS.hour, minute=0, second=0, microsecond=0)
    elif local.time() >= QUIET_STARTS:
        local = local.replace(hour=QUIET_STARTS.hour - 1, minute=59, second=0, microsecond=0)
    return local.astimezone(due.tzinfo)


def next_waking_moment(at: datetime, zone: str, *, expires: datetime | None) -> datetime:
    """When a retry planned for `at` may go: at once inside 08:00-21:00 in the
    recipient's zone, else the next 08:00 there; never later than `expires` (the
    session's start), where the dispatcher expires it instead of sending it late."""
    tz = ZoneInfo(zone)
    local = at.astimezone(tz)
    if QUIET_ENDS <= local.time() < QUIET_STARTS:
        return at
    day = local.date() if local.time() < QUIET_ENDS else local.date() + timedelta(days=1)
    waking = datetime.combine(day, QUIET_ENDS, tzinfo=tz).astimezone(at.tzinfo)
    return min(waking, expires) if expires is not None else waking


def sms_cap_reason(due: datetime, zone: str, other_texts: Iterable[datetime]) -> str | None:
    """Why one more text at `due` would break the 1-a-day or 3-in-any-7-days cap, given
    the patient's other planned or sent texts (in their zone's days), or None."""
    tz = ZoneInfo(zone)
    day = due.astimezone(tz).date()
    days = [other.astimezone(tz).date() for other in other_texts]
    if sum(1 for d in days if d == day) >= SMS_PER_DAY:
        return "sms_daily_cap"
    for first in (day - timedelta(days=n) for n in range(7)):
        if sum(1 for d in days if first <= d <= first + timedelta(days=6)) >= SMS_PER_WEEK:
            return "sms_weekly_cap"
    return None


def retry_delay(
    attempts: int, *, base_seconds: int, cap_seconds: int, rng: random.Random | None = None
) -> timedelta:
    """Exponential backoff with full jitter after `attempts` failed tries: a random
    delay up to base * 2^(attempts-1), capped, never less than half of it, so many
    dispatchers that failed together do not retry together."""
    ceiling = min(cap_seconds, base_seconds * 2 ** max(attempts - 1, 0))
    draw = (rng or random).uniform(0.5, 1.0)
    return timedelta(seconds=ceiling * draw)
