"""OpenAPI plumbing: problem+json everywhere, documented error answers, local docs assets."""

from __future__ import annotations

import copy
import http
from decimal import Decimal
from pathlib import Path
from typing import Any

import marshmallow as ma
import swagger_ui
from flask import Blueprint, send_from_directory
from flask_smorest import Api, Page
from flask_smorest.etag import IF_MATCH_HEADER
from flask_smorest.pagination import PaginationMetadataSchema
from flask_smorest.utils import prepare_response
from sqlalchemy import Select, func, select
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from kapt_api import errors
from kapt_api.fields import DATE_TIME_PATTERN

SWAGGER_ASSETS = Path(swagger_ui.__file__).resolve().parent / "static"
PUBLIC_PATHS = {"/healthz", "/readyz", "/api/v1/auth/tokens", "/api/v1/auth/tokens/refresh"}
OPERATION_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
BEARER = "bearerAuth"
SCHEMA_REF = "#/components/schemas/"
PAGINATION_HEADER = "X-Pagination"
# Far beyond any real list, and small enough that (page - 1) * page_size stays a
# valid OFFSET on every engine (a huge page number must be a 422, not a 500).
MAX_PAGE = 1_000_000


IDEMPOTENCY_PARAMETER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Retry-safe creation: the same key and body return the first answer.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x21-\\x7e]+$"},
}

_ENTITY_TAG = '(W/)?"[\\x21\\x23-\\x7e]*"'
IF_MATCH_PATTERN = f"^([*]|{_ENTITY_TAG}([ \\t]*,[ \\t]*{_ENTITY_TAG})*)$"

# Headers some error answers carry, documented on the shared error responses.
ERROR_HEADERS: dict[int, dict[str, Any]] = {
    401: {
        "WWW-Authenticate": {
            "description": "The authentication scheme to use: Bearer.",
            "schema": {"type": "string"},
        }
    },
    429: {
        "Retry-After": {
            "description": "Seconds to wait before trying again.",
            "schema": {"type": "integer", "minimum": 0},
        }
    },
    503: {
        "Retry-After": {
            "description": "Seconds to wait before trying again.",
            "schema": {"type": "integer", "minimum": 0},
        }
    },
}


class ProblemSchema(ma.Schema):
    """RFC 9457 problem details."""

    type = ma.fields.String(required=True, metadata={"description": "URI naming the problem"})
    title = ma.fields.String(required=True)
    status = ma.fields.Integer(required=True)
    detail = ma.fields.String()
    request_id = ma.fields.String()
    code = ma.fields.String(metadata={"description": "Stable code of a domain error"})
    errors = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.List(ma.fields.String()),
        metadata={"description": "Invalid input: field name to messages"},
    )
    violations = ma.fields.List(
        ma.fields.Dict(),
        metadata={"description": "Every broken rule: {rule, message, ...}"},
    )


class KaptApi(Api):
    """flask-smorest's Api answering RFC 9457 problem+json for every error."""

    ERROR_SCHEMA = ProblemSchema
    # Each operation lists the errors it can give (see document_errors) instead of a catch-all.
    DEFAULT_ERROR_RESPONSE_NAME = None

    def handle_http_exception(self, error: HTTPException) -> Response:
        return errors.render_http_exception(error)

    def _register_responses(self) -> None:
        for status in http.HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            if status >= 400:
                response["schema"] = self.ERROR_SCHEMA
                if status in ERROR_HEADERS:
                    response["headers"] = copy.deepcopy(ERROR_HEADERS[status])
            prepare_response(response, self.spec, errors.PROBLEM_MIMETYPE)
            self.spec.components.response(status.name, response, lazy=True)

    def _register_etag_headers(self) -> None:
        super()._register_etag_headers()
        # A value that is not a list of entity-tags (RFC 9110) reads as no If-Match at all,
        # which flask-smorest answers with 428: the document says which values count.
        if_match = copy.deepcopy(IF_MATCH_HEADER)
        if_match["description"] = 'The ETag of the version being changed, e.g. "3f2a..." or *.'
        if_match["schema"]["pattern"] = IF_MATCH_PATTERN
        self.spec.components.parameter("IF_MATCH", "header", if_match, lazy=True)

    def _register_pagination_header(self) -> None:
        # flask-smorest documents the header with an object schema, but its value is a
        # JSON text: a string, whose content the JSON Schema content keywords describe.
        self.spec.components.schema("PaginationMetadata", schema=PaginationMetadataSchema)
        self.spec.components.header(
            "PAGINATION",
            {
                "description": "Pagination metadata, a JSON object (see PaginationMetadata).",
                "required": True,
                "schema": {
                    "type": "string",
                    "contentMediaType": "application/json",
                    "contentSchema": {"$ref": "#/components/schemas/PaginationMetadata"},
                },
            },
            lazy=True,
        )


