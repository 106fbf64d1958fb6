"""The closed list of rule codes a refusal may name (Violation.rule).

Each domain registers the codes its rules can break when its module loads; the OpenAPI
document lists them as the enum of Violation.rule, so a generated client can switch on
them, and a client that meets a code outside its enum fails. A refusal naming a code
nobody registered is therefore a contract break: under KAPT_ENV=test it raises where the
refusal is made, so every refusal the suite provokes proves its codes registered; in
production it is still answered, and logged (handlers.py)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from flask import current_app, has_app_context

# snake_case, as every code in API.md: a code is a stable name, never a sentence.
RULE_CODE = re.compile(r"[a-z][a-z0-9]*(_[a-z0-9]+)*")

_registered: set[str] = set()


def register_rules(*codes: str) -> tuple[str, ...]:
    """Add rule codes to the closed list; returns them, for the domain's own constant."""
    for code in codes:
        if not RULE_CODE.fullmatch(code):
            raise ValueError(f"a rule code is snake_case: {code!r}")
    _registered.update(codes)
    return codes


def registered_rules() -> frozenset[str]:
    """Every rule code a violation may carry."""
    return frozenset(_registered)


class UnregisteredRule(AssertionError):
    """A refusal names a rule code missing from the closed list."""


def unregistered(codes: Iterable[str]) -> list[str]:
    """The codes outside the list; under KAPT_ENV=test, naming one fails at once."""
    unknown = sorted(set(codes) - _registered)
    if unknown and has_app_context() and current_app.config.get("KAPT_ENV") == "test":
        raise UnregisteredRule(f"rule codes not registered (errors.register_rules): {unknown}")
    return unknown
