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

from kapt_api.fields.metadata import every_field_sent
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
    "every_field_sent",
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


TIME_ZONE_SCHEMA = {
    "type": "string",
    "minLength": 1,
    "description": "An IANA time zone name; the server refuses one it does not know (422).",
    "example": "America/New_York",
}


def _time_zone_ref(converter: Any, field: ma.fields.Field, ret: dict[str, Any]) -> dict[str, Any]:
    """A TimeZoneName is the one TimeZone schema: 599 names listed in every schema that
    takes a zone are too many for a client generator, and the server checks the name."""
    if not isinstance(field, TimeZoneName):
        return {}
    kept: dict[str, Any] = {k: ret[k] for k in ("description", "readOnly", "writeOnly") if k in ret}
    ret.clear()
    ref = {"$ref": "#/components/schemas/TimeZone"}
    if field.allow_none:
        return {"anyOf": [ref, {"type": "null"}], **kept}
    return {**ref, **kept}


def register_openapi_fields(api: Any) -> None:
    api.register_field(LocalTime, "string", None)
    api.register_field(Weekday, "string", None)
    api.spec.components.schema("TimeZone", TIME_ZONE_SCHEMA)
    api.ma_plugin.converter.add_attribute_function(_time_zone_ref)
