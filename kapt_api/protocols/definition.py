"""A protocol version's rules as typed, frozen values: what scheduling, monitoring and
reminders read (`definition_of(version)`), stored as one JSON document per version.

The document is the dataclasses written out field by field (`to_document`) and read
back the same way (`from_document`); only validated definitions are ever stored
(rules.definition_problems), so reading trusts the shape.
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

from kapt_api.auth.models import Role
from kapt_api.clinics.models import RoomKind
from kapt_api.protocols.measurements import Measurement

SCHEMA_VERSION = 1
DEFAULT_APPROVAL_NOTE = "Defaults; a medical director must approve before clinical use."

# Discharge criteria every template carries; monitoring checks the first from readings.
READINGS_WITHIN_RANGE = "readings_within_range"
ALERT_AND_ORIENTED = "alert_and_oriented"
ESCORT_PRESENT = "escort_present"
NO_DRIVING_ACKNOWLEDGED = "no_driving_acknowledged"


class Medication(StrEnum):
    ESKETAMINE = "esketamine"
    RACEMIC_KETAMINE = "racemic_ketamine"


class Route(StrEnum):
    INTRANASAL = "intranasal"
    INTRAVENOUS = "intravenous"
    INTRAMUSCULAR = "intramuscular"
    SUBLINGUAL = "sublingual"
    ORAL = "oral"


class SessionKind(StrEnum):
    INTAKE = "intake"
    PREPARATION = "preparation"
    DOSING = "dosing"
    INTEGRATION = "integration"
    FOLLOW_UP = "follow_up"


class TimepointKind(StrEnum):
    PRE_DOSE = "pre_dose"  # the baseline before the dose
    AT = "at"  # once, offset_minutes after the dose starts
    EVERY = "every"  # from offset_minutes, every every_minutes, until until_minutes or discharge
    BEFORE_DISCHARGE = "before_discharge"


class ThresholdPhase(StrEnum):
    PRE_DOSE = "pre_dose"
    AFTER_DOSE = "after_dose"
    ANY = "any"


class Severity(StrEnum):
    WARNING = "warning"
    CRITICAL = "critical"


class AlertAction(StrEnum):
    NOTIFY_PRESCRIBER = "notify_prescriber"
    # The dose waits for a prescriber's override; never an automatic cancellation.
    PRE_DOSE_HOLD = "pre_dose_hold"


class Channel(StrEnum):
    SMS = "sms"
    EMAIL = "email"


@dataclass(frozen=True)
class RoleRequirement:
    """One person who must be present, holding any one of these roles. Each requirement
    of a session type is filled by a different staff member."""

    any_of: frozenset[Role]


@dataclass(frozen=True)
class SessionType:
    kind: SessionKind
    duration_minutes: int
    room_kind: RoomKind
    required_roles: tuple[RoleRequirement, ...]
    buffer_after_minutes: int
    min_notice_hours: int
    cancellation_notice_hours: int

    @property
    def occupied_minutes(self) -> int:
        """How long the room and people are held: the session and its buffer."""
        return self.duration_minutes + self.buffer_after_minutes


@dataclass(frozen=True)
class Phase:
    """Course weeks first_week..last_week (week 1 is the 7 clinic calendar days from the
    first dose's: course_rules.course_week), at most doses_per_period doses in every
    period of period_weeks weeks. Only the last phase may have no last week: a
    maintenance phase that runs until the course is ended."""

    name: str
    first_week: int
    last_week: int | None
    doses_per_period: int
    period_weeks: int = 1

    @property
    def open_ended(self) -> bool:
        return self.last_week is None

    @property
    def weeks(self) -> int | None:
        """How many weeks the phase lasts (None: it has no end)."""
        return None if self.last_week is None else self.last_week - self.first_week + 1

    @property
    def dose_count(self) -> int:
        """The doses the phase plans; a maintenance phase plans none of the course's
        fixed count (its doses come after them)."""
        weeks = self.weeks
        if weeks is None or weeks <= 0:
            return 0
        return weeks // self.period_weeks * self.doses_per_period

    def contains(self, week: int) -> bool:
        return self.first_week <= week and (self.last_week is None or week <= self.last_week)

    def limit_text(self) -> str:
        """ "1 dose a week", "2 doses a week", "1 dose every 2 weeks"."""
        doses = f"{self.doses_per_period} dose{'s' if self.doses_per_period != 1 else ''}"
        if self.period_weeks == 1:
            return f"{doses} a week"
        return f"{doses} every {self.period_weeks} weeks"

    def weeks_text(self) -> str:
        """ "weeks 5-8", "week 9 on"."""
        if self.last_week is None:
            return f"week {self.first_week} on"
        if self.last_week == self.first_week:
            return f"week {self.first_week}"
        return f"weeks {self.first_week}-{self.last_week}"


@dataclass(frozen=True)
class HourWindow:
    """From start to end hours after a reference moment (the end of a dose)."""

    start: int
    end: int


@dataclass(frozen=True)
class Sequencing:
    preparation_sessions_required: int
    dose_count: int
    phases: tuple[Phase, ...]
    min_hours_between_doses: int
    max_doses_per_7_days: int
    integration_required: bool
    integration_window_hours: HourWindow | None
    next_dose_requires_integration_done: bool

    def phase_of_dose(self, number: int) -> Phase | None:
        """The phase the dose with this 1-based number belongs to in the protocol's plan
        (None without phases, or past the fixed doses when no phase is open-ended)."""
        planned = 0
        for phase in self.phases:
            if phase.open_ended:
                return phase
            planned += phase.dose_count
            if number <= planned:
                return phase
        return None

    @property
    def maintenance(self) -> Phase | None:
        """The open-ended last phase, if the protocol has one."""
        return self.phases[-1] if self.phases and self.phases[-1].open_ended else None

    def phase_of_week(self, week: int) -> Phase | None:
        """The phase whose weeks hold this course week; a week after the last phase's end
        keeps the last phase (a course running late keeps its last pace). None without
        phases."""
        for phase in self.phases:
            if phase.contains(week):
                return phase
        return self.phases[-1] if self.phases and week > 0 else None


@dataclass(frozen=True)
class ChecklistMeasurement:
    """A measurement this checklist records; values outside the plausible range are
    refused as impossible (None for a free-text note)."""

    measurement: Measurement
    plausible_low: float | None
    plausible_high: float | None


@dataclass(frozen=True)
class Timepoint:
    key: str
    label: str
    kind: TimepointKind
    measurements: tuple[Measurement, ...]
    offset_minutes: int | None = None
    every_minutes: int | None = None
    until_minutes: int | None = None
    tolerance_minutes: int = 5

    def due_offsets(self, end_minutes: int) -> tuple[int, ...]:
        """Minutes after the dose start at which this timepoint falls due, up to
        end_minutes (discharge, or the minimum monitoring time when not yet known).
        Empty for the pre-dose baseline and the before-discharge check."""
        if self.kind is TimepointKind.AT and self.offset_minutes is not None:
            return (self.offset_minutes,)
        if self.kind is TimepointKind.EVERY and self.offset_minutes is not None:
            step = self.every_minutes or 1
            last = (
                end_minutes if self.until_minutes is None else min(self.until_minutes, end_minutes)
            )
            return tuple(range(self.offset_minutes, last + 1, step))
        return ()


@dataclass(frozen=True)
class Threshold:
    """Alert when a value is below `low` or above `high`."""

    measurement: Measurement
    low: float | None
    high: float | None
    severity: Severity
    action: AlertAction
    phase: ThresholdPhase
    message: str = ""

    def breached_by(self, value: float) -> bool:
        return (self.low is not None and value < self.low) or (
            self.high is not None and value > self.high
        )

    def applies(self, *, pre_dose: bool) -> bool:
        if self.phase is ThresholdPhase.ANY:
            return True
        return (self.phase is ThresholdPhase.PRE_DOSE) == pre_dose


@dataclass(frozen=True)
class DischargeCriterion:
    key: str
    label: str


@dataclass(frozen=True)
class ChecklistTemplate:
    min_monitoring_minutes: int
    measurements: tuple[ChecklistMeasurement, ...]
    timepoints: tuple[Timepoint, ...]
    thresholds: tuple[Threshold, ...]
    discharge_criteria: tuple[DischargeCriterion, ...]

    def plausible_range(self, measurement: Measurement) -> tuple[float, float] | None:
        for item in self.measurements:
            if item.measurement is measurement:
                if item.plausible_low is None or item.plausible_high is None:
                    return None
                return (item.plausible_low, item.plausible_high)
        return None

    def thresholds_for(self, measurement: Measurement, *, pre_dose: bool) -> tuple[Threshold, ...]:
        return tuple(
            t
            for t in self.thresholds
            if t.measurement is measurement and t.applies(pre_dose=pre_dose)
        )


@dataclass(frozen=True)
class MessageTemplates:
    sms_body: str
    email_subject: str
    email_body: str


@dataclass(frozen=True)
class ReminderRule:
    session_kind: SessionKind
    offsets_hours: tuple[int, ...]
    channels: frozenset[Channel]
    templates: MessageTemplates
    include_preparation_instructions: bool = False
    # Texts and subjects are kept free of drug, treatment and diagnosis words unless
    # the clinic says otherwise here (DOMAIN.md §5.1).
    allow_clinical_terms: bool = False


@dataclass(frozen=True)
class ReminderPolicy:
    rules: tuple[ReminderRule, ...]

    def rule_for(self, kind: SessionKind) -> ReminderRule | None:
        return next((rule for rule in self.rules if rule.session_kind is kind), None)


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
