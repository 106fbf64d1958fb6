"""The generated document, completed: every operation's error answers and security, the
page bound, problem+json on every error, numbers as numbers, answer times by format."""

from __future__ import annotations

import copy
import http
from decimal import Decimal
from typing import Any

from flask_smorest import Api

from kapt_api.errors import registered_rules
from kapt_api.fields import DATE_TIME_PATTERN
from kapt_api.openapi.operations import name_operation

LOGIN_PATH = "/api/v1/auth/tokens"
PUBLIC_PATHS = {"/healthz", "/readyz", LOGIN_PATH, "/api/v1/auth/tokens/refresh"}
OPERATION_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
WRITE_OPERATIONS = ("put", "post", "delete", "patch")
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


def _ref(api: Api, status: int) -> Any:
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


def _problem_content(api: Api, responses: dict[str, Any]) -> None:
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


def _components(api: Api, node: Any, found: set[str]) -> set[str]:
    """Names of the component schemas `node` uses, directly or through other components."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(SCHEMA_REF):
            name = ref[len(SCHEMA_REF) :]
            if name not in found:
                found.add(name)
                _components(api, api.spec.components.schemas.get(name), found)
        for value in node.values():
            _components(api, value, found)
    elif isinstance(node, list):
        for item in node:
            _components(api, item, found)
    return found


def _holds_uuid(node: Any) -> bool:
    if isinstance(node, dict):
        return node.get("format") == "uuid" or any(_holds_uuid(v) for v in node.values())
    if isinstance(node, list):
        return any(_holds_uuid(item) for item in node)
    return False


def _names_objects(api: Api, path: str, operation: dict[str, Any]) -> bool:
    """An id in the path, the query or the body: one unknown, or not the caller's to see,
    answers 404 (never a hint that it exists in another clinic)."""
    if "{" in path:
        return True
    query = [p for p in operation.get("parameters", []) if p.get("in") == "query"]
    named = [query, operation.get("requestBody")]
    schemas = api.spec.components.schemas
    return _holds_uuid(named) or any(
        _holds_uuid(schemas.get(name)) for name in _components(api, named, set())
    )


def _is_if_match(parameter: dict[str, Any]) -> bool:
    return parameter.get("name") == "If-Match" or parameter.get("$ref", "").endswith("/IF_MATCH")


def _wanted_errors(api: Api, path: str, method: str, operation: dict[str, Any]) -> set[int]:
    wanted: set[int] = set()
    if path not in PUBLIC_PATHS and path.startswith("/api/"):
        operation.setdefault("security", [{BEARER: []}])
    if operation.get("security"):
        wanted |= {401} if path in PUBLIC_PATHS else {401, 403}
    if _names_objects(api, path, operation):
        wanted.add(404)
    if "requestBody" in operation:
        wanted |= {400, 411, 413, 415, 422}  # 411: a chunked body the server cannot bound
    if any(p.get("in") == "query" for p in operation.get("parameters", [])):
        wanted.add(422)
    if any(_is_if_match(p) for p in operation.get("parameters", [])):
        wanted.add(400)  # an If-Match that is not a list of entity-tags (if_match_malformed)
    if method == "post" and path == LOGIN_PATH:
        wanted |= {401, 429}  # wrong credentials; too many attempts (rate limited)
    if method in WRITE_OPERATIONS and path.startswith("/api/"):
        wanted.add(503)  # every attempt met another change (database_busy), or no database
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


def _answer_times_in_utc(api: Api) -> None:
    """A date-time is accepted in the published years as written, and answered in UTC, which
    may fall a few hours outside them: answers document the format, requests the pattern."""
    requests: set[str] = set()
    for item in api.spec._paths.values():
        _components(api, item.get("parameters"), requests)
        for method in OPERATION_METHODS:
            operation = item.get(method) or {}
            _components(api, [operation.get("parameters"), operation.get("requestBody")], requests)
    for name, component in api.spec.components.schemas.items():
        if name not in requests:
            _drop_date_time_patterns(component)
    for item in api.spec._paths.values():
        for method in OPERATION_METHODS:
            _drop_date_time_patterns((item.get(method) or {}).get("responses"))


def _close_rule_codes(api: Api) -> None:
    """Violation.rule as the closed list every domain registered (errors/rules.py), read
    once the blueprints, and with them every domain's rules, are loaded."""
    rule = api.spec.components.schemas["Violation"]["properties"]["rule"]
    rule["enum"] = sorted(registered_rules())


def document_errors(api: Api) -> None:
    """Add to every operation the error answers it can give, and its security."""
    _close_rule_codes(api)
    _plain_numbers(api.spec.components.schemas)
    _plain_numbers(api.spec._paths)
    _answer_times_in_utc(api)
    for path, operations in api.spec._paths.items():
        for method, operation in operations.items():
            if method not in OPERATION_METHODS:
                continue
            name_operation(path, method, operation)
            responses = operation.setdefault("responses", {})
            for status in sorted(_wanted_errors(api, path, method, operation)):
                responses.setdefault(str(status), _ref(api, status))
            _problem_content(api, responses)
            if _is_paginated(operation):
                _bound_page_parameter(operation)
