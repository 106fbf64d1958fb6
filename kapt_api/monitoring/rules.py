"""Monitoring decisions over plain values: which timepoints are due, done or overdue,
which values are impossible, which cross a threshold, whether a patient may leave.

No database, no Flask; `now` is passed in.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from kapt_api.errors import Violation
from kapt_api.protocols.definition import (
    READINGS_WITHIN_RANGE,
    AlertAction,
    ChecklistTemplate,
    Threshold,
    Timepoint,
    TimepointKind,
)
from kapt_api.protocols.measurements import Measurement


class TimepointState(StrEnum):
    DUE = "due"
    DONE = "done"
    OVERDUE = "overdue"


@dataclass(frozen=True)
class ReadingFact:
    """A current (not superseded) reading as the rules see it."""

    id: uuid.UUID
    timepoint: str | None
    slot_minutes: int | None
    measured_at: datetime
    values: Mapping[str, float]


@dataclass(frozen=True)
class Occurrence:
    """One moment the checklist asks for readings."""

    timepoint: Timepoint
    slot_minutes: int | None
    due_at: datetime | None
    state: TimepointState
    reading_id: uuid.UUID | None


@dataclass(frozen=True)
class Breach:
    threshold: Threshold
    measurement: Measurement
    value: float

    @property
    def holds_dose(self) -> bool:
        return self.threshold.action is AlertAction.PRE_DOSE_HOLD

    def sentence(self) -> str:
        """What crossed which limit, in words (no patient named)."""
        info = self.measurement.info
        low = self.threshold.low
        side = (
            f"below {low:g}"
            if low is not None and self.value < low
            else f"above {self.threshold.high:g}"
        )
        unit = f" {info.unit}" if info.unit else ""
        return f"{info.display} {self.value:g}{unit} is {side}"


def _minutes_between(start: datetime, end: datetime) -> int:
    return int((end - start).total_seconds() // 60)


def end_minutes(
    template: ChecklistTemplate, *, dose_started_at: datetime, discharged_at: datetime | None
) -> int:
    """How far the repeating timepoints run: to discharge, or the minimum monitoring time."""
    if discharged_at is None:
        return template.min_monitoring_minutes
    return max(template.min_monitoring_minutes, _minutes_between(dose_started_at, discharged_at))


def slot_for(
    timepoint: Timepoint, *, dose_started_at: datetime | None, measured_at: datetime, end: int
) -> int | None:
    """The occurrence of a timepoint a reading taken at `measured_at` belongs to: the one
    whose due time is nearest (None for the baseline and the before-discharge check)."""
    offsets = timepoint.due_offsets(end)
    if not offsets:
        return None
    if dose_started_at is None:
        return offsets[0]
    minutes = (measured_at - dose_started_at).total_seconds() / 60
    return min(offsets, key=lambda offset: (abs(offset - minutes), offset))


def checklist_status(
    template: ChecklistTemplate,
    *,
    checked_in_at: datetime,
    dose_started_at: datetime | None,
    discharged_at: datetime | None,
    readings: Sequence[ReadingFact],
    now: datetime,
) -> list[Occurrence]:
    """Every occurrence of every timepoint, each due, done or overdue at `now`."""
    done = {(r.timepoint, r.slot_minutes): r.id for r in readings if r.timepoint is not None}
    found: list[Occurrence] = []
    for timepoint in template.timepoints:
        tolerance = timedelta(minutes=timepoint.tolerance_minutes)
        for slot, due_at in _moments(
            template, timepoint, checked_in_at, dose_started_at, discharged_at
        ):
            reading = done.get((timepoint.key, slot))
            if reading is not None:
                state = TimepointState.DONE
            elif _late(timepoint, due_at, tolerance, dose_started_at=dose_started_at, now=now):
                state = TimepointState.OVERDUE
            else:
                state = TimepointState.DUE
            found.append(Occurrence(timepoint, slot, due_at, state, reading))
    return found


def _moments(
    template: ChecklistTemplate,
    timepoint: Timepoint,
    checked_in_at: datetime,
    dose_started_at: datetime | None,
    discharged_at: datetime | None,
) -> list[tuple[int | None, datetime | None]]:
    if timepoint.kind is TimepointKind.PRE_DOSE:
        return [(None, checked_in_at)]
    if dose_started_at is None:
        # Before the dose only the first occurrence is shown, without a time yet.
        offsets = timepoint.due_offsets(template.min_monitoring_minutes)
        return [(offsets[0] if offsets else None, None)]
    if timepoint.kind is TimepointKind.BEFORE_DISCHARGE:
        return [(None, dose_started_at + timedelta(minutes=template.min_monitoring_minutes))]
    end = end_minutes(template, dose_started_at=dose_started_at, discharged_at=discharged_at)
    return [
        (offset, dose_started_at + timedelta(minutes=offset))
        for offset in timepoint.due_offsets(end)
    ]


def _late(
    timepoint: Timepoint,
    due_at: datetime | None,
    tolerance: timedelta,
    *,
    dose_started_at: datetime | None,
    now: datetime,
) -> bool:
    if timepoint.kind is TimepointKind.PRE_DOSE:
        # The baseline is late once the dose has started without it.
        return dose_started_at is not None
    if timepoint.kind is TimepointKind.BEFORE_DISCHARGE or due_at is None:
        return False  # discharge itself waits for it
    return now > due_at + tolerance


# --- values ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Value:
    measurement: str
    value: float
    unit: str


def value_problems(
    template: ChecklistTemplate, timepoint: Timepoint | None, values: Sequence[Value]
) -> dict[str, list[str]]:
    """Every field of a reading that cannot be stored: a measurement this checklist does
    not take, a wrong unit, an impossible value, a required one missing, a repeat."""
    problems: dict[str, list[str]] = {}
    measured = {item.measurement for item in template.measurements}
    seen: set[str] = set()
    for value in values:
        field = f"values.{value.measurement}"
        try:
            measurement = Measurement(value.measurement)
        except ValueError:
            problems.setdefault(field, []).append("Not a measurement this API knows.")
            continue
        if measurement not in measured or not measurement.info.numeric:
            problems.setdefault(field, []).append("This checklist does not record it as a value.")
            continue
        if value.measurement in seen:
            problems.setdefault(field, []).append("Give each measurement once.")
        seen.add(value.measurement)
        problems_of_one = _one_value_problems(template, measurement, value)
        if problems_of_one:
            problems.setdefault(field, []).extend(problems_of_one)
    if timepoint is not None:
        for measurement in timepoint.measurements:
            if measurement.info.numeric and measurement.value not in seen:
                problems.setdefault(f"values.{measurement.value}", []).append(
                    f"Required at the timepoint '{timepoint.key}'."
                )
    return problems


def _one_value_problems(
    template: ChecklistTemplate, measurement: Measurement, value: Value
) -> list[str]:
    info = measurement.info
    found = []
    if value.unit != info.unit:
        found.append(f"Give it in {info.unit} (UCUM).")
    if info.integer and value.value != int(value.value):
        found.append("Give a whole number.")
    plausible = template.plausible_range(measurement) or info.plausible
    if plausible is not None and not plausible[0] <= value.value <= plausible[1]:
        found.append(
            f"{value.value:g} is not a plausible {info.display.lower()}: "
            f"expected {plausible[0]:g}-{plausible[1]:g} {info.unit}."
        )
    return found


def breaches(
    template: ChecklistTemplate, values: Mapping[str, float], *, pre_dose: bool
) -> list[Breach]:
    """Every threshold these values cross, in the checklist's order."""
    found = []
    for name, value in values.items():
        measurement = Measurement(name)
        for threshold in template.thresholds_for(measurement, pre_dose=pre_dose):
            if threshold.breached_by(value):
                found.append(Breach(threshold, measurement, value))
    return found


