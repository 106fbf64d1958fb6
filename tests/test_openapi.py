"""The OpenAPI document is the contract front ends build against: a valid OpenAPI 3.1
document in which every operation says what it answers, errors included, and whose
published constraints are exactly what the API accepts.

Every test walks the document, so operations added later are held to the same rules.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import jsonschema_rs
import marshmallow as ma
import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError
from openapi_spec_validator.validation.validators import OpenAPIV31SpecValidator
from sqlalchemy.orm import Session

from kapt_api import fields
from kapt_api.auth.identity import is_public
from kapt_api.clinics.models import Clinic
from kapt_api.errors import PROBLEM_MIMETYPE
from kapt_api.extensions import api
from kapt_api.openapi import MAX_PAGE

API = "/api/v1"
LOGIN_PATHS = {f"{API}/auth/tokens", f"{API}/auth/tokens/refresh"}
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
NUMERIC_KEYWORDS = {
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
}

Operation = tuple[str, str, dict[str, Any]]


@pytest.fixture(scope="module")
def spec(app: Flask) -> dict[str, Any]:
    response = app.test_client().get("/openapi.json")
    assert response.status_code == 200
    return dict(response.get_json())


def operations(spec: dict[str, Any]) -> Iterator[Operation]:
    for path, item in spec["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def resolve(spec: dict[str, Any], node: Any) -> Any:
    """Follow local $refs (one level at a time) until a plain object remains."""
    while isinstance(node, dict) and "$ref" in node:
        target: Any = spec
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def parameters(spec: dict[str, Any], path: str, operation: dict[str, Any]) -> list[dict[str, Any]]:
    shared = spec["paths"][path].get("parameters", [])
    return [resolve(spec, p) for p in [*shared, *operation.get("parameters", [])]]


def label(path: str, method: str) -> str:
    return f"{method.upper()} {path}"


def missing(spec: dict[str, Any], wanted: Callable[[str, str, dict[str, Any]], set[int]]) -> dict:
    """{operation: statuses it should document but does not}."""
    gaps = {}
    for path, method, operation in operations(spec):
        documented = {int(status) for status in operation["responses"]}
        lacking = wanted(path, method, operation) - documented
        if lacking:
            gaps[label(path, method)] = sorted(lacking)
    return gaps


# --- the document as a whole --------------------------------------------------------------


def test_the_document_is_valid_openapi_3_1(spec: dict[str, Any]) -> None:
    assert spec["openapi"] == "3.1.0"
    try:
        validate(spec, cls=OpenAPIV31SpecValidator)
    except OpenAPIValidationError as error:  # pragma: no cover - the message is the point
        pytest.fail(f"The OpenAPI document is invalid: {error}")


def test_the_document_lists_the_service_and_the_api(spec: dict[str, Any]) -> None:
    paths = set(spec["paths"])
    assert {"/healthz", "/readyz", f"{API}/auth/tokens", f"{API}/audit-events"} <= paths
    assert sum(1 for _ in operations(spec)) >= 7


def test_numbers_in_the_document_are_json_numbers(spec: dict[str, Any]) -> None:
    """A Decimal bound must not become "350.0": tools would read a string, not a limit."""
    wrong = []

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                here = f"{where}/{key}"
                if key in NUMERIC_KEYWORDS and (
                    isinstance(value, bool) or not isinstance(value, int | float)
                ):
                    wrong.append(f"{here} = {value!r}")
                walk(value, here)
        elif isinstance(node, list):
            for index, item in enumerate(node):
                walk(item, f"{where}/{index}")

    walk(spec, "#")
    assert wrong == []


# --- every operation ----------------------------------------------------------------------


def test_every_operation_has_a_summary_and_a_success_answer(spec: dict[str, Any]) -> None:
    without_summary = [label(p, m) for p, m, op in operations(spec) if not op.get("summary")]
    without_success = [
        label(p, m)
        for p, m, op in operations(spec)
        if not any(str(status)[0] in "23" for status in op["responses"])
    ]
    assert without_summary == []
    assert without_success == []


def test_every_error_answer_is_a_problem_document(spec: dict[str, Any]) -> None:
    problem = "#/components/schemas/Problem"
    wrong = []
    for path, method, operation in operations(spec):
        for status, response in operation["responses"].items():
            if int(status) < 400:
                continue
            content = resolve(spec, response).get("content", {})
            if list(content) != [PROBLEM_MIMETYPE] or content[PROBLEM_MIMETYPE]["schema"] != {
                "$ref": problem
            }:
                wrong.append(f"{label(path, method)} {status}")
    assert wrong == []
    assert {"type", "title", "status"} <= set(spec["components"]["schemas"]["Problem"]["required"])


def _public_views(app: Flask) -> set[tuple[str, str]]:
    """(OpenAPI path, method) of every view marked @public in the code."""
    found = set()
    for rule in app.url_map.iter_rules():
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in rule.methods or ():
            if is_public(app.view_functions[rule.endpoint], method):
                found.add((path, method.lower()))
    return found


def test_every_api_operation_needs_a_bearer_token_unless_public_by_design(
    app: Flask, spec: dict[str, Any]
) -> None:
    """Login and refresh are the public operations under /api/v1, with capability URLs
    (a revocable secret in the path, as for calendar feeds) that document `security: []`."""
    scheme = spec["components"]["securitySchemes"]["bearerAuth"]
    assert scheme == {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    public = _public_views(app)
    wrong = []
    for path, method, operation in operations(spec):
        if not path.startswith(f"{API}/") or path in LOGIN_PATHS:
            continue
        if (path, method) in public:
            if operation.get("security") != []:
                wrong.append(f"{label(path, method)}: public, so document security: []")
            continue
        if {"bearerAuth": []} not in operation.get("security", []):
            wrong.append(f"{label(path, method)}: no bearerAuth")
        if not {"401", "403"} <= set(operation["responses"]):
            wrong.append(f"{label(path, method)}: 401 and 403 not documented")
    assert wrong == []
    assert {(p, "post") for p in LOGIN_PATHS} <= public


def test_login_documents_wrong_credentials_and_rate_limiting(spec: dict[str, Any]) -> None:
    login = spec["paths"][f"{API}/auth/tokens"]["post"]
    assert "security" not in login
    assert {"201", "401", "422", "429"} <= set(login["responses"])
    retry_after = resolve(spec, login["responses"]["429"])["headers"]["Retry-After"]
    assert retry_after["schema"]["type"] == "integer"


def test_a_rate_limited_login_answers_as_documented(
    spec: dict[str, Any], client: FlaskClient
) -> None:
    login = spec["paths"][f"{API}/auth/tokens"]["post"]
    documented = resolve(spec, login["responses"]["429"])
    header = documented["headers"]["Retry-After"]["schema"]
    for _ in range(50):
        response = client.post(
            f"{API}/auth/tokens", json={"email": "nobody@clinic.test", "password": "wrong"}
        )
        if response.status_code == 429:
            break
    assert response.status_code == 429
    assert response.mimetype == PROBLEM_MIMETYPE
    assert jsonschema_rs.validator_for(header).is_valid(int(response.headers["Retry-After"]))


def test_operations_with_a_body_document_its_refusals(spec: dict[str, Any]) -> None:
    assert (
        missing(spec, lambda _p, _m, op: {400, 413, 415, 422} if "requestBody" in op else set())
        == {}
    )


def test_operations_with_query_parameters_document_invalid_input(spec: dict[str, Any]) -> None:
    def wanted(path: str, _method: str, operation: dict[str, Any]) -> set[int]:
        query = [p for p in parameters(spec, path, operation) if p["in"] == "query"]
        return {422} if query else set()

    assert missing(spec, wanted) == {}


def test_operations_on_one_resource_document_not_found(spec: dict[str, Any]) -> None:
    assert missing(spec, lambda path, _m, _op: {404} if "{" in path else set()) == {}


def test_patch_documents_its_preconditions(spec: dict[str, Any]) -> None:
    patches = [(path, op) for path, method, op in operations(spec) if method == "patch"]
    assert missing(spec, lambda _p, method, _op: {412, 428} if method == "patch" else set()) == {}
    for path, operation in patches:
        if_match = [p for p in parameters(spec, path, operation) if p["name"] == "If-Match"]
        assert len(if_match) == 1, path
        assert if_match[0]["in"] == "header"
        assert if_match[0]["required"] is True
        pattern = re.compile(if_match[0]["schema"]["pattern"])
        assert pattern.fullmatch('"5d41402abc4b2a76"')
        assert pattern.fullmatch('W/"a", "b"')
        assert pattern.fullmatch("*")
        assert not pattern.fullmatch("")
        assert not pattern.fullmatch("5d41402abc4b2a76")


def test_writes_document_a_busy_database_and_when_to_try_again(spec: dict[str, Any]) -> None:
    writes = {"post", "put", "patch", "delete"}

    def wanted(path: str, method: str, _operation: dict[str, Any]) -> set[int]:
        return {503} if method in writes and path.startswith("/api/") else set()

    assert missing(spec, wanted) == {}
    busy = resolve(spec, spec["paths"]["/api/v1/appointments"]["post"]["responses"]["503"])
    assert "Retry-After" in busy["headers"]
    assert "database_busy" in busy["description"]


def test_status_steps_take_an_optional_if_match_and_document_412(spec: dict[str, Any]) -> None:
    path = "/api/v1/appointments/{appointment_id}/cancel"
    operation = spec["paths"][path]["post"]
    [if_match] = [p for p in parameters(spec, path, operation) if p["name"] == "If-Match"]
    assert if_match["required"] is False and if_match["in"] == "header"
    assert {"409", "412"} <= set(operation["responses"])
    assert "ETag" in operation["responses"]["200"]["headers"]


def test_idempotent_creation_documents_the_key_and_its_conflict(spec: dict[str, Any]) -> None:
    for path, method, operation in operations(spec):
        names = [p["name"] for p in parameters(spec, path, operation)]
        if "Idempotency-Key" in names:
            assert method == "post", label(path, method)
            assert {"409", "422"} <= set(operation["responses"]), label(path, method)


# --- paginated lists ----------------------------------------------------------------------


@pytest.fixture
def headers(admin_headers: dict[str, str], db_session: Session) -> dict[str, str]:
    """An administrator's headers that outlive an error answer (which rolls the session back)."""
    db_session.commit()
    return admin_headers


