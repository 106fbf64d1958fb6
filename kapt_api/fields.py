"""marshmallow field types shared by every domain's schemas.

They refuse what the database or the clinic cannot use, with messages in plain
words: times without an offset, NUL characters, unknown time zones, phone numbers
that are not E.164.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import marshmallow as ma

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
MIN_YEAR, MAX_YEAR = 1900, 2200
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _meta(kwargs: dict[str, Any], **defaults: Any) -> dict[str, Any]:
    """kwargs with OpenAPI metadata defaults added (the caller's own metadata wins)."""
    kwargs["metadata"] = {**defaults, **kwargs.get("metadata", {})}
    return kwargs


class Text(ma.fields.String):
    """A string with a length limit and no control characters (PostgreSQL refuses NUL)."""

    def __init__(
        self, *, max_length: int = 200, min_length: int = 0, strip: bool = True, **kwargs: Any
    ) -> None:
        self.strip = strip
        validators = list(kwargs.pop("validate", []) or [])
        validators.append(ma.validate.Length(min=min_length, max=max_length))
        super().__init__(validate=validators, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if _CONTROL.search(text):
            raise ma.ValidationError("Must not contain control characters.")
        return text.strip() if self.strip else text


class Email(Text):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=254, min_length=3, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if not _EMAIL.match(text):
            raise ma.ValidationError("Not a valid email address.")
        return text.lower()


class Phone(Text):
    """Phone number in E.164 form, for example +15551234567."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=16, **_meta(kwargs, example="+15551234567"))

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if not _E164.match(text):
            raise ma.ValidationError(
                "Use E.164 form: + then country code and number, e.g. +15551234567."
            )
        return text


class TimeZoneName(Text):
    """An IANA time zone name such as America/New_York."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=64, **_meta(kwargs, example="America/New_York"))

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        name = super()._deserialize(value, attr, data, **kwargs)
        if name not in _zone_names():
            raise ma.ValidationError("Not a known IANA time zone (e.g. America/New_York).")
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ma.ValidationError(
                "Not a known IANA time zone (e.g. America/New_York)."
            ) from None
        return name


_ZONES: frozenset[str] | None = None


def _zone_names() -> frozenset[str]:
    global _ZONES
    if _ZONES is None:
        _ZONES = frozenset(available_timezones())
    return _ZONES


class AwareDateTime(ma.fields.AwareDateTime):
    """RFC 3339 date-time with an offset; stored and returned in UTC."""

    default_error_messages = {
        "invalid": "Not a valid date-time: use RFC 3339, e.g. 2026-12-01T09:30:00-05:00.",
        "invalid_awareness": "Give the time with its offset, e.g. 2026-12-01T09:30:00-05:00.",
        "range": f"Must fall between the years {MIN_YEAR} and {MAX_YEAR}.",
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="iso", default_timezone=None, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        if not isinstance(value, str) or "T" not in value.upper():
            raise self.make_error("invalid")
        parsed = super()._deserialize(value, attr, data, **kwargs)
        if not MIN_YEAR <= parsed.year <= MAX_YEAR:
            raise self.make_error("range")
        return parsed.astimezone(UTC)


class Date(ma.fields.Date):
    default_error_messages = {
        "invalid": "Not a valid date: use YYYY-MM-DD.",
        "range": f"Must fall between the years {MIN_YEAR} and {MAX_YEAR}.",
    }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> date:
        parsed = super()._deserialize(value, attr, data, **kwargs)
        if not MIN_YEAR <= parsed.year <= MAX_YEAR:
            raise self.make_error("range")
        return parsed


class LocalTime(ma.fields.Field):
    """A wall-clock time "HH:MM" in some local zone (working and opening hours)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**_meta(kwargs, example="09:00"))

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else value.strftime("%H:%M")

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> time:
        if not isinstance(value, str) or not _HHMM.match(value):
            raise ma.ValidationError("Use 24-hour HH:MM, e.g. 09:00.")
        hours, minutes = value.split(":")
        return time(int(hours), int(minutes))


class Weekday(ma.fields.String):
    """monday ... sunday, stored as 0 ... 6 (Python's weekday())."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**_meta(kwargs, enum=list(WEEKDAYS)))

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else WEEKDAYS[value]

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        name = super()._deserialize(value, attr, data, **kwargs)
        if name not in WEEKDAYS:
            raise ma.ValidationError("Use a weekday name: " + ", ".join(WEEKDAYS) + ".")
        return WEEKDAYS.index(name)


def register_openapi_fields(api: Any) -> None:
    api.register_field(LocalTime, "string", None)
    api.register_field(Weekday, "string", None)
