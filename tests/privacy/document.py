"""Reading the OpenAPI document for free text: which fields of which schemas are
marked x-free-text, and which strings an answer carries at all."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from kapt_api.fields import FREE_TEXT
from tests.test_openapi import operations, resolve

__all__ = ["operations", "resolve"]
REF = "#/components/schemas/"


def answer_schemas(spec: dict[str, Any]) -> list[Any]:
    """The schema of every answer of every operation, errors included."""
    found = []
    for _path, _method, operation in operations(spec):
        for response in operation["responses"].values():
            response = resolve(spec, response)
            for content in response.get("content", {}).values():
                found.append(content.get("schema", {}))
    return found


def request_schemas(spec: dict[str, Any]) -> list[Any]:
    found = []
    for _path, _method, operation in operations(spec):
        body = operation.get("requestBody", {})
        found += [c.get("schema", {}) for c in body.get("content", {}).values()]
    return found


def components(spec: dict[str, Any], roots: list[Any]) -> set[str]:
    """The names of the component schemas these schemas use, however deep."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith(REF) and ref[len(REF) :] not in found:
                found.add(ref[len(REF) :])
                walk(spec["components"]["schemas"][ref[len(REF) :]])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(roots)
    return found


def _types(node: dict[str, Any]) -> set[str]:
    kind = node.get("type", [])
    return {kind} if isinstance(kind, str) else set(kind)


def _plain(node: Any) -> bool:
    """A string that could hold anything: no format, list of values or constant."""
    return (
        isinstance(node, dict)
        and "string" in _types(node)
        and not {"format", "enum", "const", FREE_TEXT} & set(node)
    )


def strings_of(schema: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each string-valued property of a schema, as `name`, `name[]` (items of an array)
    or `name{}` (values of a map), with its JSON Schema."""
    for name, node in schema.get("properties", {}).items():
        yield name, node
        items = node.get("items")
        if isinstance(items, dict):
            yield f"{name}[]", items
        values = node.get("additionalProperties")
        if isinstance(values, dict):
            yield f"{name}{{}}", values
            if isinstance(values.get("items"), dict):
                yield f"{name}{{}}[]", values["items"]


def fields_where(
    spec: dict[str, Any], names: set[str], wanted: Callable[[dict[str, Any]], bool]
) -> set[str]:
    """`Schema.field` for each string field of these component schemas that is `wanted`."""
    schemas = spec["components"]["schemas"]
    return {
        f"{name}.{field}"
        for name in names
        for field, node in strings_of(schemas[name])
        if wanted(node)
    }


def plain_strings(spec: dict[str, Any], names: set[str]) -> set[str]:
    return fields_where(spec, names, _plain)


def free_text(spec: dict[str, Any], names: set[str]) -> set[str]:
    return fields_where(spec, names, lambda node: bool(node.get(FREE_TEXT)))