def paginated(spec: dict[str, Any]) -> list[Operation]:
    return [
        (path, method, operation)
        for path, method, operation in operations(spec)
        if any(p["name"] == "page" for p in parameters(spec, path, operation))
    ]


def test_paginated_lists_document_the_x_pagination_header(spec: dict[str, Any]) -> None:
    lists = paginated(spec)
    assert lists, "the audit log at least is paginated"
    for path, method, operation in lists:
        assert method == "get"
        header = resolve(spec, operation["responses"]["200"]["headers"]["X-Pagination"])
        # The value is a JSON text: a string whose content is a PaginationMetadata object.
        assert header["required"] is True
        assert header["schema"]["type"] == "string"
        assert header["schema"]["contentMediaType"] == "application/json"
        assert header["schema"]["contentSchema"] == {
            "$ref": "#/components/schemas/PaginationMetadata"
        }
        by_name = {p["name"]: p for p in parameters(spec, path, operation)}
        assert by_name["page"]["schema"]["maximum"] == MAX_PAGE
        assert by_name["page_size"]["schema"]["maximum"] == 100


def _listable(spec: dict[str, Any]) -> list[str]:
    """Paginated lists an administrator can read with no other argument."""
    return [
        path
        for path, _method, operation in paginated(spec)
        if "{" not in path and not any(p.get("required") for p in parameters(spec, path, operation))
    ]


