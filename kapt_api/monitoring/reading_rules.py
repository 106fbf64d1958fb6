"""Which values of a reading cannot be stored, which cross a threshold of the
checklist, and the latest value of each measurement.

No database, no Flask.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from kapt_api.monitoring.checklist_rules import ReadingFact
from kapt_api.protocols.definition import AlertAction, ChecklistTemplate, Threshold, Timepoint
from kapt_api.protocols.measurements import Measurement


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
