"""Does a monitoring checklist make sense? Timepoints inside the monitoring time,
thresholds that can fire, measurements that exist and are recorded where they are
judged."""

from __future__ import annotations

import re

from kapt_api.protocols.checklist import (
    AlertAction,
    ChecklistMeasurement,
    ChecklistTemplate,
    Threshold,
    ThresholdPhase,
    Timepoint,
    TimepointKind,
)
from kapt_api.protocols.measurements import Measurement
from kapt_api.protocols.problems import Problem, out_of_range

KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MAX_MONITORING_MINUTES = 720
MAX_EVERY_MINUTES = 240
MAX_TOLERANCE_MINUTES = 60
ONCE_ONLY = (TimepointKind.PRE_DOSE, TimepointKind.BEFORE_DISCHARGE)
P = "checklist"


def checklist_problems(checklist: ChecklistTemplate) -> list[Problem]:
    """Every problem of a dosing session's monitoring checklist."""
    problems = out_of_range(
        f"{P}.min_monitoring_minutes",
        checklist.min_monitoring_minutes,
        1,
        MAX_MONITORING_MINUTES,
        "minutes",
    )
    problems += _measurement_problems(checklist.measurements)
    listed = {item.measurement for item in checklist.measurements}
    if not checklist.timepoints:
        problems.append(Problem(f"{P}.timepoints", "Give at least one timepoint."))
    keys: dict[str, int] = {}
    for i, timepoint in enumerate(checklist.timepoints):
        problems += _timepoint_problems(
            timepoint, f"{P}.timepoints.{i}", checklist.min_monitoring_minutes, listed
        )
        if timepoint.key in keys:
            problems.append(
                Problem(
                    f"{P}.timepoints.{i}.key",
                    f"The key {timepoint.key} is already used by timepoints.{keys[timepoint.key]}.",
                )
            )
        keys.setdefault(timepoint.key, i)
    for kind in ONCE_ONLY:
        found = [i for i, t in enumerate(checklist.timepoints) if t.kind is kind]
        for i in found[1:]:
            problems.append(
                Problem(f"{P}.timepoints.{i}.kind", f"Only one {kind} timepoint makes sense.")
            )
    for i, threshold in enumerate(checklist.thresholds):
        problems += _threshold_problems(threshold, f"{P}.thresholds.{i}", checklist)
    return problems + _discharge_problems(checklist)


def _measurement_problems(items: tuple[ChecklistMeasurement, ...]) -> list[Problem]:
    problems: list[Problem] = []
    seen: set[Measurement] = set()
    for i, item in enumerate(items):
        path = f"{P}.measurements.{i}"
        info = item.measurement.info
        if item.measurement in seen:
            problems.append(Problem(f"{path}.measurement", "Listed twice; keep one."))
        seen.add(item.measurement)
        low, high = item.plausible_low, item.plausible_high
        if info.limits is None:
            if low is not None or high is not None:
                problems.append(Problem(path, "A note is free text: it has no plausible range."))
            continue
        if low is None or high is None:
            problems.append(Problem(path, "Give plausible_low and plausible_high."))
            continue
        floor, ceiling = info.limits
        problems += out_of_range(f"{path}.plausible_low", low, floor, ceiling, info.unit or "")
        problems += out_of_range(f"{path}.plausible_high", high, floor, ceiling, info.unit or "")
        if low >= high:
            problems.append(
                Problem(f"{path}.plausible_low", f"Must be below plausible_high ({high:g}).")
            )
    return problems


def _timepoint_problems(
    timepoint: Timepoint, path: str, minimum: int, listed: set[Measurement]
) -> list[Problem]:
    problems: list[Problem] = []
    if not KEY.match(timepoint.key):
        problems.append(
            Problem(f"{path}.key", "Use lower-case letters, digits and _, starting with a letter.")
        )
    if not timepoint.measurements:
        problems.append(Problem(f"{path}.measurements", "Name at least one measurement."))
    seen: set[Measurement] = set()
    for j, measurement in enumerate(timepoint.measurements):
        if measurement in seen:
            problems.append(Problem(f"{path}.measurements.{j}", "Listed twice; keep one."))
        elif measurement not in listed:
            problems.append(
                Problem(
                    f"{path}.measurements.{j}",
                    f"{measurement} is not one of this checklist's measurements; "
                    "add it to checklist.measurements.",
                )
            )
        seen.add(measurement)
    problems += out_of_range(
        f"{path}.tolerance_minutes", timepoint.tolerance_minutes, 0, MAX_TOLERANCE_MINUTES
    )
    return problems + _timing_problems(timepoint, path, minimum)


# Which of offset, every and until each kind of timepoint takes.
TIMING_FIELDS: dict[TimepointKind, frozenset[str]] = {
    TimepointKind.PRE_DOSE: frozenset(),
    TimepointKind.BEFORE_DISCHARGE: frozenset(),
    TimepointKind.AT: frozenset({"offset_minutes"}),
    TimepointKind.EVERY: frozenset({"offset_minutes", "every_minutes", "until_minutes"}),
}


