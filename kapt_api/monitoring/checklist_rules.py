"""Which timepoints of a monitoring checklist are due, done or overdue, and which
occurrence of a timepoint a reading belongs to.

No database, no Flask; `now` is passed in.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from kapt_api.protocols.definition import ChecklistTemplate, Timepoint, TimepointKind


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


def minutes_between(start: datetime, end: datetime) -> int:
    return int((end - start).total_seconds() // 60)


def end_minutes(
    template: ChecklistTemplate, *, dose_started_at: datetime, discharged_at: datetime | None
) -> int:
    """How far the repeating timepoints run: to discharge, or the minimum monitoring time."""
    if discharged_at is None:
        return template.min_monitoring_minutes
    return max(template.min_monitoring_minutes, minutes_between(dose_started_at, discharged_at))


@dataclass(frozen=True)
class Filing:
    """Where a reading is filed: a timepoint and its occurrence, or unscheduled (both
    None), which satisfies no timepoint."""

    timepoint: str | None
    slot_minutes: int | None


UNSCHEDULED = Filing(None, None)


def filing(
    template: ChecklistTemplate,
    timepoint: Timepoint | None,
    *,
    dose_started_at: datetime | None,
    measured_at: datetime,
    end: int,
) -> Filing:
    """Where a reading sent for `timepoint` at `measured_at` is filed: under it only
    inside its tolerance (the baseline before the dose; the before-discharge check from
    the minimum monitoring time less the tolerance; any other at the occurrence whose due
    time is nearest, within the tolerance), else unscheduled and the timepoint stays due.
    The checklist, the discharge gate and the REMS form all read this filing."""
    if timepoint is None:
        return UNSCHEDULED
    if timepoint.kind is TimepointKind.PRE_DOSE:
        before = dose_started_at is None or measured_at <= dose_started_at
        return Filing(timepoint.key, None) if before else UNSCHEDULED
    if dose_started_at is None:
        return UNSCHEDULED  # the other timepoints count from the dose
    minutes = (measured_at - dose_started_at).total_seconds() / 60
    tolerance = timepoint.tolerance_minutes
    if timepoint.kind is TimepointKind.BEFORE_DISCHARGE:
        ready = minutes >= template.min_monitoring_minutes - tolerance
        return Filing(timepoint.key, None) if ready else UNSCHEDULED
    offsets = timepoint.due_offsets(end)
    if not offsets:
        return UNSCHEDULED
    nearest = min(offsets, key=lambda offset: (abs(offset - minutes), offset))
    return Filing(timepoint.key, nearest) if abs(nearest - minutes) <= tolerance else UNSCHEDULED


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