def test_x_pagination_carries_what_the_document_says(
    spec: dict[str, Any],
    client: FlaskClient,
    admin_headers: dict[str, str],
    make_clinic: Callable[..., Clinic],
    db_session: Session,
) -> None:
    make_clinic()
    make_clinic(name="Birch Clinic")
    db_session.commit()
    metadata = {**spec["components"]["schemas"]["PaginationMetadata"]}
    validator = jsonschema_rs.validator_for(metadata)
    paths = _listable(spec)
    assert f"{API}/audit-events" in paths
    for path in paths:
        response = client.get(path, query_string={"page_size": 1}, headers=admin_headers)
        assert response.status_code == 200, path
        value = json.loads(response.headers["X-Pagination"])
        assert validator.is_valid(value), (path, value)
        assert value["total"] >= 0
        assert len(response.get_json()) == min(1, value["total"])
    clinics = json.loads(
        client.get(f"{API}/clinics", query_string={"page_size": 1}, headers=admin_headers).headers[
            "X-Pagination"
        ]
    )
    assert clinics["total"] >= 2
    assert clinics["total_pages"] == clinics["total"]
    assert clinics["next_page"] == 2


def test_far_pages_are_refused_not_a_database_error(
    spec: dict[str, Any], client: FlaskClient, headers: dict[str, str]
) -> None:
    for path in _listable(spec):
        last = client.get(path, query_string={"page": MAX_PAGE}, headers=headers)
        assert last.status_code == 200, path
        assert last.get_json() == []
        beyond = client.get(path, query_string={"page": MAX_PAGE + 1}, headers=headers)
        assert beyond.status_code == 422, path
        assert beyond.mimetype == PROBLEM_MIMETYPE
        assert "page" in beyond.get_json()["errors"]


