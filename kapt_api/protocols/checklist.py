"""A dosing session's monitoring checklist: what is measured when, the thresholds that
raise an alert, and what is checked before discharge."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from kapt_api.protocols.measurements import Measurement

# Discharge criteria every template carries; monitoring checks the first from readings.
READINGS_WITHIN_RANGE = "readings_within_range"
ALERT_AND_ORIENTED = "alert_and_oriented"
ESCORT_PRESENT = "escort_present"
NO_DRIVING_ACKNOWLEDGED = "no_driving_acknowledged"


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
