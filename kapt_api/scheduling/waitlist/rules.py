"""The waitlist's decisions as plain functions over plain values, `now` passed in: is a
request to wait well formed, does a session fit what the patient accepts, who is
offered a freed time first, and may an offer still be accepted.

Who is first: clinical need, then waiting time. A course whose next session of the
kind must start before a protocol window closes (a dose's spacing and phase bounds,
an integration session's window after its dose: courses/progress.py) comes before
one with no such bound, the soonest closing first, because a missed window costs the
patient the treatment's continuity; among equals, the longest waiting first.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from kapt_api.clinics.rules import as_zone
from kapt_api.errors import Violation, register_rules

# Why an offer can no longer be accepted.
OFFER_RULES = register_rules("offer_taken", "offer_declined", "offer_expired")
MAX_WAIT_DAYS = 183  # the longest span of dates one entry may cover (half a year)


@dataclass(frozen=True)
class Window:
    """A local clock-time window [starts, ends) the patient accepts."""

    starts: time
    ends: time


@dataclass(frozen=True)
class Preferences:
    """What the patient accepts: local dates, ISO weekdays (Monday 0), local times,
    staff (empty: anyone) and the notice they need."""

    earliest: date
    latest: date
    weekdays: frozenset[int]
    windows: tuple[Window, ...]
    staff: frozenset[uuid.UUID]
    notice: timedelta


@dataclass(frozen=True)
class Candidate:
    """A waiting entry that could take a freed time: when its window closes (None: no
    protocol bound), since when it waits."""

    entry_id: uuid.UUID
    closes_at: datetime | None
    waiting_since: datetime


def request_errors(
    *,
    earliest: date,
    latest: date,
    windows: Sequence[Window],
    today: date,
) -> dict[str, list[str]]:
    """What is wrong with a request to wait, by field (empty: nothing)."""
    errors: dict[str, list[str]] = {}
    if latest < earliest:
        errors["latest_date"] = ["Must be on or after earliest_date."]
    elif latest < today:
        errors["latest_date"] = ["Must not be in the past (the clinic's calendar)."]
    elif (latest - earliest).days > MAX_WAIT_DAYS:
        errors["latest_date"] = [f"At most {MAX_WAIT_DAYS} days after earliest_date."]
    bad = [w for w in windows if w.ends <= w.starts]
    if bad:
        errors["time_windows"] = ["Each window must end after it starts, on the same day."]
    return errors


def fits(
    preferences: Preferences,
    *,
    starts_at: datetime,
    ends_at: datetime,
    staff_ids: Iterable[uuid.UUID],
    zone: str,
    now: datetime,
) -> bool:
    """Whether a session from `starts_at` to `ends_at` with these staff is one the
    patient accepts (dates, weekday and times on the clinic's clocks)."""
    tz = as_zone(zone)
    start, end = starts_at.astimezone(tz), ends_at.astimezone(tz)
    if starts_at - now < preferences.notice:
        return False
    if not preferences.earliest <= start.date() <= preferences.latest:
        return False
    if preferences.weekdays and start.weekday() not in preferences.weekdays:
        return False
    if preferences.staff and not preferences.staff & set(staff_ids):
        return False
    if not preferences.windows:
        return True
    if end.date() != start.date():
        return False
    return any(w.starts <= start.time() and end.time() <= w.ends for w in preferences.windows)


def need_key(candidate: Candidate) -> tuple[bool, datetime, datetime, str]:
    """The order of offers: a closing window first (soonest first), then the longest
    waiting, then the entry id so the order never depends on the database's."""
    closes = candidate.closes_at or candidate.waiting_since
    return (candidate.closes_at is None, closes, candidate.waiting_since, str(candidate.entry_id))


def rank(candidates: Iterable[Candidate]) -> list[Candidate]:
    """Candidates in the order they are offered a freed time."""
    return sorted(candidates, key=need_key)


def acceptance_violation(status: str, expires_at: datetime, *, now: datetime) -> Violation | None:
    """Why an offer can no longer be accepted (None: it can)."""
    if status == "accepted" or status == "taken":
        return Violation("offer_taken", "This offer has been taken; the time is booked.")
    if status == "declined":
        return Violation("offer_declined", "This offer was declined.")
    if status == "expired" or expires_at <= now:
        return Violation(
            "offer_expired", "This offer expired; the time may be offered to someone else."
        )
    return None
