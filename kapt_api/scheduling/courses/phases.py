"""Course weeks and the protocol's phases: how many doses a week (or period of weeks)
allows, counted in the clinic's calendar days (DOMAIN.md §0.3).

A course week is 7 of the clinic's calendar days: week 1 runs from the clinic's
calendar day of the course's first dose (the earliest that counts) to the day before
the same weekday a week later, week 2 the next 7 days, and so on (`course_week`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from kapt_api.clinics.rules import local_text as when
from kapt_api.protocols.definition import Phase, ProtocolDefinition
from kapt_api.scheduling.courses.values import CourseSession, Finding

WEEK_DAYS = 7
COURSE_WEEK_DEFINITION = (
    "Course weeks are 7 clinic calendar days counted from the day of the first dose"
)


def local_date(instant: datetime, zone: str) -> date:
    return instant.astimezone(ZoneInfo(zone)).date()


def course_week(first_dose: datetime, instant: datetime, zone: str) -> int:
    """The course week an instant falls in: 1 on the clinic's calendar day of the first
    dose and the 6 days after it, 2 on the next 7, and so on (0 or less before it)."""
    days = (local_date(instant, zone) - local_date(first_dose, zone)).days
    return days // WEEK_DAYS + 1


@dataclass(frozen=True)
class Period:
    """Weeks first_week..last_week of a phase, in which at most phase.doses_per_period
    doses fall; first_day..last_day are those weeks' clinic calendar days."""

    phase: Phase
    first_week: int
    last_week: int
    first_day: date
    last_day: date

    def weeks_text(self) -> str:
        if self.first_week == self.last_week:
            return f"week {self.first_week}"
        return f"weeks {self.first_week}-{self.last_week}"


def period_of(definition: ProtocolDefinition, first_day: date, week: int) -> Period | None:
    """The phase period holding this course week (None: the protocol has no phases)."""
    phase = definition.sequencing.phase_of_week(week)
    if phase is None:
        return None
    length = phase.period_weeks
    start = phase.first_week + (week - phase.first_week) // length * length
    first = first_day + timedelta(days=WEEK_DAYS * (start - 1))
    return Period(
        phase, start, start + length - 1, first, first + timedelta(days=WEEK_DAYS * length - 1)
    )


def day_text(day: date) -> str:
    return f"{day:%a} {day.day} {day:%b %Y}"


# Kept whole: one walk over the doses by course week, counting each phase's period;
# split, each part would need the walk's state.
def phase_frequency(
    definition: ProtocolDefinition, doses: Sequence[CourseSession], zone: str
) -> list[Finding]:
    """No phase period holds more doses than its phase allows (course weeks counted from
    the first dose's calendar day)."""
    if not definition.sequencing.phases or not doses:
        return []
    first_day = local_date(doses[0].starts_at, zone)
    periods: dict[Period, list[CourseSession]] = {}
    for dose in doses:
        week = course_week(doses[0].starts_at, dose.starts_at, zone)
        period = period_of(definition, first_day, week)
        assert period is not None
        periods.setdefault(period, []).append(dose)
    findings = []
    for period, held in periods.items():
        phase = period.phase
        if len(held) <= phase.doses_per_period:
            continue
        times = " and ".join(when(d.starts_at, zone) for d in held)
        findings.append(
            Finding(
                "phase_frequency",
                frozenset(d.id for d in held),
                f"The phase {phase.name} ({phase.weeks_text()}) allows {phase.limit_text()}; "
                f"{period.weeks_text()} ({day_text(period.first_day)} to "
                f"{day_text(period.last_day)}) would hold {len(held)}: {times}. "
                f"{COURSE_WEEK_DEFINITION} ({day_text(first_day)}).",
                {
                    "phase": phase.name,
                    "doses_per_period": phase.doses_per_period,
                    "period_weeks": phase.period_weeks,
                    "weeks": {"first": period.first_week, "last": period.last_week},
                    "days": {
                        "first": period.first_day.isoformat(),
                        "last": period.last_day.isoformat(),
                    },
                    "first_dose_day": first_day.isoformat(),
                },
            )
        )
    return findings


def phase_room_from(
    definition: ProtocolDefinition, doses: Sequence[CourseSession], zone: str, earliest: datetime
) -> datetime:
    """The first moment from `earliest` on at which one more dose (after those given)
    leaves its phase period within the phase's frequency: `earliest` itself, or the
    start (clinic midnight) of the first period after it with room."""
    if not definition.sequencing.phases or not doses:
        return earliest
    first = doses[0].starts_at
    first_day = local_date(first, zone)
    weeks = [course_week(first, d.starts_at, zone) for d in doses]
    moment = earliest
    for _ in range(len(doses) + 2):
        period = period_of(definition, first_day, max(course_week(first, moment, zone), 1))
        assert period is not None
        held = sum(period.first_week <= w <= period.last_week for w in weeks)
        if held < period.phase.doses_per_period:
            return moment
        moment = midnight(period.last_day + timedelta(days=1), zone)
    return moment


def midnight(day: date, zone: str) -> datetime:
    """The first instant of a clinic calendar day (where the clocks skip midnight, the
    instant they jump to)."""
    return datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(zone)).astimezone(UTC)