def _timing_problems(timepoint: Timepoint, path: str, minimum: int) -> list[Problem]:
    """Which of offset, every and until a kind takes, and that they fall in the monitoring."""
    wanted = TIMING_FIELDS[timepoint.kind]
    problems = _timing_field_problems(timepoint, path, wanted)
    offset = timepoint.offset_minutes
    if offset is not None and "offset_minutes" in wanted:
        problems += _offset_problems(offset, path, minimum)
    every = timepoint.every_minutes
    if every is not None and "every_minutes" in wanted:
        problems += out_of_range(f"{path}.every_minutes", every, 1, MAX_EVERY_MINUTES, "minutes")
    until = timepoint.until_minutes
    if until is not None and "until_minutes" in wanted:
        problems += _until_problems(until, offset, path, minimum)
    return problems


def _timing_field_problems(
    timepoint: Timepoint, path: str, wanted: frozenset[str]
) -> list[Problem]:
    problems: list[Problem] = []
    for name in ("offset_minutes", "every_minutes", "until_minutes"):
        value = getattr(timepoint, name)
        if value is not None and name not in wanted:
            problems.append(
                Problem(f"{path}.{name}", f"A {timepoint.kind} timepoint has no {name}.")
            )
        elif value is None and name in wanted and name != "until_minutes":
            problems.append(Problem(f"{path}.{name}", f"A {timepoint.kind} timepoint needs it."))
    return problems


def _offset_problems(offset: int, path: str, minimum: int) -> list[Problem]:
    if offset < 0:
        return [Problem(f"{path}.offset_minutes", "Must not be negative.")]
    if offset > minimum:
        return [
            Problem(
                f"{path}.offset_minutes",
                f"Falls after the end of monitoring ({minimum} minutes after the dose).",
            )
        ]
    return []


def _until_problems(until: int, offset: int | None, path: str, minimum: int) -> list[Problem]:
    if offset is not None and until <= offset:
        return [Problem(f"{path}.until_minutes", f"Must come after the first time ({offset}).")]
    if until > minimum:
        return [
            Problem(
                f"{path}.until_minutes",
                f"Falls after the end of monitoring ({minimum} minutes after the dose); "
                "leave it empty to repeat until discharge.",
            )
        ]
    return []


def _threshold_problems(
    threshold: Threshold, path: str, checklist: ChecklistTemplate
) -> list[Problem]:
    measurement = threshold.measurement
    if measurement not in {item.measurement for item in checklist.measurements}:
        return [
            Problem(
                f"{path}.measurement",
                f"{measurement} is not one of this checklist's measurements.",
            )
        ]
    if not measurement.info.numeric:
        return [Problem(f"{path}.measurement", "A note has no value to compare.")]
    problems = _bound_problems(threshold, path)
    plausible = checklist.plausible_range(measurement)
    if plausible is not None:
        problems += _never_fires_problems(threshold, path, plausible)
    if (
        threshold.action is AlertAction.PRE_DOSE_HOLD
        and threshold.phase is not ThresholdPhase.PRE_DOSE
    ):
        problems.append(
            Problem(f"{path}.phase", "A pre-dose hold applies to the pre-dose reading only.")
        )
    if not _recorded_for(threshold, checklist):
        problems.append(
            Problem(
                f"{path}.measurement",
                f"No {threshold.phase} timepoint records {measurement}, so this never fires.",
            )
        )
    return problems


def _bound_problems(threshold: Threshold, path: str) -> list[Problem]:
    low, high = threshold.low, threshold.high
    problems: list[Problem] = []
    if low is None and high is None:
        problems.append(Problem(path, "Give low, high or both."))
    if low is not None and high is not None and low >= high:
        problems.append(Problem(f"{path}.low", f"Must be below high ({high:g})."))
    return problems


def _never_fires_problems(
    threshold: Threshold, path: str, plausible: tuple[float, float]
) -> list[Problem]:
    low, high = threshold.low, threshold.high
    lowest, highest = plausible
    never = f"Can never fire: readings run from {lowest:g} to {highest:g}."
    problems: list[Problem] = []
    if low is not None and not lowest < low <= highest:
        problems.append(Problem(f"{path}.low", never))
    if high is not None and not lowest <= high < highest:
        problems.append(Problem(f"{path}.high", never))
    return problems


def _recorded_for(threshold: Threshold, checklist: ChecklistTemplate) -> bool:
    for timepoint in checklist.timepoints:
        pre_dose = timepoint.kind is TimepointKind.PRE_DOSE
        if threshold.applies(pre_dose=pre_dose) and threshold.measurement in timepoint.measurements:
            return True
    return False


def _discharge_problems(checklist: ChecklistTemplate) -> list[Problem]:
    problems: list[Problem] = []
    if not checklist.discharge_criteria:
        problems.append(
            Problem(f"{P}.discharge_criteria", "Give at least one discharge criterion.")
        )
    seen: dict[str, int] = {}
    for i, criterion in enumerate(checklist.discharge_criteria):
        path = f"{P}.discharge_criteria.{i}"
        if not KEY.match(criterion.key):
            problems.append(
                Problem(
                    f"{path}.key", "Use lower-case letters, digits and _, starting with a letter."
                )
            )
        elif criterion.key in seen:
            problems.append(
                Problem(f"{path}.key", f"Already used by discharge_criteria.{seen[criterion.key]}.")
            )
        seen.setdefault(criterion.key, i)
        if not criterion.label.strip():
            problems.append(Problem(f"{path}.label", "Say what is checked."))
    return problems
