"""A problem found in a protocol definition: the field's path and why."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing that makes no sense: the field's path and a sentence saying why."""

    path: str
    message: str


def errors_by_field(problems: Iterable[Problem], prefix: str = "") -> dict[str, list[str]]:
    """Problems as InvalidInput errors: {"prefix.path": [messages]}."""
    errors: dict[str, list[str]] = {}
    for problem in problems:
        path = f"{prefix}.{problem.path}" if prefix else problem.path
        errors.setdefault(path, []).append(problem.message)
    return errors


def out_of_range(path: str, value: float, low: float, high: float, unit: str = "") -> list[Problem]:
    """A problem when value is outside low..high."""
    if low <= value <= high:
        return []
    suffix = f" {unit}" if unit else ""
    return [Problem(path, f"Must be between {low:g} and {high:g}{suffix}.")]
