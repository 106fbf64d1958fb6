"""How a field states its limits in the OpenAPI document: as metadata that
flask-smorest copies into the field's schema."""

from __future__ import annotations

from typing import Any


def openapi_metadata(kwargs: dict[str, Any], **defaults: Any) -> dict[str, Any]:
    """kwargs with OpenAPI metadata defaults added (the caller's own metadata wins)."""
    kwargs["metadata"] = {**defaults, **kwargs.get("metadata", {})}
    return kwargs
