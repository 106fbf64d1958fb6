"""Small edits of a valid definition, for tests that break one thing at a time."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from kapt_api.protocols.definition import (
    Medication,
    ProtocolDefinition,
    Route,
    SessionKind,
)
from kapt_api.protocols.rules import definition_problems


def problems(
    definition: ProtocolDefinition,
    medication: Medication = Medication.RACEMIC_KETAMINE,
    route: Route = Route.INTRAMUSCULAR,
) -> dict[str, list[str]]:
    """{path: [messages]} of every problem found."""
    found: dict[str, list[str]] = {}
    for problem in definition_problems(definition, medication=medication, route=route):
        found.setdefault(problem.path, []).append(problem.message)
    return found


def with_sequencing(definition: ProtocolDefinition, **changes: Any) -> ProtocolDefinition:
    return replace(definition, sequencing=replace(definition.sequencing, **changes))


def with_checklist(definition: ProtocolDefinition, **changes: Any) -> ProtocolDefinition:
    return replace(definition, checklist=replace(definition.checklist, **changes))


def with_session(
    definition: ProtocolDefinition, kind: SessionKind, **changes: Any
) -> ProtocolDefinition:
    sessions = tuple(
        replace(s, **changes) if s.kind is kind else s for s in definition.session_types
    )
    return replace(definition, session_types=sessions)


def with_timepoint(
    definition: ProtocolDefinition, index: int, **changes: Any
) -> ProtocolDefinition:
    points = list(definition.checklist.timepoints)
    points[index] = replace(points[index], **changes)
    return with_checklist(definition, timepoints=tuple(points))


def with_threshold(
    definition: ProtocolDefinition, index: int, **changes: Any
) -> ProtocolDefinition:
    thresholds = list(definition.checklist.thresholds)
    thresholds[index] = replace(thresholds[index], **changes)
    return with_checklist(definition, thresholds=tuple(thresholds))


def with_rule(definition: ProtocolDefinition, index: int, **changes: Any) -> ProtocolDefinition:
    rules = list(definition.reminder_policy.rules)
    rules[index] = replace(rules[index], **changes)
    return replace(
        definition, reminder_policy=replace(definition.reminder_policy, rules=tuple(rules))
    )


def with_templates(
    definition: ProtocolDefinition, index: int, **changes: Any
) -> ProtocolDefinition:
    rule = definition.reminder_policy.rules[index]
    return with_rule(definition, index, templates=replace(rule.templates, **changes))