def _refuse_far_pages(page_params: Any) -> None:
    if page_params.page > MAX_PAGE:
        raise errors.InvalidInput({"page": [f"Must be at most {MAX_PAGE}."]})


class QueryPage(Page):
    """Paginate a SQLAlchemy select without loading the whole result."""

    def __init__(self, collection: Select[Any], page_params: Any) -> None:
        from kapt_api.db import db

        _refuse_far_pages(page_params)
        self._session = db.session
        super().__init__(collection, page_params)

    @property
    def items(self) -> list[Any]:
        params = self.page_params
        query = self.collection.limit(params.page_size).offset(params.first_item)
        return list(self._session.scalars(query))

    @property
    def item_count(self) -> int:
        count = select(func.count()).select_from(self.collection.order_by(None).subquery())
        return int(self._session.scalar(count) or 0)


class ListPage(Page):
    """Paginate an in-memory list (small collections already filtered by policy)."""

    def __init__(self, collection: Any, page_params: Any) -> None:
        _refuse_far_pages(page_params)
        super().__init__(collection, page_params)


def _ref(api: KaptApi, status: int) -> Any:
    return api.spec.components.get_ref("response", http.HTTPStatus(status).name)


def _is_paginated(operation: dict[str, Any]) -> bool:
    return any(
        PAGINATION_HEADER in (response.get("headers") or {})
        for status, response in operation.get("responses", {}).items()
        if str(status).startswith("2") and isinstance(response, dict)
    )


def _bound_page_parameter(operation: dict[str, Any]) -> None:
    for parameter in operation.get("parameters", []):
        if parameter.get("in") == "query" and parameter.get("name") == "page":
            parameter.setdefault("schema", {})["maximum"] = MAX_PAGE


def _problem_content(api: KaptApi, responses: dict[str, Any]) -> None:
    """Error answers documented without a body (e.g. @bp.alt_response(503)) are problem+json."""
    for status, response in responses.items():
        if (
            str(status).isdigit()
            and int(status) >= 400
            and isinstance(response, dict)
            and "$ref" not in response
            and "content" not in response
        ):
            responses[status] = _ref(api, int(status)) | {
                "description": response.get("description") or http.HTTPStatus(int(status)).phrase
            }


def _mentions_ids(api: KaptApi, node: Any, seen: set[str] | None = None) -> bool:
    """Whether a schema (following component references) holds a UUID anywhere."""
    seen = set() if seen is None else seen
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(SCHEMA_REF) and ref not in seen:
            seen.add(ref)
            return _mentions_ids(api, api.spec.components.schemas.get(ref[len(SCHEMA_REF) :]), seen)
        return node.get("format") == "uuid" or any(
            _mentions_ids(api, value, seen) for value in node.values()
        )
    if isinstance(node, list):
        return any(_mentions_ids(api, item, seen) for item in node)
    return False


def _names_objects(api: KaptApi, path: str, operation: dict[str, Any]) -> bool:
    """An id in the path, the query or the body: one unknown, or not the caller's to see,
    answers 404 (never a hint that it exists in another clinic)."""
    if "{" in path:
        return True
    query = [p for p in operation.get("parameters", []) if p.get("in") == "query"]
    return _mentions_ids(api, query) or _mentions_ids(api, operation.get("requestBody"))


def _wanted_errors(api: KaptApi, path: str, method: str, operation: dict[str, Any]) -> set[int]:
    wanted: set[int] = set()
    if path not in PUBLIC_PATHS and path.startswith("/api/"):
        operation.setdefault("security", [{BEARER: []}])
    if operation.get("security"):
        wanted |= {401} if path in PUBLIC_PATHS else {401, 403}
    if _names_objects(api, path, operation):
        wanted.add(404)
    if "requestBody" in operation:
        wanted |= {400, 413, 415, 422}
    if any(p.get("in") == "query" for p in operation.get("parameters", [])):
        wanted.add(422)
    if method == "post" and path in PUBLIC_PATHS:
        wanted |= {401, 422, 429}
    wanted |= set(operation.pop("x-errors", []))
    if operation.pop("x-idempotent", False):
        wanted |= {409, 422}
        operation.setdefault("parameters", []).append(copy.deepcopy(IDEMPOTENCY_PARAMETER))
    return wanted


