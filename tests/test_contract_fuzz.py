"""Contract fuzzing: schemathesis drives every operation of the OpenAPI document, in
process, with an administrator's token: the examples, the coverage phase's boundary and
negative cases (including unexpected methods and a missing token) and random cases, judged
by every check schemathesis has (server errors, status codes, content types, response
schemas and headers, positive and negative data, required headers, Allow on 405).

Deterministic (fixed seed, derandomized); each operation runs in the rolled-back
transaction of its own test, on SQLite or PostgreSQL as KAPT_TEST_DB says."""

from __future__ import annotations

import re
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, Phase, settings
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import positive_data_acceptance
from sqlalchemy.orm import Session

from kapt_api import create_app
from kapt_api.openapi import IF_MATCH_PATTERN

# Fuzzed once, on the production engine, when make test runs both engines.
pytestmark = pytest.mark.fuzz

# Random examples per operation on top of the coverage phase's deterministic ones, shared
# out of one budget so the run stays near two minutes on two cores as operations are added.
EXAMPLES_BUDGET = 750
OPERATION_METHODS = {"get", "put", "post", "delete", "patch"}

CONFIG = SchemathesisConfig.from_dict(
    {
        "seed": 20261201,
        "generation": {
            "mode": "all",
            "deterministic": True,
            "database": "none",
            # A failing case is reported as found: shrinking it can take longer than the run.
            "no-shrink": True,
        },
        "phases": {
            "examples": {"enabled": True},
            "coverage": {"enabled": True},
            "fuzzing": {"enabled": True},
        },
        "checks": {
            "enabled": True,
            # A PATCH without If-Match is refused with 428 Precondition Required (RFC 6585).
            "missing_required_header": {
                "expected-statuses": [400, 401, 403, 406, 415, 422, 428],
            },
        },
    }
)


def positive_data_accepted_unless_a_rule_refuses(ctx: Any, response: Any, case: Any) -> Any:
    """positive_data_acceptance, except for a 422 the domain raised after the request passed
    its schema: a business rule across fields or stored data (a clinic closing before it
    opens) that JSON Schema cannot state. Such problems carry a `code`; a refusal by the
    request's own schema carries none, and stays a failure: the document promised more."""
    if response.status_code == 422 and "code" in _json(response):
        return None
    if _refused_a_malformed_if_match(response, case):
        return None
    if _refused_an_unknown_time_zone(response):
        return None
    return positive_data_acceptance(ctx, response, case)


def _refused_an_unknown_time_zone(response: Any) -> bool:
    """The document names a time zone by the one TimeZone schema, a string, rather than
    listing the 599 zones (too many for a client generator): the server checks the name,
    and a 422 about time zones alone is the answer the document describes."""
    fields = _json(response).get("errors") or {}
    return (
        response.status_code == 422
        and bool(fields)
        and all(name.split(".")[-1] == "time_zone" for name in fields)
    )


def _refused_a_malformed_if_match(response: Any, case: Any) -> bool:
    """The generator sends an optional If-Match such as `0` as valid data, though it does
    not match the document's pattern for it: a 400 saying so is the right answer."""
    sent = (case.headers or {}).get("If-Match")
    return (
        response.status_code == 400
        and _json(response).get("code") == "if_match_malformed"
        and sent is not None
        and re.fullmatch(IF_MATCH_PATTERN, sent) is None
    )


def _json(response: Any) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _document_app() -> Flask:
    """The document is the same for every engine; this app only serves it."""
    return create_app({"KAPT_ENV": "test", "SQLALCHEMY_DATABASE_URI": "sqlite://"})


schema = schemathesis.openapi.from_wsgi("/openapi.json", _document_app(), config=CONFIG)
OPERATIONS = sum(
    method in OPERATION_METHODS for item in schema.raw_schema["paths"].values() for method in item
)
MAX_EXAMPLES = max(5, min(25, EXAMPLES_BUDGET // max(OPERATIONS, 1)))


@pytest.fixture
def bearer(admin_headers: dict[str, str], db_session: Session) -> dict[str, str]:
    """An administrator's token. Committed (to the test's savepoint): an error answer rolls
    the session back, and the administrator must outlive it, or every later request would
    be a mere 401."""
    db_session.commit()
    return admin_headers


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_every_operation_keeps_its_contract(case: Any, app: Flask, bearer: dict[str, str]) -> None:
    # A case that leaves the token out (or spoils it) on purpose is sent as generated.
    headers = {} if schema.is_security_param_negated(case) else bearer
    case.call_and_validate(
        app=app,
        headers=headers,
        excluded_checks=[positive_data_acceptance],
        additional_checks=[positive_data_accepted_unless_a_rule_refuses],
    )
