"""Does a protocol definition make sense? Every problem found, each naming its field.

Plain functions over the definition's values (no database, no Flask). Paths are
relative to the definition document: `session_types.2.kind`,
`checklist.thresholds.0.low`. The checklist and reminder parts live in
checklist_rules.py and reminder_rules.py.
"""

from __future__ import annotations

from kapt_api.auth.models import CLINICAL_ROLES, Role
from kapt_api.clinics.models import RoomKind
from kapt_api.protocols.checklist_rules import checklist_problems
from kapt_api.protocols.definition import Medication, ProtocolDefinition, Route
from kapt_api.protocols.label_rules import esketamine_label_problems
from kapt_api.protocols.problems import Problem, errors_by_field, out_of_range
from kapt_api.protocols.reminder_rules import reminder_problems
from kapt_api.protocols.sequencing import Sequencing
from kapt_api.protocols.session_types import SessionKind

__all__ = ["Problem", "definition_problems", "errors_by_field", "route_problems"]

MAX_SESSION_MINUTES = 720
MIN_SESSION_MINUTES = 5
MAX_BUFFER_MINUTES = 240
MAX_NOTICE_HOURS = 720
MAX_PREPARATION_SESSIONS = 10
MAX_DOSES = 100
MAX_WEEKS = 104
MAX_DOSES_PER_PERIOD = 14
MAX_PERIOD_WEEKS = 8
MAX_HOURS_BETWEEN_DOSES = 720
MAX_WINDOW_HOURS = 720
MAX_FASTING_MINUTES = 1440
HOURS_PER_WEEK = 168

ROUTES_BY_MEDICATION = {
    # Esketamine is approved only as the nasal spray (DOMAIN.md §1).
    Medication.ESKETAMINE: frozenset({Route.INTRANASAL}),
    Medication.RACEMIC_KETAMINE: frozenset(Route),
}
# Given by licensed medical staff in the clinic (DOMAIN.md §0.7, §3.3); esketamine is
# never dispensed for home use (§1.1).
MEDICAL_STAFF = frozenset({Role.NURSE, Role.PRESCRIBER})
INJECTED_ROUTES = frozenset({Route.INTRAVENOUS, Route.INTRAMUSCULAR})


def definition_problems(
    definition: ProtocolDefinition, *, medication: Medication, route: Route
) -> list[Problem]:
    """Every problem of a definition for a protocol of this medication and route."""
    return [
        *session_type_problems(definition, route=route),
        *sequencing_problems(definition),
        *checklist_problems(definition.checklist),
        *reminder_problems(definition),
        *preparation_problems(definition),
        *esketamine_label_problems(definition, medication=medication),
    ]


def route_problems(*, medication: Medication, route: Route) -> list[Problem]:
    if route in ROUTES_BY_MEDICATION[medication]:
        return []
    return [Problem("route", "Esketamine is given only as a nasal spray: use intranasal.")]


def session_type_problems(definition: ProtocolDefinition, *, route: Route) -> list[Problem]:
    problems: list[Problem] = []
    first_at: dict[SessionKind, int] = {}
    for i, session in enumerate(definition.session_types):
        path = f"session_types.{i}"
        if session.kind in first_at:
            problems.append(
                Problem(
                    f"{path}.kind",
                    f"The {session.kind} session type is already defined at "
                    f"session_types.{first_at[session.kind]}; keep one.",
                )
            )
        first_at.setdefault(session.kind, i)
        problems += out_of_range(
            f"{path}.duration_minutes",
            session.duration_minutes,
            MIN_SESSION_MINUTES,
            MAX_SESSION_MINUTES,
            "minutes",
        )
        problems += out_of_range(
            f"{path}.buffer_after_minutes", session.buffer_after_minutes, 0, MAX_BUFFER_MINUTES
        )
        problems += out_of_range(
            f"{path}.min_notice_hours", session.min_notice_hours, 0, MAX_NOTICE_HOURS
        )
        problems += out_of_range(
            f"{path}.cancellation_notice_hours",
            session.cancellation_notice_hours,
            0,
            MAX_NOTICE_HOURS,
        )
        for j, requirement in enumerate(session.required_roles):
            if not requirement.any_of:
                problems.append(
                    Problem(f"{path}.required_roles.{j}.any_of", "Name at least one role.")
                )
            elif not requirement.any_of <= CLINICAL_ROLES:
                problems.append(
                    Problem(
                        f"{path}.required_roles.{j}.any_of",
                        "Only a prescriber, nurse or therapist can be required in a session.",
                    )
                )
    return problems + _dosing_session_problems(definition, route=route)


def _dosing_session_problems(definition: ProtocolDefinition, *, route: Route) -> list[Problem]:
    index = definition.session_type_index(SessionKind.DOSING)
    if index is None:
        return [Problem("session_types", "A protocol needs a dosing session type.")]
    dosing = definition.session_types[index]
    path = f"session_types.{index}"
    problems: list[Problem] = []
    if not dosing.required_roles:
        problems.append(
            Problem(f"{path}.required_roles", "A dosing session needs a clinician present.")
        )
    elif route in INJECTED_ROUTES and not any(
        r.any_of and r.any_of <= MEDICAL_STAFF for r in dosing.required_roles
    ):
        problems.append(
            Problem(
                f"{path}.required_roles",
                "An intravenous or intramuscular dose is given by licensed medical staff: "
                "require a nurse or prescriber.",
            )
        )
    if route in INJECTED_ROUTES | {Route.INTRANASAL} and dosing.room_kind is not RoomKind.DOSING:
        problems.append(
            Problem(f"{path}.room_kind", "This route is given in the clinic, in a dosing room.")
        )
    minimum = definition.checklist.min_monitoring_minutes
    if dosing.duration_minutes < minimum:
        problems.append(
            Problem(
                f"{path}.duration_minutes",
                f"A dosing session must last at least the {minimum}-minute minimum "
                "monitoring time (checklist.min_monitoring_minutes).",
            )
        )
    return problems


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
        path = "sequencing.integration_window_hours"
        problems += out_of_range(f"{path}.start", window.start, 0, MAX_WINDOW_HOURS, "hours")
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
        if phase.last_week is None:
            if i != len(seq.phases) - 1:
                problems.append(
                    Problem(
                        f"{path}.last_week",
                        "Only the last phase may be open-ended (maintenance); give this one "
                        "its last week.",
                    )
                )
            problems += _phase_rate_problems(seq, phase_path=path, index=i)
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
        before = planned
        planned += phase.dose_count
        if planned > seq.dose_count >= max(before, 1):
            problems.append(
                Problem(
                    f"{path}.last_week",
                    f"This phase runs past the end of the course: the phases up to here plan "
                    f"{planned} doses and the course has {seq.dose_count}.",
                )
            )
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


def preparation_problems(definition: ProtocolDefinition) -> list[Problem]:
    prep = definition.preparation
    problems: list[Problem] = []
    for name in ("fasting_solids_minutes", "fasting_liquids_minutes"):
        value = getattr(prep, name)
        if value is not None:
            problems += out_of_range(f"preparation.{name}", value, 0, MAX_FASTING_MINUTES)
    if not definition.approval_note.strip():
        problems.append(
            Problem("approval_note", "Say who must approve these values before clinical use.")
        )
    return problems
