"""Domain errors and their one rendering: RFC 9457 problem+json.

Views raise; nothing builds an error body by hand. Every answer carries the
request id so a front-desk report can be matched to the server's logs.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any

import structlog
from flask import Flask, Response, g, json
from sqlalchemy.exc import IntegrityError, OperationalError
from werkzeug.exceptions import HTTPException

PROBLEM_MIMETYPE = "application/problem+json"
JSON_DECODER_FILE = str(Path("json", "decoder.py"))
log = structlog.get_logger("kapt.errors")


@dataclass(frozen=True)
class Violation:
    """One broken rule: a stable code and a sentence a front-desk person understands."""

    rule: str
    message: str
    details: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "message": self.message, **self.details}


class DomainError(Exception):
    """Base of every error a domain raises on purpose."""

    status = 422
    code = "unprocessable"
    title = "The request breaks a rule"

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        errors: Mapping[str, Iterable[str]] | None = None,
        violations: Iterable[Violation] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code or self.code
        self.errors = {k: list(v) for k, v in (errors or {}).items()}
        self.violations = list(violations)
        self.headers = dict(headers or {})


class InvalidInput(DomainError):
    """Valid JSON whose fields break a rule; `errors` names each field."""

    code = "invalid_input"
    title = "Some fields are not valid"

    def __init__(self, errors: Mapping[str, Iterable[str]], detail: str | None = None) -> None:
        names = ", ".join(sorted(errors))
        super().__init__(detail or f"Check these fields: {names}.", errors=errors)


class RuleRefused(DomainError):
    """A clinical or business rule refuses the request; lists every violation."""

    code = "rule_violation"
    title = "The request breaks one or more rules"

    def __init__(self, violations: Iterable[Violation], detail: str | None = None) -> None:
        items = list(violations)
        super().__init__(detail or " ".join(v.message for v in items), violations=items)


class BadRequest(DomainError):
    """A request whose framing (a header, the query string) is malformed."""

    status = 400
    code = "bad_request"
    title = "Malformed request"


class NotFound(DomainError):
    status = 404
    code = "not_found"
    title = "Not found"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"
    title = "Not allowed"


class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"
    title = "Authentication required"

    def __init__(self, detail: str, **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": 'Bearer realm="kapt-api"'})
        super().__init__(detail, **kwargs)


class Conflict(DomainError):
    status = 409
    code = "conflict"
    title = "Conflicts with the current state"


class DatabaseBusy(DomainError):
    """Every attempt of the request met another transaction in its way (retries.py):
    nothing was changed, and the same request a moment later should pass."""

    status = 503
    code = "database_busy"
    title = "The database is busy"
    RETRY_AFTER_SECONDS = 1

    def __init__(self) -> None:
        super().__init__(
            "Too many changes to the same schedule at once; nothing was changed. "
            "Send the request again in a moment.",
            headers={"Retry-After": str(self.RETRY_AFTER_SECONDS)},
        )


# Codes of the HTTP errors that flask-smorest raises itself, so a client can tell
# "send If-Match" from "what you loaded has changed since" without reading the title.
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


def _rollback() -> None:
    from kapt_api.db import db

    db.session.rollback()


def register(app: Flask) -> None:
    """Install the handlers; flask-smorest's HTTPException handler is KaptApi's."""

    @app.errorhandler(DomainError)
    def _domain(exc: DomainError) -> Response:
        _rollback()
        return render_domain_error(exc)

    @app.errorhandler(IntegrityError)
    def _integrity(exc: IntegrityError) -> Response:
        # A constraint caught what a service did not check first. Never echo the
        # database message: it can carry the values (PHI) that collided.
        _rollback()
        log.warning("integrity_error", sqlstate=getattr(exc.orig, "sqlstate", None))
        return problem(
            409,
            title="Conflicts with existing data",
            type_="urn:kapt:problem:conflict",
            detail="The change conflicts with data already stored.",
        )

    @app.errorhandler(OperationalError)
    def _database_down(exc: OperationalError) -> Response:
        from kapt_api.db import is_transient

        _rollback()
        if is_transient(exc):
            # A collision outside the part of the request that is retried (retries.py).
            log.warning("database_busy", attempts=1, error_type=type(exc.orig).__name__)
            return render_domain_error(DatabaseBusy())
        log.error("database_unavailable", error_type=type(exc.orig).__name__)
        return problem(
            503,
            detail="The database is not reachable; try again shortly.",
            type_="urn:kapt:problem:database_unavailable",
            headers={"Retry-After": "5"},
            code="database_unavailable",
        )

    @app.errorhandler(RecursionError)
    def _too_deep(exc: RecursionError) -> Response:
        if _raised_by_json_decoder(exc):
            return problem(
                400,
                title="Malformed request body",
                detail="The body is nested too deeply.",
            )
        return _unexpected(exc)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        if isinstance(exc, HTTPException):
            return render_http_exception(exc)
        _rollback()
        # Frames only: an exception's message may quote a patient's data.
        log.error(
            "unhandled_error",
            error_type=type(exc).__name__,
            frames="".join(traceback.format_tb(exc.__traceback__)),
        )
        return problem(500, detail="An unexpected error occurred; it has been logged.")


def _raised_by_json_decoder(exc: BaseException) -> bool:
    """A JSON body nested thousands deep makes the standard decoder recurse too far."""
    return any(
        frame.f_code.co_filename.endswith(JSON_DECODER_FILE)
        for frame, _line in traceback.walk_tb(exc.__traceback__)
    )
