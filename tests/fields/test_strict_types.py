"""The shared field types refuse what they cannot keep exactly, and every schema a request
is read with uses them: no In or query field is one of marshmallow's lenient types."""

from __future__ import annotations

import enum
import inspect
from collections.abc import Callable, Iterator
from typing import Any

import marshmallow as ma
import pytest
from flask import Flask

from kapt_api import fields

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