# --- what the document promises, the API does -------------------------------------------


def _example_path(path: str) -> str:
    return re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)


def test_every_secured_operation_refuses_a_caller_without_a_token(
    spec: dict[str, Any], client: FlaskClient
) -> None:
    wrong = []
    for path, method, operation in operations(spec):
        if {"bearerAuth": []} not in operation.get("security", []) or path in LOGIN_PATHS:
            continue
        response = client.open(
            _example_path(path),
            method=method.upper(),
            json={} if "requestBody" in operation else None,
        )
        if (
            response.status_code != 401
            or response.mimetype != PROBLEM_MIMETYPE
            or not response.headers.get("WWW-Authenticate", "").startswith("Bearer")
        ):
            wrong.append(f"{label(path, method)} -> {response.status_code}")
    assert wrong == []


def test_an_unsupported_method_answers_405_with_allow(
    spec: dict[str, Any], client: FlaskClient, headers: dict[str, str]
) -> None:
    for path, item in spec["paths"].items():
        documented = {m.upper() for m in METHODS if m in item}
        unsupported = next(m for m in ("PUT", "DELETE", "PATCH", "POST") if m not in documented)
        response = client.open(_example_path(path), method=unsupported, headers=headers)
        assert response.status_code == 405, path
        assert response.mimetype == PROBLEM_MIMETYPE
        allowed = {m.strip() for m in response.headers["Allow"].split(",")}
        assert documented <= allowed, path


def test_docs_page_disables_the_online_validator(client: FlaskClient) -> None:
    page = client.get("/docs").get_data(as_text=True)
    assert '"validatorUrl": null' in page


def test_answers_document_date_times_by_format_and_requests_by_pattern(
    spec: dict[str, Any],
) -> None:
    """A time accepted as 2200-12-31T23:00:00-05:00 is answered as 2201-01-01T04:00:00+00:00:
    the year range binds what is sent, not what comes back."""
    pattern = fields.DATE_TIME_PATTERN.pattern
    document = json.dumps(spec)
    assert json.dumps(pattern) in document
    for path, method, operation in operations(spec):
        for status, response in operation["responses"].items():
            for media in resolve(spec, response).get("content", {}).values():
                answer = json.dumps(_expanded(spec, media.get("schema"), set()))
                assert json.dumps(pattern) not in answer, f"{label(path, method)} {status}"


