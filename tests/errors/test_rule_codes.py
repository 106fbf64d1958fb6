"""The rule codes a refusal may name are a closed list (errors/rules.py), the enum of
Violation.rule in the OpenAPI document: a generated client fails on a code outside it.

Two nets keep the list complete. Every code written in kapt_api's source where a
violation is made is registered (a scan of the source, below). And a refusal made
with an unregistered code fails under test (errors/rules.py), so every
refusal the suite provokes proves its codes registered, codes built at run time too,
whether a test asks over HTTP or calls a service."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest
from flask_smorest import Blueprint

from kapt_api.auth.identity import requires
from kapt_api.errors import (
    RuleRefused,
    UnregisteredRule,
    Violation,
    register_rules,
    registered_rules,
)
from kapt_api.extensions import api
from tests.conftest import test_overrides as overrides_for
from tests.errors.conftest import assert_problem
from tests.separate_app import separate_app

SOURCE = Path(__file__).resolve().parents[2] / "kapt_api"
# A constant naming rule codes: OFFER_HOLD_RULE, CONFLICT_RULES (its values are the codes),
# BOOKING_RULE_MEANINGS (its keys are).
CODE_CONSTANT = re.compile(r"[A-Z0-9_]*_RULES?")
MEANINGS_CONSTANT = re.compile(r"[A-Z0-9_]*_RULE_MEANINGS")
UNLISTED = "rule_nobody_registered"
# frozenset({...}) and the like; never register_rules(...), which is the list itself.
COLLECTIONS = {"frozenset", "set", "tuple", "list"}


def _strings(node: ast.AST | None) -> set[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return {s for item in node.elts for s in _strings(item)}
    if isinstance(node, ast.Call) and getattr(node.func, "id", None) in COLLECTIONS and node.args:
        return _strings(node.args[0])
    return set()


def _from_call(node: ast.Call) -> set[str]:
    found = {s for kw in node.keywords if kw.arg == "rule" for s in _strings(kw.value)}
    name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
    if name in {"Violation", "Finding"} and node.args:
        found |= _strings(node.args[0])
    return found


def _from_assignment(node: ast.Assign | ast.AnnAssign) -> set[str]:
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    names = [t.id for t in targets if isinstance(t, ast.Name)]
    value = node.value
    if any(MEANINGS_CONSTANT.fullmatch(n) for n in names) and isinstance(value, ast.Dict):
        return {s for key in value.keys for s in _strings(key)}
    if any(CODE_CONSTANT.fullmatch(n) for n in names):
        if isinstance(value, ast.Dict):
            return {s for item in value.values for s in _strings(item)}
        return _strings(value)
    return set()


def _from_dict(node: ast.Dict) -> set[str]:
    """A violation written as a mapping: {"rule": "...", ...}."""
    return {
        s
        for key, value in zip(node.keys, node.values, strict=True)
        if key is not None and _strings(key) == {"rule"}
        for s in _strings(value)
    }


def codes_in(tree: ast.AST) -> set[str]:
    """Every rule code written as a literal where a violation is made or named."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            found |= _from_call(node)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            found |= _from_assignment(node)
        elif isinstance(node, ast.Dict):
            found |= _from_dict(node)
    return found


def source_codes() -> dict[str, set[str]]:
    """Rule code -> the modules that write it."""
    where: dict[str, set[str]] = {}
    for path in sorted(SOURCE.rglob("*.py")):
        for code in codes_in(ast.parse(path.read_text(), str(path))):
            where.setdefault(code, set()).add(str(path.relative_to(SOURCE.parent)))
    return where


def unregistered(where: dict[str, set[str]], registered: frozenset[str]) -> dict[str, set[str]]:
    return {code: modules for code, modules in where.items() if code not in registered}


@pytest.mark.once
def test_every_rule_code_in_the_source_is_registered(app):
    # `app` has loaded every domain, and with it every registration.
    assert unregistered(source_codes(), registered_rules()) == {}