def _plain_numbers(node: Any) -> Any:
    """Decimal bounds (validate.Range on a Decimal field) as JSON numbers, not strings."""
    if isinstance(node, Decimal):
        return int(node) if node == node.to_integral_value() else float(node)
    if isinstance(node, dict):
        for key, value in node.items():
            node[key] = _plain_numbers(value)
    elif isinstance(node, list):
        node[:] = [_plain_numbers(item) for item in node]
    return node


def _referenced(api: KaptApi, node: Any, found: set[str]) -> set[str]:
    """Names of the component schemas `node` uses, directly or through other components."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(SCHEMA_REF):
            name = ref[len(SCHEMA_REF) :]
            if name not in found:
                found.add(name)
                _referenced(api, api.spec.components.schemas.get(name), found)
        for value in node.values():
            _referenced(api, value, found)
    elif isinstance(node, list):
        for item in node:
            _referenced(api, item, found)
    return found


def _drop_date_time_patterns(node: Any) -> None:
    if isinstance(node, dict):
        if node.get("format") == "date-time" and node.get("pattern") == DATE_TIME_PATTERN.pattern:
            del node["pattern"]
        for key, value in node.items():
            if key != "$ref":
                _drop_date_time_patterns(value)
    elif isinstance(node, list):
        for item in node:
            _drop_date_time_patterns(item)


def _answer_times_in_utc(api: KaptApi) -> None:
    """A date-time is accepted in the published years as written, and answered in UTC, which
    may fall a few hours outside them: answers document the format, requests the pattern."""
    requests: set[str] = set()
    for item in api.spec._paths.values():
        _referenced(api, item.get("parameters"), requests)
        for method in OPERATION_METHODS:
            operation = item.get(method) or {}
            _referenced(api, [operation.get("parameters"), operation.get("requestBody")], requests)
    for name, component in api.spec.components.schemas.items():
        if name not in requests:
            _drop_date_time_patterns(component)
    for item in api.spec._paths.values():
        for method in OPERATION_METHODS:
            _drop_date_time_patterns((item.get(method) or {}).get("responses"))


def document_errors(api: KaptApi) -> None:
    """Add to every operation the error answers it can give, and its security."""
    _plain_numbers(api.spec.components.schemas)
    _plain_numbers(api.spec._paths)
    _answer_times_in_utc(api)
    for path, operations in api.spec._paths.items():
        for method, operation in operations.items():
            if method not in OPERATION_METHODS:
                continue
            responses = operation.setdefault("responses", {})
            for status in sorted(_wanted_errors(api, path, method, operation)):
                responses.setdefault(str(status), _ref(api, status))
            _problem_content(api, responses)
            if _is_paginated(operation):
                _bound_page_parameter(operation)


def documents(status_codes: list[int]) -> dict[str, Any]:
    """Extra error statuses for @bp.doc(**documents([409]))."""
    return {"x-errors": status_codes}


docs_assets = Blueprint("docs_assets", __name__)


@docs_assets.route("/docs/assets/<path:filename>")
def docs_asset(filename: str) -> Response:
    """Swagger UI's files, served by us: the docs page needs no CDN."""
    return send_from_directory(SWAGGER_ASSETS, filename, max_age=3600)


OPENAPI_CONFIG: dict[str, Any] = {
    "API_TITLE": "kapt-api",
    "API_VERSION": "1.0.0",
    "OPENAPI_VERSION": "3.1.0",
    "OPENAPI_URL_PREFIX": "/",
    "OPENAPI_JSON_PATH": "openapi.json",
    "OPENAPI_SWAGGER_UI_PATH": "/docs",
    "OPENAPI_SWAGGER_UI_URL": "/docs/assets/",
    "OPENAPI_SWAGGER_UI_CONFIG": {
        "persistAuthorization": False,
        "displayRequestDuration": True,
        # Swagger UI would otherwise send the document's URL to validator.swagger.io.
        "validatorUrl": None,
    },
    "API_SPEC_OPTIONS": {
        "info": {
            "description": (
                "Scheduling and session-protocol API of a ketamine-assisted psychotherapy clinic. "
                "Errors are RFC 9457 application/problem+json."
            ),
        },
        "components": {
            "securitySchemes": {
                BEARER: {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            },
        },
    },
}
