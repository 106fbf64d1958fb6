"""The shared field types refuse what they cannot keep exactly, and every schema a request
is read with uses them: no In or query field is one of marshmallow's lenient types."""

from __future__ import annotations

import enum
import inspect
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import marshmallow as ma
import pytest
from flask import Flask
from webargs.multidictproxy import MultiDictProxy
from werkzeug.datastructures import MultiDict

from kapt_api import fields
from kapt_api.patients.schemas import Kilograms

pytestmark = pytest.mark.once  # schemas and fields alone: one engine is enough

# Types that refuse what they cannot take exactly. Nested, List, Tuple and Dict are
# containers: what they hold is checked in turn.
STRICT: tuple[type[ma.fields.Field], ...] = (
    fields.Text,
    fields.Password,
    fields.Choice,
    fields.Integer,
    fields.Number,
    fields.Quantity,
    fields.Flag,
    fields.AwareDateTime,
    fields.Date,
    fields.LocalTime,
    fields.Weekday,
    fields.TimeZoneName,
    ma.fields.UUID,
)
CONTAINERS = (ma.fields.Nested, ma.fields.List, ma.fields.Tuple, ma.fields.Dict)


def _views(app: Flask) -> Iterator[tuple[str, Callable[..., Any]]]:
    for endpoint, view in app.view_functions.items():
        view_class = getattr(view, "view_class", None)
        if view_class is None:
            yield endpoint, view
            continue
        for method in view_class.methods or ():
            yield f"{endpoint} {method}", getattr(view_class, method.lower())


def request_schemas(app: Flask) -> Iterator[tuple[str, ma.Schema]]:
    """Every schema a view reads its arguments with, page parameters included."""
    for name, view in _views(app):
        doc = getattr(view, "_apidoc", {})
        for parameter in doc.get("arguments", {}).get("parameters", []):
            yield f"{name} ({parameter['in']})", _instance(parameter["schema"])
        if "pagination" in doc:
            yield f"{name} (pages)", _instance(doc["pagination"]["parameters"]["schema"])


def _instance(schema: Any) -> ma.Schema:
    return schema() if inspect.isclass(schema) else schema


def lenient_fields(schema: ma.Schema, path: str = "") -> Iterator[str]:
    for name, field in schema.fields.items():
        if not field.load_only and field.dump_only:
            continue
        yield from _lenient(field, f"{path}{name}")


def _lenient(field: ma.fields.Field, path: str) -> Iterator[str]:
    if isinstance(field, ma.fields.Nested):
        yield from lenient_fields(_instance(field.schema), f"{path}.")
    elif isinstance(field, ma.fields.List):
        yield from _lenient(field.inner, f"{path}[]")
    elif isinstance(field, ma.fields.Tuple):
        for index, item in enumerate(field.tuple_fields):
            yield from _lenient(item, f"{path}[{index}]")
    elif isinstance(field, ma.fields.Dict):
        for part, inner in (("key", field.key_field), ("value", field.value_field)):
            if inner is None:
                yield f"{path} ({part}s unchecked)"
            else:
                yield from _lenient(inner, f"{path}{{{part}}}")
    elif isinstance(field, ma.fields.Enum):
        # By value, over text values: the value must be one of them, exactly.
        if not (field.by_value is True and issubclass(field.enum, enum.StrEnum)):
            yield f"{path}: {type(field).__name__} of {field.enum.__name__}"
    elif not isinstance(field, STRICT):
        yield f"{path}: {type(field).__module__}.{type(field).__name__}"


def test_every_request_field_is_a_strict_type(app: Flask) -> None:
    found = list(request_schemas(app))
    lenient = [
        f"{where}: {problem}"
        for where, schema in found
        for problem in lenient_fields(schema, f"{type(schema).__name__}.")
    ]

    assert len(found) > 40  # the walk reached the views
    assert lenient == []


def test_the_walk_finds_a_lenient_field_where_there_is_one() -> None:
    class Inner(ma.Schema):
        score = ma.fields.Integer()

    class Outer(ma.Schema):
        name = fields.Text()
        items = ma.fields.List(ma.fields.Nested(Inner))
        extra = ma.fields.Dict(keys=ma.fields.String(), values=fields.Number())

    assert list(lenient_fields(Outer(), "Outer.")) == [
        "Outer.items[].score: marshmallow.fields.Integer",
        "Outer.extra{key}: marshmallow.fields.String",
    ]


# --- text -------------------------------------------------------------------------------


def load(field: ma.fields.Field, value: Any, *, query: bool = False) -> Any:
    class Probe(ma.Schema):
        pass

    Probe._declared_fields["value"] = field
    schema = Probe()
    data: Any = {"value": value}
    if query:
        data = MultiDictProxy(MultiDict(data), schema)
    return schema.load(data)["value"]


