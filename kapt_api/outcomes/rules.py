"""Scoring PHQ-9 and GAD-7 (DOMAIN.md §2.8, §4.3): items answered 0-3 (not at all ...
nearly every day), the total their sum; the trend of a course's totals."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Instrument(StrEnum):
    PHQ9 = "phq9"
    GAD7 = "gad7"


@dataclass(frozen=True)
class InstrumentInfo:
    display: str
    items: int
    loinc_total: str
    bands: tuple[tuple[int, str], ...]  # (lowest total, severity), ascending

    @property
    def max_total(self) -> int:
        return self.items * ITEM_MAX


ITEM_MAX = 3
# PHQ-9 item 9: thoughts that you would be better off dead or of hurting yourself.
PHQ9_SELF_HARM_ITEM = 9
INSTRUMENTS = {
    Instrument.PHQ9: InstrumentInfo(
        "PHQ-9",
        9,
        "44261-6",
        ((0, "minimal"), (5, "mild"), (10, "moderate"), (15, "moderately severe"), (20, "severe")),
    ),
    Instrument.GAD7: InstrumentInfo(
        "GAD-7", 7, "70274-6", ((0, "minimal"), (5, "mild"), (10, "moderate"), (15, "severe"))
    ),
}


def item_problems(instrument: Instrument, items: Sequence[int]) -> list[str]:
    """Why these answers are not a complete questionnaire (empty: they are)."""
    info = INSTRUMENTS[instrument]
    problems = []
    if len(items) != info.items:
        problems.append(f"{info.display} has {info.items} items; {len(items)} were given.")
    for number, answer in enumerate(items, start=1):
        if not 0 <= answer <= ITEM_MAX:
            problems.append(f"Item {number} must be 0-{ITEM_MAX}.")
    return problems


def total(items: Sequence[int]) -> int:
    return sum(items)


def severity(instrument: Instrument, score: int) -> str:
    """The conventional severity band of a total."""
    return [name for lowest, name in INSTRUMENTS[instrument].bands if score >= lowest][-1]


def self_harm_answered(instrument: Instrument, items: Sequence[int]) -> bool:
    """PHQ-9 item 9 answered above 0: the prescriber must see it now."""
    return instrument is Instrument.PHQ9 and items[PHQ9_SELF_HARM_ITEM - 1] > 0


@dataclass(frozen=True)
class Score:
    measured_at: datetime
    total: int


@dataclass(frozen=True)
class Trend:
    instrument: Instrument
    first: int | None
    latest: int | None
    change: int | None
    percent_change: float | None
    severity: str | None
    points: tuple[Score, ...]


def trend(instrument: Instrument, scores: Sequence[Score]) -> Trend:
    """First and latest total, the change (negative is better) and every point by time."""
    ordered = tuple(sorted(scores, key=lambda s: s.measured_at))
    if not ordered:
        return Trend(instrument, None, None, None, None, None, ())
    first, latest = ordered[0].total, ordered[-1].total
    percent = round((latest - first) / first * 100, 1) if first else None
    return Trend(
        instrument, first, latest, latest - first, percent, severity(instrument, latest), ordered
    )
