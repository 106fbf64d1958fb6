"""Does a course's sequencing make sense? Dose counts and spacing, integration after
each dose, and phases that run back to back and plan exactly the course's doses.

Paths are relative to the definition document (`sequencing.phases.1.last_week`), as in
rules.py, which gathers these with the other parts' problems.
"""

from __future__ import annotations

from kapt_api.protocols.definition import ProtocolDefinition
from kapt_api.protocols.problems import Problem, out_of_range
from kapt_api.protocols.sequencing import HourWindow, Phase, Sequencing
from kapt_api.protocols.session_types import SessionKind

MAX_PREPARATION_SESSIONS = 10
MAX_DOSES = 100
MAX_WEEKS = 104
MAX_DOSES_PER_PERIOD = 14
MAX_PERIOD_WEEKS = 8
MAX_HOURS_BETWEEN_DOSES = 720
MAX_WINDOW_HOURS = 720
HOURS_PER_WEEK = 168


def sequencing_problems(definition: ProtocolDefinition) -> list[Problem]:
    seq = definition.sequencing
    problems = [
        *out_of_range(
            "sequencing.preparation_sessions_required",
            seq.preparation_sessions_required,
            0,
            MAX_PREPARATION_SESSIONS,
        ),
        *out_of_range(
            "sequencing.min_hours_between_doses",
            seq.min_hours_between_doses,
            0,
            MAX_HOURS_BETWEEN_DOSES,
            "hours",
        ),
        *out_of_range("sequencing.max_doses_per_7_days", seq.max_doses_per_7_days, 1, 7),
    ]
    if seq.dose_count < 1:
        problems.append(Problem("sequencing.dose_count", "A course needs at least one dose."))
    else:
        problems += out_of_range("sequencing.dose_count", seq.dose_count, 1, MAX_DOSES)
    if (
        seq.preparation_sessions_required
        and definition.session_type_index(SessionKind.PREPARATION) is None
    ):
        problems.append(
            Problem(
                "sequencing.preparation_sessions_required",
                "Preparation sessions are required but there is no preparation session type; "
                "add one or require 0.",
            )
        )
    return problems + _integration_problems(definition) + phase_problems(seq)


def _integration_problems(definition: ProtocolDefinition) -> list[Problem]:
    seq = definition.sequencing
    problems: list[Problem] = []
    if seq.integration_required:
        if definition.session_type_index(SessionKind.INTEGRATION) is None:
            problems.append(
                Problem(
                    "sequencing.integration_required",
                    "Integration after each dose is required but there is no integration "
                    "session type; add one.",
                )
            )
        if seq.integration_window_hours is None:
            problems.append(
                Problem(
                    "sequencing.integration_window_hours",
                    "Give the window after each dose in which its integration session falls.",
                )
            )
    elif seq.next_dose_requires_integration_done:
        problems.append(
            Problem(
                "sequencing.next_dose_requires_integration_done",
                "The next dose can wait for integration only when integration after each "
                "dose is required.",
            )
        )
    window = seq.integration_window_hours
    if window is not None:
        problems += _integration_window_problems(window)
    return problems


def _integration_window_problems(window: HourWindow) -> list[Problem]:
    path = "sequencing.integration_window_hours"
    problems = out_of_range(f"{path}.start", window.start, 0, MAX_WINDOW_HOURS, "hours")
    problems += out_of_range(f"{path}.end", window.end, 1, MAX_WINDOW_HOURS, "hours")
    if window.end <= window.start:
        problems.append(
            Problem(
                f"{path}.end",
                f"The window ends ({window.end} h after the dose) before it starts "
                f"({window.start} h).",
            )
        )
    return problems


def phase_problems(seq: Sequencing) -> list[Problem]:
    """Phases run back to back from week 1 and plan exactly the course's doses; only the
    last may be open-ended, and its doses come after those."""
    problems: list[Problem] = []
    planned = 0
    next_week = 1
    for i, phase in enumerate(seq.phases):
        path = f"sequencing.phases.{i}"
        problems += _phase_week_problems(phase, path, next_week=next_week)
        if phase.last_week is None:
            problems += _open_ended_problems(seq, phase_path=path, index=i)
            continue
        if phase.last_week < phase.first_week or phase.last_week > MAX_WEEKS:
            problems.append(
                Problem(
                    f"{path}.last_week",
                    f"Must be from the first week ({phase.first_week}) to week {MAX_WEEKS}.",
                )
            )
            next_week = max(phase.last_week, phase.first_week) + 1
            continue
        problems += _phase_rate_problems(seq, phase_path=path, index=i)
        before, planned = planned, planned + phase.dose_count
        problems += _overrun_problems(seq, phase_path=path, before=before, planned=planned)
        next_week = phase.last_week + 1
    if seq.phases and planned < seq.dose_count:
        problems.append(
            Problem(
                "sequencing.phases",
                f"The phases plan {planned} of the course's {seq.dose_count} doses; "
                "lengthen a phase or add one.",
            )
        )
    return problems


def _phase_week_problems(phase: Phase, path: str, *, next_week: int) -> list[Problem]:
    problems: list[Problem] = []
    if phase.first_week != next_week:
        problems.append(
            Problem(
                f"{path}.first_week",
                f"Phases run back to back from week 1: this one starts in week {next_week}.",
            )
        )
    problems += out_of_range(f"{path}.first_week", phase.first_week, 1, MAX_WEEKS)
    problems += out_of_range(f"{path}.period_weeks", phase.period_weeks, 1, MAX_PERIOD_WEEKS)
    problems += out_of_range(
        f"{path}.doses_per_period", phase.doses_per_period, 1, MAX_DOSES_PER_PERIOD
    )
    return problems


def _open_ended_problems(seq: Sequencing, *, phase_path: str, index: int) -> list[Problem]:
    problems: list[Problem] = []
    if index != len(seq.phases) - 1:
        problems.append(
            Problem(
                f"{phase_path}.last_week",
                "Only the last phase may be open-ended (maintenance); give this one its last week.",
            )
        )
    return problems + _phase_rate_problems(seq, phase_path=phase_path, index=index)


def _overrun_problems(
    seq: Sequencing, *, phase_path: str, before: int, planned: int
) -> list[Problem]:
    if planned > seq.dose_count >= max(before, 1):
        return [
            Problem(
                f"{phase_path}.last_week",
                f"This phase runs past the end of the course: the phases up to here plan "
                f"{planned} doses and the course has {seq.dose_count}.",
            )
        ]
    return []


def _phase_rate_problems(seq: Sequencing, *, phase_path: str, index: int) -> list[Problem]:
    phase = seq.phases[index]
    period = max(phase.period_weeks, 1)
    problems: list[Problem] = []
    if phase.weeks is not None and phase.weeks % period:
        problems.append(
            Problem(
                f"{phase_path}.last_week",
                f"The phase lasts {phase.weeks} weeks: not a whole number of "
                f"{period}-week periods.",
            )
        )
    if phase.doses_per_period > seq.max_doses_per_7_days * period:
        problems.append(
            Problem(
                f"{phase_path}.doses_per_period",
                f"{phase.doses_per_period} doses every {period} week(s) breaks the limit of "
                f"{seq.max_doses_per_7_days} doses in any 7 days.",
            )
        )
    elif phase.doses_per_period * seq.min_hours_between_doses > period * HOURS_PER_WEEK:
        problems.append(
            Problem(
                f"{phase_path}.doses_per_period",
                f"{phase.doses_per_period} doses every {period} week(s) cannot keep "
                f"{seq.min_hours_between_doses} hours between doses.",
            )
        )
    return problems