@pytest.mark.once
def test_the_scan_finds_each_way_a_code_is_written():
    where = source_codes()

    assert {
        "offer_taken",  # Violation("offer_taken", ...)
        "preparation_incomplete",  # Finding("preparation_incomplete", ...)
        "staff_conflict",  # CONFLICT_RULES = {"staff": "staff_conflict", ...}
        "held_for_waitlist_offer",  # OFFER_HOLD_RULE = "held_for_waitlist_offer"
        "nonexistent_local_time",  # LOCAL_TIME_RULES = {"nonexistent": ...}
        "pre_dose_gate",  # BOOKING_RULE_MEANINGS = {"pre_dose_gate": ...}
        "integration_missing",  # READINESS_RULES = ("preparation_incomplete", ...)
    } <= set(where)
    tree = ast.parse('Violation(rule="a_code", message="m")\nproblem = {"rule": "b_code"}')
    assert codes_in(tree) == {"a_code", "b_code"}


@pytest.mark.once
@pytest.mark.parametrize("code", ["offer_taken", "staff_conflict", "not_started_yet"])
def test_a_code_taken_off_the_list_is_noticed(app, code):
    shorter = registered_rules() - {code}

    assert set(unregistered(source_codes(), shorter)) == {code}


@pytest.mark.once
def test_the_document_lists_exactly_the_registered_codes(app):
    document = app.test_client().get("/openapi.json").get_json()
    rule = document["components"]["schemas"]["Violation"]["properties"]["rule"]

    assert rule["enum"] == sorted(registered_rules())
    assert len(rule["enum"]) >= 40


def test_a_code_is_snake_case():
    with pytest.raises(ValueError, match="snake_case"):
        register_rules("Room conflict")


# --- a refusal naming a code nobody registered -------------------------------------------


@pytest.fixture
def refusing_app(database_url):
    bp = Blueprint("refusal_probe", __name__, url_prefix="/api/v1")

    @bp.route("/test-refuse/<rule>", methods=["POST"])
    @requires()
    def refuse(rule):
        """Refuse, naming the rule in the path."""
        raise RuleRefused([Violation(rule, "Refused for the test.")])

    with separate_app(overrides_for(database_url)) as application:
        api.register_blueprint(bp)
        yield application


def test_under_test_a_refusal_with_a_registered_code_is_answered(refusing_app, admin_headers):
    response = refusing_app.test_client().post(
        "/api/v1/test-refuse/room_conflict", headers=admin_headers
    )

    assert assert_problem(response, 422)["violations"][0]["rule"] == "room_conflict"


def test_under_test_an_unregistered_code_fails_the_request(refusing_app, admin_headers, caplog):
    response = refusing_app.test_client().post(
        f"/api/v1/test-refuse/{UNLISTED}", headers=admin_headers
    )

    assert_problem(response, 500)
    [line] = [
        json.loads(r.getMessage()) for r in caplog.records if "unhandled_error" in r.getMessage()
    ]
    assert line["error_type"] == "UnregisteredRule"


def test_under_test_an_unregistered_code_fails_where_the_refusal_is_made(app):
    # Services are tested without HTTP: the refusal itself fails, not only its answer.
    with pytest.raises(UnregisteredRule, match=UNLISTED):
        RuleRefused([Violation(UNLISTED, "Refused for the test.")])
    RuleRefused([Violation("room_conflict", "Refused for the test.")])


def test_in_production_an_unregistered_code_is_answered_and_logged(
    refusing_app, admin_headers, caplog, monkeypatch
):
    monkeypatch.setitem(refusing_app.config, "KAPT_ENV", "production")

    response = refusing_app.test_client().post(
        f"/api/v1/test-refuse/{UNLISTED}", headers=admin_headers
    )

    assert assert_problem(response, 422)["violations"][0]["rule"] == UNLISTED
    [line] = [
        json.loads(r.getMessage()) for r in caplog.records if "unregistered_rule" in r.getMessage()
    ]
    assert line["rules"] == [UNLISTED]
    assert line["level"] == "warning"
