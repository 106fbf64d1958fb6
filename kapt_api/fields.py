"""marshmallow field types shared by every domain's schemas.

They refuse what the database or the clinic cannot use, with messages in plain
words: times without an offset, NUL characters, lone surrogates, unknown time zones,
phone numbers that are not E.164. They never bend a value into another one: 2.9 is
not the integer 2, "3" is not a number, " dosing" is not a choice, 70.25 kg is not
70.2 kg. Every In schema uses these (tests/test_fields.py walks them all). FreeText
and FreeTextOut mark what a person writes about a patient or a session, so the
OpenAPI document says which answers carry it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import marshmallow as ma
from webargs.multidictproxy import MultiDictProxy

# Characters no text field accepts: the C0 controls except tab, newline and carriage
# return, DEL and the C1 controls (PostgreSQL refuses NUL outright; the others belong in
# no name, reason or note).
_CONTROL_CLASS = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
# Lone UTF-16 surrogates: JSON can write one ("\ud800") and Python decodes it, but it is
# half a character, which UTF-8 cannot encode, so neither driver (psycopg, sqlite3) can
# send it to the database: it failed as a 500. The published patterns leave them
# out: a lone surrogate is not a Unicode scalar value, so a JSON Schema regex cannot name
# one (RFC 8259 §8.2 calls such strings unpredictable), and text in any other language
# cannot hold one. Noncharacters such as U+FFFE and U+FDD0 are accepted: they are scalar
# values that UTF-8 encodes, both engines store and return them unchanged, and Unicode
# allows them in interchange (Corrigendum 9).
_SURROGATE = re.compile(r"[\ud800-\udfff]")
# The whitespace stripped from both ends of a text: exactly what ECMAScript's \s means,
# written out, so the patterns in the OpenAPI document and this code agree on "blank".
_SPACE_CLASS = r"\t\n\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
SPACES = (
    "\t\n\r \u00a0\u1680"
    + "".join(map(chr, range(0x2000, 0x200B)))
    + ("\u2028\u2029\u202f\u205f\u3000\ufeff")
)
_CONTROL = re.compile(f"[{_CONTROL_CLASS}]")
ANY_TEXT = f"^[^{_CONTROL_CLASS}]*$"
NON_BLANK_TEXT = f"^[^{_CONTROL_CLASS}]*[^{_CONTROL_CLASS}{_SPACE_CLASS}][^{_CONTROL_CLASS}]*$"
_WORD = f"[^@{_CONTROL_CLASS}{_SPACE_CLASS}]"
_EMAIL = re.compile(f"^{_WORD}{{1,64}}@{_WORD}+\\.{_WORD}+$")
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_PORT = "(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})"
_HTTP_URL = re.compile(
    f"^https?://[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:{_PORT})?(/[\\x21-\\x7e]*)?$"
)
# At most 18 digits: every integer the API takes fits, and int() refuses a text of more
# than 4300 digits with an error of its own (a 500).
_INTEGER_TEXT = re.compile(r"^-?[0-9]{1,18}$")
_NUMBER_TEXT = re.compile(r"^-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?$")
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


def _meta(kwargs: dict[str, Any], **defaults: Any) -> dict[str, Any]:
    """kwargs with OpenAPI metadata defaults added (the caller's own metadata wins)."""
    kwargs["metadata"] = {**defaults, **kwargs.get("metadata", {})}
    return kwargs


def _padded(pattern: str) -> str:
    """An anchored pattern that also allows the whitespace Text strips from both ends."""
    return f"^[{_SPACE_CLASS}]*{pattern[1:-1]}[{_SPACE_CLASS}]*$"


def refuse_unstorable(text: str, *, controls: bool = True) -> None:
    """Raise if `text` holds a lone surrogate (or, with `controls`, a control character)."""
    if controls and _CONTROL.search(text):
        raise ma.ValidationError("Must not contain control characters.")
    if _SURROGATE.search(text):
        raise ma.ValidationError(
            "Must not contain a lone surrogate (U+D800 to U+DFFF): send whole characters."
        )


class Text(ma.fields.String):
    """A string with a length limit, no control characters (PostgreSQL refuses NUL) and no
    lone surrogates (UTF-8 cannot encode them).

    Surrounding whitespace is stripped (with `strip`, the default); the length limits
    count the characters as sent. With `min_length` above 0 a blank text is refused.
    The OpenAPI document publishes the same limits as minLength, maxLength and pattern.
    """

    def __init__(
        self,
        *,
        max_length: int = 200,
        min_length: int = 0,
        strip: bool = True,
        pattern: str | None = None,
        **kwargs: Any,
    ) -> None:
        self.strip = strip
        self.length = ma.validate.Length(min=min_length, max=max_length)
        self.non_blank = min_length > 0
        if pattern is None:
            pattern = NON_BLANK_TEXT if self.non_blank else ANY_TEXT
        limits = {"maxLength": max_length, "pattern": pattern}
        if min_length:
            limits["minLength"] = min_length
        super().__init__(**_meta(kwargs, **limits))

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        refuse_unstorable(text)
        self.length(text)
        stripped = text.strip(SPACES)
        if self.non_blank and not stripped:
            raise ma.ValidationError("Must not be blank.")
        return stripped if self.strip else text


class Password(ma.fields.String):
    """A password exactly as typed: never stripped, any character UTF-8 can encode (it is
    hashed, never stored as text), so only lone surrogates are refused."""

    def __init__(self, *, min_length: int, max_length: int, **kwargs: Any) -> None:
        self.length = ma.validate.Length(
            min=min_length, max=max_length, error="Use between {min} and {max} characters."
        )
        super().__init__(**_meta(kwargs, minLength=min_length, maxLength=max_length))

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        refuse_unstorable(text, controls=False)
        self.length(text)
        return text


class Choice(ma.fields.String):
    """One word of a fixed list, exactly as written: no trimming, no case folding."""

    def __init__(self, choices: Iterable[str], *, error: str | None = None, **kwargs: Any) -> None:
        self.choices = tuple(choices)
        self.error = error or "Must be one of: {choices}."
        enum: list[str | None] = list(self.choices)
        if kwargs.get("allow_none"):
            enum.append(None)
        super().__init__(**_meta(kwargs, enum=enum))

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if not isinstance(value, str) or value not in self.choices:
            raise ma.ValidationError(self.error.format(choices=", ".join(self.choices)))
        return value


# The OpenAPI extension naming a free-text field: what a person writes about a patient
# or a session (a reason, a note). Only the patient's care team and administrators are
# shown it, and less where a domain's policy says so; everyone else sees at most a
# category. tests/test_free_text.py finds these fields by it.
FREE_TEXT = "x-free-text"


class FreeText(Text):
    """Text a person writes about a patient or a session: a reason, a note."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**_meta(kwargs, **{FREE_TEXT: True}))


class FreeTextOut(ma.fields.String):
    """A FreeText in an answer: only in the Out schemas of those who may read it."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**_meta(kwargs, **{FREE_TEXT: True}))


class SameRecord(ma.fields.Nested):
    """A nested view of the object itself: the fields shown together live on its row."""

    def get_value(
        self, obj: Any, attr: str, accessor: Any = None, default: Any = ma.missing
    ) -> Any:
        return obj


class Email(Text):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            max_length=254,
            min_length=3,
            pattern=_padded(_EMAIL.pattern),
            **_meta(kwargs, example="front.desk@clinic.example"),
        )

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if not _EMAIL.fullmatch(text.strip(SPACES)):
            raise ma.ValidationError("Not a valid email address.")
        return text.lower()


