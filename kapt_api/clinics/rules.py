"""The clinics domain's decisions over plain values: weekly hours, time off, and how a
clinic's wall-clock pattern becomes UTC ranges on a given local date (DST included).

A weekly interval is wall-clock time in the clinic's zone: opening at 09:00 means
09:00 on the clinic's clocks in January and in July. A window covers the instants
from the first moment the clocks show its start until the first moment they show
its end. On a spring-forward day a time the clocks skip is reached when the clocks
jump past it; on a fall-back day a repeated time counts from its first occurrence.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import NamedTuple
from zoneinfo import ZoneInfo

from kapt_api.fields import WEEKDAYS

MAX_TIME_OFF = timedelta(days=366)

UtcRange = tuple[datetime, datetime]


class WeeklyInterval(NamedTuple):
    """A recurring span of wall-clock time on one weekday (0 = Monday ... 6 = Sunday).

    A named tuple, so that hashing and comparing one is not a Python call: the same few
    patterns are looked up by value for every start a slot search checks (_day_in_utc)."""

    weekday: int
    start: time
    end: time

    def label(self) -> str:
        day = WEEKDAYS[self.weekday] if 0 <= self.weekday <= 6 else str(self.weekday)
        return f"{day} {self.start:%H:%M}-{self.end:%H:%M}"


class LocalTimeProblem(ValueError):
    """A local date and time that names no single instant in a zone."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


# --- weekly hours and time off --------------------------------------------------------------


def weekly_hours_errors(intervals: Sequence[WeeklyInterval], *, field: str) -> dict[str, list[str]]:
    """Every problem of a weekly pattern, keyed `field.index`: each interval must end
    after it starts on the same day, and no two may overlap on the same weekday."""
    errors: defaultdict[str, list[str]] = defaultdict(list)
    for index, item in enumerate(intervals):
        if not 0 <= item.weekday <= 6:
            errors[f"{field}.{index}"].append("The weekday must be monday to sunday.")
        elif item.start >= item.end:
            errors[f"{field}.{index}"].append(
                f"Must end after it starts ({item.label()}); an interval cannot cross midnight."
            )
    usable = [
        (index, item) for index, item in enumerate(intervals) if f"{field}.{index}" not in errors
    ]
    for position, (first_index, first) in enumerate(usable):
        for later_index, later in usable[position + 1 :]:
            same_day = first.weekday == later.weekday
            if same_day and first.start < later.end and later.start < first.end:
                errors[f"{field}.{later_index}"].append(
                    f"Overlaps {field}.{first_index} ({first.label()})."
                )
    return dict(errors)


def time_off_errors(starts_at: datetime, ends_at: datetime) -> dict[str, list[str]]:
    """What is wrong with a time-off span: it must end after it starts and last at most
    366 days (a longer span is almost always a mistyped year)."""
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise ValueError("time off needs aware datetimes")
    if ends_at <= starts_at:
        return {"ends_at": ["Must be after starts_at."]}
    if ends_at - starts_at > MAX_TIME_OFF:
        days = MAX_TIME_OFF.days
        return {"ends_at": [f"Time off may last at most {days} days; check the dates."]}
    return {}


# --- wall-clock time to UTC ------------------------------------------------------------------


def as_zone(zone: ZoneInfo | str) -> ZoneInfo:
    return zone if isinstance(zone, ZoneInfo) else ZoneInfo(zone)


def _wall(instant: datetime, zone: ZoneInfo) -> datetime:
    return instant.astimezone(zone).replace(tzinfo=None)


def first_instant_at(day: date, wall: time, zone: ZoneInfo | str) -> datetime:
    """The first moment (aware UTC) at which the zone's clocks show `wall` on `day`, or,
    when the clocks skip that time, the moment they jump past it."""
    tz = as_zone(zone)
    local = datetime.combine(day, wall)
    first = local.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if _wall(first, tz) == local:
        return first  # exists; fold=0 is the earlier of two occurrences
    # In a gap: the two readings bracket the jump. Before it the clocks show less than
    # `local`, from it on more: find the first second at which they show `local` or later.
    other = local.replace(tzinfo=tz, fold=1).astimezone(UTC)
    low, high = int(min(first, other).timestamp()), int(max(first, other).timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        if _wall(datetime.fromtimestamp(middle, UTC), tz) >= local:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)


def strict_local_to_utc(day: date, wall: time, zone: ZoneInfo | str) -> datetime:
    """The one instant (aware UTC) the clocks show `wall` on `day`; refuses a time the
    clocks skip or show twice, saying which."""
    tz = as_zone(zone)
    local = datetime.combine(day, wall)
    earlier = local.replace(tzinfo=tz, fold=0).astimezone(UTC)
    later = local.replace(tzinfo=tz, fold=1).astimezone(UTC)
    shown = f"{wall:%H:%M} on {day.isoformat()} in {tz.key}"
    if _wall(earlier, tz) != local:
        raise LocalTimeProblem(
            "nonexistent", f"{shown} does not exist: the clocks skip it (daylight saving time)."
        )
    if earlier != later:
        raise LocalTimeProblem(
            "ambiguous", f"{shown} happens twice (the clocks go back); give the UTC offset."
        )
    return earlier


