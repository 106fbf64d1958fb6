"""How a field states its limits in the OpenAPI document: as metadata that
flask-smorest copies into the field's schema."""

from __future__ import annotations

from typing import Any, TypeVar


def openapi_metadata(kwargs: dict[str, Any], **defaults: Any) -> dict[str, Any]:
    """kwargs with OpenAPI metadata defaults added (the caller's own metadata wins)."""
    kwargs["metadata"] = {**defaults, **kwargs.get("metadata", {})}
    return kwargs


SchemaClass = TypeVar("SchemaClass", bound=type)


def every_field_sent(schema: SchemaClass) -> SchemaClass:
    """An answer schema whose every field is in every answer (null where it has no
    value): the document lists them all as required, so a generated client types them
    as present. Out schemas are only dumped, where `required` changes nothing."""
    for field in schema._declared_fields.values():  # type: ignore[attr-defined]
        field.required = True
    return schema
