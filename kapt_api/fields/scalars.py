"""Numbers and true or false as JSON means them: never text read as one (except in a
query string, where everything is text), never a value bent into another."""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation
from typing import Any

import marshmallow as ma
from webargs.multidictproxy import MultiDictProxy

# At most 18 digits: every integer the API takes fits, and int() refuses a text of more
# than 4300 digits with an error of its own (a 500).
_INTEGER_TEXT = re.compile(r"^-?[0-9]{1,18}$")
_NUMBER_TEXT = re.compile(r"^-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?$")


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
