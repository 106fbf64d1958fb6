"""What a client generator needs of the document beyond valid OpenAPI: a stable name for
every operation, every header an operation honours, answers whose fields say whether
they are always there, and the contract's words in closed lists."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask

from kapt_api.openapi.document import OPERATION_METHODS
from kapt_api.openapi.operations import OPERATION_IDS

pytestmark = pytest.mark.once  # reads the document: one engine is enough

SNAKE_VERB_NOUN = re.compile(r"^[a-z]+(_[a-z0-9]+)+$")


@pytest.fixture(scope="module")
def document(app: Flask) -> dict[str, Any]:
    return dict(app.test_client().get("/openapi.json").get_json())


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in OPERATION_METHODS
    ]


def test_every_operation_has_its_own_stable_snake_case_name(document):
    names = [operation.get("operationId") for _, _, operation in operations(document)]
    unnamed = [f"{m.upper()} {p}" for p, m, op in operations(document) if "operationId" not in op]
    assert unnamed == [], "name them in kapt_api/openapi/operations.py"
    assert len(names) == len(set(names))
    assert [n for n in names if not SNAKE_VERB_NOUN.match(n)] == []
    assert len(OPERATION_IDS) == len(names), "a name in the table names no operation"


def _parameters(document: dict[str, Any], path: str, method: str) -> set[str]:
    item = document["paths"][path]
    found = set()
    for parameter in [*item.get("parameters", []), *item[method].get("parameters", [])]:
        if "$ref" in parameter:
            parameter = document["components"]["parameters"][parameter["$ref"].split("/")[-1]]
        found.add(parameter["name"])
    return found


def test_an_operation_that_answers_304_takes_if_none_match(document):
    polled = [(p, m) for p, m, op in operations(document) if "304" in op["responses"]]
    assert ("/api/v1/schedule", "get") in polled
    assert ("/api/v1/staff/{staff_id}/schedule", "get") in polled
    assert [(p, m) for p, m in polled if "If-None-Match" not in _parameters(document, p, m)] == []


def test_an_operation_that_answers_412_takes_if_match(document):
    guarded = [(p, m) for p, m, op in operations(document) if "412" in op["responses"]]
    assert [(p, m) for p, m in guarded if "If-Match" not in _parameters(document, p, m)] == []


def _schemas_used(document: dict[str, Any], *, by_answers: bool) -> set[str]:
    """The component schemas the success answers (or the requests) use, at any depth."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            name = ref.rsplit("/", 1)[-1]
            if ref.startswith("#/components/schemas/") and name not in found:
                found.add(name)
                walk(document["components"]["schemas"][name])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    for _, _, operation in operations(document):
        if not by_answers:
            walk([operation.get("requestBody"), operation.get("parameters")])
            continue
        for status, response in operation["responses"].items():
            if status.startswith("2"):
                walk(response)
    return found


def test_every_answer_schema_says_which_fields_are_always_there(document):
    """Schemas a request uses as well (a protocol's definition) keep their optional fields."""
    schemas = document["components"]["schemas"]
    answers_only = _schemas_used(document, by_answers=True) - _schemas_used(
        document, by_answers=False
    )
    loose = [
        name
        for name in answers_only
        if schemas[name].get("properties") and not schemas[name].get("required")
    ]
    assert sorted(loose) == []


def test_the_views_of_a_resource_are_one_schema(document):
    """A client generated from a oneOf of views picks the first that fits and drops the
    rest: each resource is one schema, its care-team fields present but not required."""
    schemas = document["components"]["schemas"]
    assert "oneOf" not in str(document["paths"])
    assert "clinical_notes" not in schemas["Appointment"]["required"]
    assert {"discontinue_reason", "measures_trend"}.isdisjoint(schemas["Course"]["required"])
    assert "clinical" not in schemas["Patient"]["required"]
    assert "care team" in schemas["Patient"]["properties"]["clinical"]["description"]


def test_a_list_documents_its_link_and_count_headers(document):
    answer = document["paths"]["/api/v1/alerts"]["get"]["responses"]["200"]
    assert {"X-Pagination", "Link", "X-Total-Count"} <= set(answer["headers"])
    assert answer["headers"]["X-Total-Count"]["schema"]["type"] == "integer"


def test_a_violation_is_a_typed_item(document):
    schemas = document["components"]["schemas"]
    assert schemas["Problem"]["properties"]["violations"]["items"] == {
        "$ref": "#/components/schemas/Violation"
    }
    assert set(schemas["Violation"]["required"]) == {"rule", "message"}