def local_intervals_to_utc(
    day: date, intervals: Iterable[WeeklyInterval], zone: ZoneInfo | str
) -> list[UtcRange]:
    """The UTC ranges that a weekly wall-clock pattern covers on one local date, in order.
    An interval lying wholly inside a spring-forward gap covers nothing and is left out."""
    return list(_day_in_utc(day, tuple(intervals), as_zone(zone)))


# The same few patterns (a clinic's hours, its staff's) are turned into UTC for the same
# days again and again: by every candidate start of a slot search and every booking's
# hours rules. The answer depends on nothing else, so it is kept.
@lru_cache(maxsize=8192)
def _day_in_utc(
    day: date, intervals: tuple[WeeklyInterval, ...], tz: ZoneInfo
) -> tuple[UtcRange, ...]:
    ranges = []
    for item in sorted(i for i in intervals if i.weekday == day.weekday()):
        start = first_instant_at(day, item.start, tz)
        end = first_instant_at(day, item.end, tz)
        if start < end:
            ranges.append((start, end))
    return tuple(ranges)


def _minutes(at: time) -> int:
    return at.hour * 60 + at.minute


def _clock(minutes: int) -> time:
    return time(minutes // 60, minutes % 60)


def added_intervals(
    old: Iterable[WeeklyInterval], new: Iterable[WeeklyInterval]
) -> list[WeeklyInterval]:
    """The parts of the new weekly pattern the old one did not cover, by weekday and
    start (to the minute, as working hours are given)."""
    added = []
    before = sorted(old)
    for item in sorted(new):
        parts = [(_minutes(item.start), _minutes(item.end))]
        for was in (w for w in before if w.weekday == item.weekday):
            cut_from, cut_to = _minutes(was.start), _minutes(was.end)
            parts = [
                piece
                for start, end in parts
                for piece in ((start, min(end, cut_from)), (max(start, cut_to), end))
                if piece[0] < piece[1]
            ]
        added += [WeeklyInterval(item.weekday, _clock(a), _clock(b)) for a, b in parts]
    return added


def local_day_to_utc(day: date, zone: ZoneInfo | str) -> UtcRange:
    """The UTC range of one calendar day in a zone (23, 24 or 25 hours long)."""
    tz = as_zone(zone)
    return first_instant_at(day, time(0), tz), first_instant_at(
        day + timedelta(days=1), time(0), tz
    )


def utc_ranges_between(
    starts_at: datetime,
    ends_at: datetime,
    intervals: Sequence[WeeklyInterval],
    zone: ZoneInfo | str,
) -> list[UtcRange]:
    """The UTC ranges a weekly pattern covers within [starts_at, ends_at), clipped to it."""
    tz = as_zone(zone)
    # Only the local dates the range touches: a date's intervals lie within that date on
    # the clinic's clocks, and the clocks' date does not go backwards (since the last
    # zones moved across the date line, in the 19th century), so no other date's can.
    day = starts_at.astimezone(tz).date()
    last = ends_at.astimezone(tz).date()
    ranges: list[UtcRange] = []
    pattern = tuple(intervals)
    while day <= last:
        for start, end in _day_in_utc(day, pattern, tz):
            start, end = max(start, starts_at), min(end, ends_at)
            if start < end:
                ranges.append((start, end))
        day += _ONE_DAY
    # One range (a session inside one day's hours, the commonest ask) is merged already.
    return ranges if len(ranges) < 2 else merge_ranges(ranges)


_ONE_DAY = timedelta(days=1)


def merge_ranges(ranges: Iterable[UtcRange]) -> list[UtcRange]:
    """Ranges sorted, with overlapping and touching ones joined (09-12 and 12-17 make 09-17)."""
    merged: list[UtcRange] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def covers(ranges: Iterable[UtcRange], starts_at: datetime, ends_at: datetime) -> bool:
    """Whether [starts_at, ends_at) lies inside the ranges taken together."""
    return any(start <= starts_at and ends_at <= end for start, end in merge_ranges(ranges))


def overlaps(a: UtcRange, b: UtcRange) -> bool:
    """Whether two half-open ranges share an instant."""
    return a[0] < b[1] and b[0] < a[1]


def local_text(instant: datetime, zone: str) -> str:
    """An instant as the clinic's clocks show it: "Tue 8 Dec 2026 09:00"."""
    return f"{local_day(instant, zone)} {local_clock(instant, zone)}"


def local_day(instant: datetime, zone: str) -> str:
    """The clinic's calendar day of an instant: "Tue 8 Dec 2026"."""
    local = instant.astimezone(ZoneInfo(zone))
    return f"{local:%a} {local.day} {local:%b %Y}"


def local_clock(instant: datetime, zone: str) -> str:
    """Only the clinic's wall-clock time of an instant: "09:00"."""
    return f"{instant.astimezone(ZoneInfo(zone)):%H:%M}"