def refusal(field: ma.fields.Field, value: Any, *, query: bool = False) -> list[str]:
    with pytest.raises(ma.ValidationError) as caught:
        load(field, value, query=query)
    return caught.value.messages["value"]  # type: ignore[index, call-overload]


@pytest.mark.parametrize("value", ["a\ud800b", "\udfff", "\ud83d", "x\ude00"])
def test_text_refuses_a_lone_surrogate(value: str) -> None:
    assert refusal(fields.Text(), value) == [
        "Must not contain a lone surrogate (U+D800 to U+DFFF): send whole characters."
    ]


@pytest.mark.parametrize("value", ["nul\x00", "bell\x07", "del\x7f", "c1\x85"])
def test_text_refuses_control_characters(value: str) -> None:
    assert refusal(fields.Text(), value) == ["Must not contain control characters."]


@pytest.mark.parametrize(
    "value", ["caf\u00e9", "\U0001f600 smile", "tab\there", "\ufffe\uffff\ufdd0", "\u200d"]
)
def test_text_keeps_whole_characters_and_noncharacters(value: str) -> None:
    assert load(fields.Text(strip=False), value) == value


def test_a_password_is_kept_exactly_but_must_be_whole_characters() -> None:
    password = fields.Password(min_length=3, max_length=10)

    assert load(password, "  \tspace ") == "  \tspace "
    assert refusal(password, "ab\ud800c") == [
        "Must not contain a lone surrogate (U+D800 to U+DFFF): send whole characters."
    ]
    assert refusal(password, "ab") == ["Use between 3 and 10 characters."]


@pytest.mark.parametrize("value", [" dosing", "Dosing", "dosing ", 1, ["dosing"]])
def test_a_choice_is_exact(value: Any) -> None:
    assert refusal(fields.Choice(["dosing", "therapy"]), value) == [
        "Must be one of: dosing, therapy."
    ]


# --- numbers ----------------------------------------------------------------------------


@pytest.mark.parametrize("value", [2.9, 2.5, "3", "70", True, [1], "0x1"])
def test_an_integer_refuses_fractions_strings_and_booleans(value: Any) -> None:
    assert refusal(fields.Integer(), value) == ["Not a valid integer."]


@pytest.mark.parametrize(("value", "expected"), [(3, 3), (3.0, 3), (-2, -2)])
def test_an_integer_takes_json_integers(value: Any, expected: int) -> None:
    assert load(fields.Integer(), value) == expected


@pytest.mark.parametrize("text", [" 5", "+5", "1_0", "\u0665", "5.0", "1e2", "9" * 19, "9" * 5000])
def test_an_integer_in_a_query_string_is_plain_decimal_digits(text: str) -> None:
    assert refusal(fields.Integer(), text, query=True) == ["Not a valid integer."]


def test_an_integer_in_a_query_string_reads_its_digits() -> None:
    assert load(fields.Integer(), "-15", query=True) == -15


@pytest.mark.parametrize("value", ["70", "72.5", True, False])
def test_a_number_refuses_strings_and_booleans(value: Any) -> None:
    assert refusal(fields.Number(), value) == ["Not a valid number."]


@pytest.mark.parametrize("value", [float("inf"), float("nan")])
def test_a_number_refuses_infinity_and_nan(value: float) -> None:
    assert "not permitted" in refusal(fields.Number(), value)[0]


@pytest.mark.parametrize("value", [68.25, 70.0000001, 0.05])
def test_a_quantity_refuses_more_decimals_than_it_keeps(value: float) -> None:
    assert refusal(fields.Quantity(places=1), value) == ["Give at most 1 decimal place(s)."]


@pytest.mark.parametrize(("value", "kept"), [(68.2, "68.2"), (70, "70.0"), (99.0, "99.0")])
def test_a_quantity_keeps_what_it_was_sent(value: Any, kept: str) -> None:
    assert load(fields.Quantity(places=1), value) == Decimal(kept)


@pytest.mark.parametrize("value", ["72.5", True, 1e300, float("inf")])
def test_kilograms_refuse_what_is_not_a_weight(value: Any) -> None:
    assert refusal(Kilograms(), value)


# --- flags ------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [1, 0, "true", "yes", "false"])
def test_a_flag_in_a_body_is_a_json_boolean(value: Any) -> None:
    assert refusal(fields.Flag(), value) == ["Not a valid boolean."]


@pytest.mark.parametrize(("text", "expected"), [("true", True), ("false", False)])
def test_a_flag_in_a_query_string_is_true_or_false(text: str, expected: bool) -> None:
    assert load(fields.Flag(), text, query=True) is expected


@pytest.mark.parametrize("text", ["1", "yes", "True", "on", ""])
def test_a_flag_in_a_query_string_refuses_other_words(text: str) -> None:
    assert refusal(fields.Flag(), text, query=True) == ["Not a valid boolean."]
