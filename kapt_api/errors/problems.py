"""The one rendering of an error: RFC 9457 problem+json, with the request id, for a
domain error and for the HTTP errors werkzeug, webargs and flask-smorest raise."""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from flask import Response, g, json
from werkzeug.exceptions import HTTPException

from kapt_api.errors.domain import DomainError

PROBLEM_MIMETYPE = "application/problem+json"


def problem(
    status: int,
    *,
    title: str | None = None,
    detail: str | None = None,
    type_: str = "about:blank",
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> Response:
    """Build a problem+json response."""
    body: dict[str, Any] = {
        "type": type_,
        "title": title or HTTPStatus(status).phrase,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    request_id = g.get("request_id") if g else None
    if request_id:
        body["request_id"] = request_id
    body.update({k: v for k, v in extra.items() if v})
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_MIMETYPE)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def flatten_messages(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """Turn marshmallow/webargs nested messages into {"field.sub": ["..."]}."""
    out: dict[str, list[str]] = {}
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            name = "body" if key == "_schema" and not prefix else str(key)
            if key == "_schema" and prefix:
                name = ""
            path = ".".join(p for p in (prefix, name) if p)
            for k, v in flatten_messages(value, path).items():
                out.setdefault(k, []).extend(v)
    elif isinstance(messages, list | tuple):
        for index, item in enumerate(messages):
            if isinstance(item, str):
                out.setdefault(prefix or "body", []).append(item)
            else:
                for k, v in flatten_messages(
                    item, f"{prefix}.{index}" if prefix else str(index)
                ).items():
                    out.setdefault(k, []).extend(v)
    else:
        out.setdefault(prefix or "body", []).append(str(messages))
    return out


def _strip_locations(messages: Any) -> Any:
    """webargs keys messages by location ({"json": {...}}); the client knows its own field names."""
    if isinstance(messages, Mapping) and set(messages) <= {
        "json",
        "query",
        "headers",
        "form",
        "files",
        "view_args",
    }:
        merged: dict[str, Any] = {}
        for location, value in messages.items():
            if location == "headers" and isinstance(value, Mapping):
                value = {f"header:{k}": v for k, v in value.items()}
            if isinstance(value, Mapping):
                merged.update(value)
            else:
                merged.setdefault("body", value)
        return merged
    return messages


# Codes of the HTTP errors that flask-smorest raises itself, so a client can tell
# "send If-Match" from "what you loaded has changed since" without reading the title.
# The HTTP errors a client is expected to act on: a stable code, and for the ETag
# preconditions what to do (werkzeug's own sentences name no header).
HTTP_PROBLEMS: dict[int, tuple[str, str | None]] = {
    411: ("length_required", None),
    412: (
        "etag_mismatch",
        "It changed since you read it: read it again and send its new ETag in If-Match.",
    ),
    413: ("body_too_large", None),
    428: ("if_match_required", "Send If-Match with the ETag of the version you read."),
}


def render_http_exception(exc: HTTPException) -> Response:
    status = exc.code or 500
    data = getattr(exc, "data", None) or {}
    headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
    headers.update(data.get("headers") or {})
    errors = data.get("errors") or data.get("messages")
    detail = data.get("message") or exc.description
    if errors is not None:
        flat = flatten_messages(_strip_locations(errors))
        if status == 400 and set(flat) <= {"body"}:
            return problem(
                400,
                title="Malformed request body",
                detail="The body is not valid JSON.",
                headers=headers,
            )
        detail = "Check these fields: " + ", ".join(sorted(flat)) + "."
        return problem(
            status,
            title="Some fields are not valid",
            detail=detail,
            type_="urn:kapt:problem:invalid_input",
            headers=headers,
            errors=flat,
        )
    if status == 429:
        detail = f"Too many attempts ({detail}); wait as long as Retry-After says."
    if status in HTTP_PROBLEMS:
        code, advice = HTTP_PROBLEMS[status]
        return problem(
            status,
            title=exc.name,
            detail=advice or detail,
            type_=f"urn:kapt:problem:{code}",
            headers=headers,
            code=code,
        )
    return problem(status, title=exc.name, detail=detail, headers=headers)


def render_domain_error(exc: DomainError) -> Response:
    return problem(
        exc.status,
        title=exc.title,
        detail=exc.detail,
        type_=f"urn:kapt:problem:{exc.code}",
        headers=exc.headers,
        code=exc.code,
        errors=exc.errors,
        violations=[v.as_dict() for v in exc.violations],
    )
