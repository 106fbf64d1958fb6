"""A protocol version's rules as typed, frozen values: what scheduling, monitoring and
reminders read (`definition_of(version)`), stored as one JSON document per version.

The document is the dataclasses written out field by field (`to_document`) and read
back the same way (`from_document`); only validated definitions are ever stored
(rules.definition_problems), so reading trusts the shape. The parts of a definition
live in session_types.py, sequencing.py, checklist.py and reminder_policy.py; every
name is importable from here too.
"""

from __future__ import annotations

import functools
import json
import typing
from collections.abc import Mapping
from dataclasses import dataclass, fields, is_dataclass
from enum import Enum, StrEnum
from types import NoneType, UnionType
from typing import Any

from kapt_api.protocols.checklist import (
    ALERT_AND_ORIENTED,
    ESCORT_PRESENT,
    NO_DRIVING_ACKNOWLEDGED,
    READINGS_WITHIN_RANGE,
    AlertAction,
    ChecklistMeasurement,
    ChecklistTemplate,
    DischargeCriterion,
    Severity,
    Threshold,
    ThresholdPhase,
    Timepoint,
    TimepointKind,
)
from kapt_api.protocols.reminder_policy import (
    Channel,
    MessageTemplates,
    ReminderPolicy,
    ReminderRule,
)
from kapt_api.protocols.sequencing import HourWindow, Phase, Sequencing
from kapt_api.protocols.session_types import RoleRequirement, SessionKind, SessionType

__all__ = [
    "ALERT_AND_ORIENTED",
    "DEFAULT_APPROVAL_NOTE",
    "ESCORT_PRESENT",
    "NO_DRIVING_ACKNOWLEDGED",
    "READINGS_WITHIN_RANGE",
    "SCHEMA_VERSION",
    "AlertAction",
    "Channel",
    "ChecklistMeasurement",
    "ChecklistTemplate",
    "DischargeCriterion",
    "HourWindow",
    "Medication",
    "MessageTemplates",
    "Phase",
    "PreparationInstructions",
    "ProtocolDefinition",
    "ReminderPolicy",
    "ReminderRule",
    "RoleRequirement",
    "Route",
    "Sequencing",
    "SessionKind",
    "SessionType",
    "Severity",
    "StoredVersion",
    "Threshold",
    "ThresholdPhase",
    "Timepoint",
    "TimepointKind",
    "definition_of",
    "from_document",
    "to_document",
]

SCHEMA_VERSION = 1
DEFAULT_APPROVAL_NOTE = "Defaults; a medical director must approve before clinical use."


class Medication(StrEnum):
    ESKETAMINE = "esketamine"
    RACEMIC_KETAMINE = "racemic_ketamine"


class Route(StrEnum):
    INTRANASAL = "intranasal"
    INTRAVENOUS = "intravenous"
    INTRAMUSCULAR = "intramuscular"
    SUBLINGUAL = "sublingual"
    ORAL = "oral"


@dataclass(frozen=True)
class PreparationInstructions:
    fasting_solids_minutes: int | None
    fasting_liquids_minutes: int | None
    driver_required: bool
    other_instructions: str = ""

    @property
    def empty(self) -> bool:
        return (
            self.fasting_solids_minutes is None
            and self.fasting_liquids_minutes is None
            and not self.driver_required
            and not self.other_instructions
        )


@dataclass(frozen=True)
class ProtocolDefinition:
    session_types: tuple[SessionType, ...]
    sequencing: Sequencing
    checklist: ChecklistTemplate
    reminder_policy: ReminderPolicy
    preparation: PreparationInstructions
    sources: tuple[str, ...]
    approval_note: str

    def session_type(self, kind: SessionKind) -> SessionType | None:
        return next((s for s in self.session_types if s.kind is kind), None)

    def session_type_index(self, kind: SessionKind) -> int | None:
        return next((i for i, s in enumerate(self.session_types) if s.kind is kind), None)


# --- the stored document ------------------------------------------------------------------


def to_document(definition: ProtocolDefinition) -> dict[str, Any]:
    """The JSON document stored for a version (sets are written sorted, so equal
    definitions give equal documents)."""
    encoded = _encode(definition)
    assert isinstance(encoded, dict)
    return {"schema_version": SCHEMA_VERSION, **encoded}


def from_document(document: Mapping[str, Any]) -> ProtocolDefinition:
    """Read a stored document back into a definition."""
    version = document.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ValueError(f"unknown protocol document schema_version {version!r}")
    body = {k: v for k, v in document.items() if k != "schema_version"}
    decoded = _decode(ProtocolDefinition, body)
    assert isinstance(decoded, ProtocolDefinition)
    return decoded


def _encode(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _encode(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, frozenset):
        return sorted(_encode(item) for item in value)
    if isinstance(value, tuple | list):
        return [_encode(item) for item in value]
    return value


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def _decode(kind: Any, raw: Any) -> Any:
    origin = typing.get_origin(kind)
    if origin is UnionType or origin is typing.Union:
        if raw is None:
            return None
        (inner,) = [arg for arg in typing.get_args(kind) if arg is not NoneType]
        return _decode(inner, raw)
    if origin is tuple:
        return tuple(_decode(typing.get_args(kind)[0], item) for item in raw)
    if origin is frozenset:
        return frozenset(_decode(typing.get_args(kind)[0], item) for item in raw)
    if isinstance(kind, type) and is_dataclass(kind):
        hints = _hints(kind)
        values = {
            f.name: _decode(hints[f.name], raw[f.name]) for f in fields(kind) if f.name in raw
        }
        return kind(**values)
    if isinstance(kind, type) and issubclass(kind, Enum):
        return kind(raw)
    if kind is float:
        return float(raw)
    return raw


# --- the loader other domains call --------------------------------------------------------


class StoredVersion(typing.Protocol):
    document: dict[str, Any]


def definition_of(version: StoredVersion) -> ProtocolDefinition:
    """The typed rules of a protocol version: what scheduling, monitoring and reminders read."""
    return _parsed(json.dumps(version.document, sort_keys=True, separators=(",", ":")))


@functools.lru_cache(maxsize=256)
def _parsed(document: str) -> ProtocolDefinition:
    # Keyed by the document's content, so a cached definition is never stale; the values
    # are frozen, so every reader may share one.
    return from_document(json.loads(document))
