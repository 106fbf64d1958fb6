"""The readings a demo dose shows: plausible vital signs for each timepoint of the
protocol's checklist, a blood pressure that peaks about 40 minutes after the dose
(DOMAIN.md §1.3), light sedation early on, and whatever a story sets by hand (the
raised blood pressure of the dose in progress)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kapt_api.protocols.definition import Timepoint, TimepointKind
from kapt_api.protocols.measurements import Measurement as M

PEAK_MINUTES = 40
Values = dict[M, float]


@dataclass(frozen=True)
class Vitals:
    """A patient's usual readings on a dose day, and any set by hand: by (timepoint
    key, minutes after the dose) for a timepoint's reading."""

    systolic: int = 122
    diastolic: int = 78
    heart_rate: int = 72
    spo2: int = 98
    respiratory_rate: int = 14
    rise: int = 14  # how far the systolic pressure climbs at its peak
    set_by_hand: Mapping[tuple[str, int | None], Mapping[M, float]] = field(default_factory=dict)


def _rise(vitals: Vitals, minute: int | None) -> float:
    if minute is None:
        return 0.0
    return vitals.rise * max(0.0, 1 - abs(minute - PEAK_MINUTES) / 80)


def _value(vitals: Vitals, measurement: M, minute: int | None, point: Timepoint) -> float:
    rise = _rise(vitals, minute)
    sedated = minute is not None and 10 <= minute <= 50
    discharge = point.kind is TimepointKind.BEFORE_DISCHARGE
    by_measurement: dict[M, float] = {
        M.SYSTOLIC_BP: vitals.systolic + rise,
        M.DIASTOLIC_BP: vitals.diastolic + rise * 0.6,
        M.HEART_RATE: vitals.heart_rate + rise * 0.5,
        M.SPO2: vitals.spo2 - (1 if sedated else 0),
        M.RESPIRATORY_RATE: vitals.respiratory_rate,
        M.MOAA_S: 4 if sedated and not discharge else 5,
        M.DISSOCIATION: 1 if discharge else (22 if sedated else 6),
    }
    return float(round(by_measurement[measurement]))


def reading_values(vitals: Vitals, point: Timepoint, minute: int | None) -> list[dict[str, Any]]:
    """The values a reading for this timepoint (at this many minutes after the dose)
    carries: every numeric measurement the timepoint asks for, in its unit."""
    by_hand = vitals.set_by_hand.get((point.key, minute), {})
    return [
        {
            "measurement": measurement.value,
            "value": float(by_hand.get(measurement, _value(vitals, measurement, minute, point))),
            "unit": measurement.info.unit,
        }
        for measurement in point.measurements
        if measurement.info.numeric
    ]


def ad_hoc_values(values: Mapping[M, float]) -> list[dict[str, Any]]:
    """An ad hoc reading's values, as given."""
    return [
        {"measurement": m.value, "value": float(v), "unit": m.info.unit} for m, v in values.items()
    ]
