"""How a course's doses follow each other: phases of weeks with their dose rate, the
spacing between doses and the integration window after each."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Phase:
    """Course weeks first_week..last_week (week 1 is the 7 clinic calendar days from the
    first dose's: scheduling/courses/phases.course_week), at most doses_per_period doses in every
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