class Phone(Text):
    """Phone number in E.164 form, for example +15551234567."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            max_length=16, pattern=_padded(_E164.pattern), **_meta(kwargs, example="+15551234567")
        )

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if not _E164.fullmatch(text.strip(SPACES)):
            raise ma.ValidationError(
                "Use E.164 form: + then country code and number, e.g. +15551234567."
            )
        return text


class HttpUrl(Text):
    """An http or https URL: a host name (no credentials), an optional port and path."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            max_length=2000,
            strip=False,
            pattern=_HTTP_URL.pattern,
            **_meta(kwargs, example="https://hooks.clinic.example/kapt"),
        )

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if not _HTTP_URL.fullmatch(text):
            raise ma.ValidationError(
                "Use an http or https URL, e.g. https://hooks.clinic.example/kapt."
            )
        return text


class TimeZoneName(ma.fields.String):
    """An IANA time zone name such as America/New_York (the document lists them all)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**_meta(kwargs, example="America/New_York", enum=list(zone_names())))

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
            **_meta(kwargs, pattern=DATE_TIME_PATTERN.pattern, example="2026-12-01T09:30:00-05:00"),
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
        super().__init__(**_meta(kwargs, pattern=DATE_PATTERN.pattern, example="2026-12-01"))

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> date:
        if not isinstance(value, str):
            raise self.make_error("invalid")
        if not DATE_PATTERN.fullmatch(value):
            raise self.make_error("range" if DATE_SHAPE.fullmatch(value) else "invalid")
        return super()._deserialize(value, attr, data, **kwargs)


def _from_text_source(data: Any) -> bool:
    """Whether the value came from a query string or headers, where everything is text."""
    return isinstance(data, MultiDictProxy)


class Integer(ma.fields.Integer):
    """A whole number as JSON Schema means it: 5 or 5.0, never 5.5, "5" or true.

    In a query string every value is text, so there "5" reads as 5 ("5.5" is refused).
    Bound it with validate.Range: the database's integers are.
    """

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, str) and _from_text_source(data) and _INTEGER_TEXT.fullmatch(value):
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.make_error("invalid")
        if isinstance(value, float) and not value.is_integer():
            raise self.make_error("invalid")
        return int(super()._deserialize(int(value), attr, data, **kwargs))


class Flag(ma.fields.Boolean):
    """A JSON true or false; "yes", 1 and "on" are refused, not guessed at. In a query
    string, the text true or false."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if isinstance(value, str) and _from_text_source(data) and value in ("true", "false"):
            return value == "true"
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class Number(ma.fields.Float):
    """A JSON number: never "5", true, NaN or infinity. In a query string, decimal text.

    Bound it with validate.Range.
    """

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> float:
        if isinstance(value, str) and _from_text_source(data) and _NUMBER_TEXT.fullmatch(value):
            value = float(value)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.make_error("invalid")
        if not math.isfinite(value):
            raise self.make_error("special")
        return float(super()._deserialize(value, attr, data, **kwargs))


class Quantity(ma.fields.Decimal):
    """A JSON number kept as a Decimal of at most `places` decimals: a value with more is
    refused, never rounded (70.25 kg is not 70.2 kg). Bound it with validate.Range."""

    def __init__(self, *, places: int, **kwargs: Any) -> None:
        self.decimals = places
        super().__init__(places=places, allow_nan=False, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.make_error("invalid", input=value)
        if not math.isfinite(value):
            raise self.make_error("special")
        exact = Decimal(str(value))
        try:
            rounded = exact.quantize(Decimal(1).scaleb(-self.decimals))
        except InvalidOperation:
            raise self.make_error("invalid", input=value) from None
        if rounded != exact:
            raise ma.ValidationError(f"Give at most {self.decimals} decimal place(s).")
        return super()._deserialize(value, attr, data, **kwargs)


class LocalTime(ma.fields.Field):
    """A wall-clock time "HH:MM" in some local zone (working and opening hours)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**_meta(kwargs, example="09:00", pattern=_HHMM.pattern))

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
