"""The field types a protocol definition's wire form is built from: JSON integers and
numbers within bounds, enum values and sets, machine keys, and the schema that loads
into a frozen dataclass."""

from __future__ import annotations

from typing import Any, ClassVar

import marshmallow as ma

from kapt_api import fields
from kapt_api.fields import Text
from kapt_api.protocols.checklist_rules import KEY

Range = ma.validate.Range
Length = ma.validate.Length


class StrictInteger(fields.Integer):
    """A JSON integer as JSON Schema means it: 12 or 12.0 (true, 1.5 and "12" are refused)."""


class Whole(StrictInteger):
    """A JSON integer from low to high."""

    def __init__(self, low: int, high: int, **kwargs: Any) -> None:
        super().__init__(validate=Range(min=low, max=high), **kwargs)


class Number(fields.Number):
    """A JSON number from 0 to 1000 (a numeric string or a boolean is refused)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(validate=Range(min=0, max=1000), **kwargs)


class EnumSet(ma.fields.List):
    """A set of enum values: loaded as a frozenset, written sorted."""

    def __init__(self, enum: Any, **kwargs: Any) -> None:
        super().__init__(ma.fields.Enum(enum, by_value=True), **kwargs)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        out = super()._serialize(value, attr, obj, **kwargs)
        return None if out is None else sorted(out)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        return frozenset(super()._deserialize(value, attr, data, **kwargs))


class Key(Text):
    """A short machine name: lower-case letters, digits and _, starting with a letter."""

    def __init__(self, **kwargs: Any) -> None:
        word = ma.validate.Regexp(KEY, error="Use lower-case letters, digits and _.")
        kwargs.update(min_length=1, max_length=40, pattern=KEY.pattern)
        super().__init__(strip=False, validate=word, **kwargs)


def enum_field(enum: Any, **kwargs: Any) -> ma.fields.Enum:
    return ma.fields.Enum(enum, by_value=True, **kwargs)


def stored_value(enum: Any) -> ma.fields.String:
    """An enum's value as the database keeps it (a plain string)."""
    return ma.fields.String(required=True, validate=ma.validate.OneOf([e.value for e in enum]))


class ValueSchema(ma.Schema):
    """Loads into a frozen dataclass (`value_class`); lists become tuples."""

    value_class: ClassVar[type]

    @ma.post_load
    def _make(self, data: dict[str, Any], **_kwargs: Any) -> Any:
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        return self.value_class(**self.complete(values))

    def complete(self, values: dict[str, Any]) -> dict[str, Any]:
        return values
