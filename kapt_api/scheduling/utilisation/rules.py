"""The arithmetic of chair utilisation, over plain values: which days a range may span,
and the hours of held time (booked, freed, backfilled) that fall inside it, in all and
per room. No database, no Flask."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

MAX_DAYS = 366  # a leap year: "this year against last" is one question each
HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class Held:
    """Chair time held in a room: a dosing session with its buffer, or freed time."""

    room_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime


@dataclass
class Figures:
    """Hours booked, freed and backfilled (each rounded to the hundredth)."""

    booked: timedelta = field(default_factory=timedelta)
    freed: timedelta = field(default_factory=timedelta)
    backfilled: timedelta = field(default_factory=timedelta)

    def hours(self) -> dict[str, float]:
        return {
            "booked_hours": round(self.booked / HOUR, 2),
            "freed_hours": round(self.freed / HOUR, 2),
            "backfilled_hours": round(self.backfilled / HOUR, 2),
        }


def range_violations(first: date, last: date) -> dict[str, list[str]]:
    """What is wrong with a range of days `first` to `last` (both included), by field."""
    if last < first:
        return {"to": ["Must be on or after `from`."]}
    if (last - first).days + 1 > MAX_DAYS:
        return {"to": [f"A range spans at most {MAX_DAYS} days."]}
    return {}


def within(held: Held, since: datetime, until: datetime) -> timedelta:
    """How much of the held time lies in [since, until)."""
    return max(timedelta(), min(held.ends_at, until) - max(held.starts_at, since))


@dataclass(frozen=True)
class Utilisation:
    total: Figures
    rooms: dict[uuid.UUID, Figures]


def chair_hours(
    *,
    booked: Iterable[Held],
    freed: Iterable[Held],
    backfilled: Iterable[Held],
    since: datetime,
    until: datetime,
    rooms: Iterable[uuid.UUID] = (),
) -> Utilisation:
    """The held time of each kind inside [since, until), in all and per room (every
    room of `rooms` listed, with zeros when nothing was held there). Each row counts
    on its own: time freed twice (booked again, then cancelled again) is freed twice."""
    total = Figures()
    per_room = {room: Figures() for room in rooms}
    for what, rows in (("booked", booked), ("freed", freed), ("backfilled", backfilled)):
        for held in rows:
            inside = within(held, since, until)
            if not inside:
                continue
            room = per_room.setdefault(held.room_id, Figures())
            setattr(total, what, getattr(total, what) + inside)
            setattr(room, what, getattr(room, what) + inside)
    return Utilisation(total, per_room)
