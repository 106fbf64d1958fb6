"""Dates, date-times, wall-clock times, weekdays and time zones, as RFC 3339 and the
IANA database write them, within the years the clinic can mean."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import marshmallow as ma

from kapt_api.fields.metadata import openapi_metadata

_HHMM = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
MIN_YEAR, MAX_YEAR = 1900, 2200
# RFC 3339 written out, with the year range in the pattern, so the OpenAPI document
# states exactly which dates and date-times the API accepts.
_YEAR = "(19[0-9]{2}|2[01][0-9]{2}|2200)"
_DAY = "-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
_TIME = "[Tt]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?"
_OFFSET = "([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])"
DATE_PATTERN = re.compile(f"^{_YEAR}{_DAY}$")
DATE_TIME_PATTERN = re.compile(f"^{_YEAR}{_DAY}{_TIME}{_OFFSET}$")
DATE_SHAPE = re.compile(f"^[0-9]{{4}}{_DAY}$")
DATE_TIME_SHAPE = re.compile(f"^[0-9]{{4}}{_DAY}{_TIME}{_OFFSET}$")
NAIVE_DATE_TIME_SHAPE = re.compile(f"^[0-9]{{4}}{_DAY}{_TIME}$")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class TimeZoneName(ma.fields.String):
    """An IANA time zone name such as America/New_York, checked against the zones this
    server can load; the document names it once, as the TimeZone schema."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        name = super()._deserialize(value, attr, data, **kwargs)
        if name not in zone_names():
            raise ma.ValidationError("Not a known IANA time zone (e.g. America/New_York).")
        return name


_ZONES: tuple[str, ...] | None = None


def zone_names() -> tuple[str, ...]:
    """Every IANA zone name that zoneinfo can load here, sorted."""
    global _ZONES
    if _ZONES is None:
        _ZONES = tuple(sorted(name for name in available_timezones() if _loads(name)))
    return _ZONES


def _loads(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


class AwareDateTime(ma.fields.AwareDateTime):
    """RFC 3339 date-time with an offset, years 1900 to 2200 as written; stored and returned
    in UTC. The year range applies to the time as sent: its UTC instant may fall a few hours
    outside it, which is why answers document only the format (see openapi.document_errors).
    """

    default_error_messages = {
        "invalid": "Not a valid date-time: use RFC 3339, e.g. 2026-12-01T09:30:00-05:00.",
        "invalid_awareness": "Give the time with its offset, e.g. 2026-12-01T09:30:00-05:00.",
        "range": f"Must fall between the years {MIN_YEAR} and {MAX_YEAR}.",
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            format="iso",
            default_timezone=None,
            **openapi_metadata(
                kwargs, pattern=DATE_TIME_PATTERN.pattern, example="2026-12-01T09:30:00-05:00"
            ),
        )

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        if not isinstance(value, str):
            raise self.make_error("invalid")
        if NAIVE_DATE_TIME_SHAPE.fullmatch(value):
            raise self.make_error("invalid_awareness")
        if not DATE_TIME_PATTERN.fullmatch(value):
            raise self.make_error("range" if DATE_TIME_SHAPE.fullmatch(value) else "invalid")
        return super()._deserialize(value.upper(), attr, data, **kwargs).astimezone(UTC)


class Date(ma.fields.Date):
    """A calendar day YYYY-MM-DD, years 1900 to 2200."""

    default_error_messages = {
        "invalid": "Not a valid date: use YYYY-MM-DD.",
        "range": f"Must fall between the years {MIN_YEAR} and {MAX_YEAR}.",
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            **openapi_metadata(kwargs, pattern=DATE_PATTERN.pattern, example="2026-12-01")
        )

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> date:
        if not isinstance(value, str):
            raise self.make_error("invalid")
        if not DATE_PATTERN.fullmatch(value):
            raise self.make_error("range" if DATE_SHAPE.fullmatch(value) else "invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class LocalTime(ma.fields.Field):
    """A wall-clock time "HH:MM" in some local zone (working and opening hours)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**openapi_metadata(kwargs, example="09:00", pattern=_HHMM.pattern))

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else value.strftime("%H:%M")

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> time:
        if not isinstance(value, str) or not _HHMM.fullmatch(value):
            raise ma.ValidationError("Use 24-hour HH:MM, e.g. 09:00.")
        hours, minutes = value.split(":")
        return time(int(hours), int(minutes))


class Weekday(ma.fields.String):
    """monday ... sunday, stored as 0 ... 6 (Python's weekday())."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**openapi_metadata(kwargs, enum=list(WEEKDAYS)))

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else WEEKDAYS[value]

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        name = super()._deserialize(value, attr, data, **kwargs)
        if name not in WEEKDAYS:
            raise ma.ValidationError("Use a weekday name: " + ", ".join(WEEKDAYS) + ".")
        return WEEKDAYS.index(name)
