"""marshmallow field types shared by every domain's schemas.

They refuse what the database or the clinic cannot use, with messages in plain
words: times without an offset, NUL characters, lone surrogates, unknown time zones,
phone numbers that are not E.164. They never bend a value into another one: 2.9 is
not the integer 2, "3" is not a number, " dosing" is not a choice, 70.25 kg is not
70.2 kg. Every In schema uses these (tests/fields/test_strict_types.py walks them
all). FreeText and FreeTextOut mark what a person writes about a patient or a
session, so the OpenAPI document says which answers carry it. Text fields are in
text.py, numbers and flags in scalars.py, dates, times and zones in times.py.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from kapt_api.fields.scalars import Flag, Integer, Number, Quantity
from kapt_api.fields.text import (
    ANY_TEXT,
    FREE_TEXT,
    NON_BLANK_TEXT,
    SPACES,
    Choice,
    Email,
    FreeText,
    FreeTextOut,
    HttpUrl,
    Password,
    Phone,
    Text,
    refuse_unstorable,
)
from kapt_api.fields.times import (
    DATE_PATTERN,
    DATE_SHAPE,
    DATE_TIME_PATTERN,
    DATE_TIME_SHAPE,
    MAX_YEAR,
    MIN_YEAR,
    NAIVE_DATE_TIME_SHAPE,
    WEEKDAYS,
    AwareDateTime,
    Date,
    LocalTime,
    TimeZoneName,
    Weekday,
    zone_names,
)

__all__ = [
    "ANY_TEXT",
    "DATE_PATTERN",
    "DATE_SHAPE",
    "DATE_TIME_PATTERN",
    "DATE_TIME_SHAPE",
    "FREE_TEXT",
    "MAX_YEAR",
    "MIN_YEAR",
    "NAIVE_DATE_TIME_SHAPE",
    "NON_BLANK_TEXT",
    "SPACES",
    "WEEKDAYS",
    "AwareDateTime",
    "Choice",
    "Date",
    "Email",
    "Flag",
    "FreeText",
    "FreeTextOut",
    "HttpUrl",
    "Integer",
    "LocalTime",
    "Number",
    "Password",
    "Phone",
    "Quantity",
    "SameRecord",
    "Text",
    "TimeZoneName",
    "Weekday",
    "refuse_unstorable",
    "register_openapi_fields",
    "zone_names",
]


class SameRecord(ma.fields.Nested):
    """A nested view of the object itself: the fields shown together live on its row."""

    def get_value(
        self, obj: Any, attr: str, accessor: Any = None, default: Any = ma.missing
    ) -> Any:
        return obj


def register_openapi_fields(api: Any) -> None:
    api.register_field(LocalTime, "string", None)
    api.register_field(Weekday, "string", None)