def latest_values(readings: Sequence[ReadingFact]) -> dict[str, float]:
    """The most recent value of each measurement."""
    latest: dict[str, tuple[datetime, float]] = {}
    for reading in readings:
        for name, value in reading.values.items():
            if name not in latest or reading.measured_at >= latest[name][0]:
                latest[name] = (reading.measured_at, value)
    return {name: value for name, (_at, value) in latest.items()}


def _required_now(occurrence: Occurrence, now: datetime) -> bool:
    """The baseline and the before-discharge check always; the others once due."""
    if occurrence.timepoint.kind in (TimepointKind.PRE_DOSE, TimepointKind.BEFORE_DISCHARGE):
        return True
    return occurrence.due_at is None or occurrence.due_at <= now


# --- discharge ------------------------------------------------------------------------------


@dataclass(frozen=True)
class DischargeFacts:
    dose_started_at: datetime | None
    occurrences: Sequence[Occurrence]
    latest: Mapping[str, float]
    confirmed: frozenset[str]
    overridden: bool


def discharge_violations(
    template: ChecklistTemplate, facts: DischargeFacts, *, now: datetime
) -> list[Violation]:
    """Everything still missing before the patient may leave (empty: they may)."""
    if facts.dose_started_at is None:
        return [Violation("dose_not_started", "The dose has not started yet.")]
    violations = []
    minimum = template.min_monitoring_minutes
    elapsed = _minutes_between(facts.dose_started_at, now)
    if elapsed < minimum:
        violations.append(
            Violation(
                "minimum_monitoring_time",
                f"Monitoring must last at least {minimum} minutes from the dose start; "
                f"{elapsed} have passed.",
                {"minutes_remaining": minimum - elapsed},
            )
        )
    for occurrence in facts.occurrences:
        if occurrence.state is not TimepointState.DONE and _required_now(occurrence, now):
            violations.append(
                Violation(
                    "timepoint_missing",
                    f"No readings recorded for '{occurrence.timepoint.label}'.",
                    {
                        "timepoint": occurrence.timepoint.key,
                        "slot_minutes": occurrence.slot_minutes,
                    },
                )
            )
    if not facts.overridden:
        for breach in breaches(template, facts.latest, pre_dose=False):
            violations.append(
                Violation(
                    "readings_out_of_range",
                    f"The last reading is out of the discharge range: {breach.sentence()}.",
                    {"measurement": breach.measurement.value},
                )
            )
    for criterion in template.discharge_criteria:
        if criterion.key != READINGS_WITHIN_RANGE and criterion.key not in facts.confirmed:
            violations.append(
                Violation(
                    "discharge_criterion_unconfirmed",
                    f"Not confirmed: {criterion.label}.",
                    {"criterion": criterion.key},
                )
            )
    return violations