def _expanded(spec: dict[str, Any], node: Any, seen: set[str]) -> Any:
    """`node` with component references replaced by the components (each once)."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            if ref in seen:
                return {}
            return _expanded(spec, resolve(spec, node), seen | {ref})
        return {key: _expanded(spec, value, seen) for key, value in node.items()}
    if isinstance(node, list):
        return [_expanded(spec, item, seen) for item in node]
    return node


# --- published field constraints are exactly what the fields accept ---------------------

FIELDS: dict[str, Callable[[], ma.fields.Field]] = {
    "text": lambda: fields.Text(max_length=12),
    "required_text": lambda: fields.Text(min_length=1, max_length=12),
    "email": fields.Email,
    "phone": fields.Phone,
    "date_time": fields.AwareDateTime,
    "date": fields.Date,
    "local_time": fields.LocalTime,
    "weekday": fields.Weekday,
    "http_url": fields.HttpUrl,
}

TRICKY = st.sampled_from(
    [
        "",
        " ",
        "\t\n",
        "\u00a0",
        "\ufeff",
        "\x85",
        "a\x00b",
        "a\x7f",
        " x ",
        "x\n",
        "+15551234567",
        " +15551234567 ",
        "+1555123456\u0661",
        "+0123456789",
        "A@B.CO",
        " a@b.co ",
        "a@b",
        "a b@c.de",
        "America/New_York",
        " America/New_York",
        "Mars/Olympus",
        "2026-12-01T09:30:00-05:00",
        "2026-12-01t09:30:00z",
        "2026-12-01T09:30:00.123456789Z",
        "2026-12-01T09:30-05:00",
        "2026-12-01 09:30:00Z",
        "2026-12-01T09:30:00",
        "2026-02-30T00:00:00Z",
        "2026-12-31T23:59:60Z",
        "2200-12-31T23:00:00-05:00",
        "1900-01-01T00:00:00+14:00",
        "1899-12-31T23:00:00Z",
        "2201-01-01T00:00:00Z",
        "2026-12-01",
        "20261201",
        "2026-W48-2",
        "1899-12-31",
        "2200-12-31",
        "09:00",
        "24:00",
        "9:00",
        "09:00\n",
        "monday",
        "Monday",
        "https://hooks.clinic.example/kapt?x=1",
        "http://localhost:8080",
        "http://localhost:65536/",
        "https://user:pw@host.example/",
        "ftp://files.example/",
        "https://host.example/a b",
        "x" * 12,
        "x" * 13,
        " " + "x" * 11,
    ]
)


def _accepts(field: ma.fields.Field, value: str) -> bool:
    try:
        field.deserialize(value)
    except ma.ValidationError:
        return False
    return True


def _published(field: ma.fields.Field) -> dict[str, Any]:
    prop = dict(api.ma_plugin.converter.field2property(field))
    prop.pop("example", None)
    return prop


def _candidates(prop: dict[str, Any]) -> st.SearchStrategy[str]:
    options = [TRICKY, st.text(max_size=20)]
    if "pattern" in prop:
        options.append(st.from_regex(prop["pattern"], fullmatch=True))
    if "enum" in prop:
        options.append(st.sampled_from(prop["enum"]))
    return st.one_of(options)


@pytest.mark.parametrize("kind", sorted(FIELDS))
def test_published_constraints_match_what_a_field_accepts(app: Flask, kind: str) -> None:
    field = FIELDS[kind]()
    prop = _published(field)
    assert prop["type"] == "string"
    validator = jsonschema_rs.validator_for(prop, validate_formats=True)

    @settings(max_examples=300, deadline=None, derandomize=True, database=None)
    @given(value=_candidates(prop))
    def agree(value: str) -> None:
        assert _accepts(field, value) == validator.is_valid(value), (value, prop)

    agree()


def test_a_time_zone_is_one_named_schema_the_server_checks(app: Flask) -> None:
    """Time zones are the one TimeZone schema, not 599 names in each schema that takes
    one (too many for a client generator); every zone the server accepts fits it, and
    the server refuses a name it does not know."""
    assert _published(fields.TimeZoneName()) == {"$ref": "#/components/schemas/TimeZone"}
    document = app.test_client().get("/openapi.json").get_json()
    zone = document["components"]["schemas"]["TimeZone"]
    assert zone["type"] == "string" and "enum" not in zone
    assert "enum" not in json.dumps(document["components"]["schemas"]["ClinicIn"])
    validator = jsonschema_rs.validator_for(zone)
    assert all(validator.is_valid(name) for name in fields.zone_names())
    assert _accepts(fields.TimeZoneName(), "America/New_York")
    assert not _accepts(fields.TimeZoneName(), "Mars/Olympus_Mons")
