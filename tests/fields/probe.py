"""Load one value through one field, as a request body or a query string does."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
import pytest
from webargs.multidictproxy import MultiDictProxy
from werkzeug.datastructures import MultiDict


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
