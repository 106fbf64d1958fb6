"""Whether a patient may leave: the minimum monitoring time, every required timepoint,
the last readings within range (unless overridden) and the discharge checklist.

No database, no Flask; `now` is passed in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from kapt_api.errors import Violation, register_rules
from kapt_api.monitoring.checklist_rules import Occurrence, TimepointState, minutes_between
from kapt_api.monitoring.reading_rules import breaches
from kapt_api.protocols.definition import READINGS_WITHIN_RANGE, ChecklistTemplate, TimepointKind

# Why a patient may not leave yet: these rules', and the sign-off's own (discharge.py).
DISCHARGE_RULES = register_rules(
    "dose_not_started",
    "minimum_monitoring_time",
    "timepoint_missing",
    "readings_out_of_range",
    "discharge_criterion_unconfirmed",
    "administration_missing",
    "adverse_events_missing",
    "rems_evaluation_missing",
)


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
    return [
        *_monitoring_too_short(template, facts.dose_started_at, now=now),
        *_timepoints_missing(facts.occurrences, now=now),
        *([] if facts.overridden else _readings_out_of_range(template, facts.latest)),
        *_criteria_unconfirmed(template, facts.confirmed),
    ]


def _monitoring_too_short(
    template: ChecklistTemplate, dose_started_at: datetime, *, now: datetime
) -> list[Violation]:
    minimum = template.min_monitoring_minutes
    elapsed = minutes_between(dose_started_at, now)
    if elapsed >= minimum:
        return []
    return [
        Violation(
            "minimum_monitoring_time",
            f"Monitoring must last at least {minimum} minutes from the dose start; "
            f"{elapsed} have passed.",
            {"minutes_remaining": minimum - elapsed},
        )
    ]


def _timepoints_missing(occurrences: Sequence[Occurrence], *, now: datetime) -> list[Violation]:
    return [
        Violation(
            "timepoint_missing",
            f"No readings recorded for '{occurrence.timepoint.label}'.",
            {
                "timepoint": occurrence.timepoint.key,
                "slot_minutes": occurrence.slot_minutes,
            },
        )
        for occurrence in occurrences
        if occurrence.state is not TimepointState.DONE and _required_now(occurrence, now)
    ]


def _required_now(occurrence: Occurrence, now: datetime) -> bool:
    """The baseline and the before-discharge check always; the others once due."""
    if occurrence.timepoint.kind in (TimepointKind.PRE_DOSE, TimepointKind.BEFORE_DISCHARGE):
        return True
    return occurrence.due_at is None or occurrence.due_at <= now


def _readings_out_of_range(
    template: ChecklistTemplate, latest: Mapping[str, float]
) -> list[Violation]:
    return [
        Violation(
            "readings_out_of_range",
            f"The last reading is out of the discharge range: {breach.sentence()}.",
            {"measurement": breach.measurement.value},
        )
        for breach in breaches(template, latest, pre_dose=False)
    ]


def _criteria_unconfirmed(
    template: ChecklistTemplate, confirmed: frozenset[str]
) -> list[Violation]:
    return [
        Violation(
            "discharge_criterion_unconfirmed",
            f"Not confirmed: {criterion.label}.",
            {"criterion": criterion.key},
        )
        for criterion in template.discharge_criteria
        if criterion.key != READINGS_WITHIN_RANGE and criterion.key not in confirmed
    ]
