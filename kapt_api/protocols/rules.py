"""Does a protocol definition make sense? Every problem found, each naming its field.

Plain functions over the definition's values (no database, no Flask). Paths are
relative to the definition document: `session_types.2.kind`,
`checklist.thresholds.0.low`. The sequencing, checklist, reminder and esketamine label
parts live in sequencing_rules.py, checklist_rules.py, reminder_rules.py and
label_rules.py.
"""

from __future__ import annotations

from kapt_api.auth.models import CLINICAL_ROLES, Role
from kapt_api.clinics.models import RoomKind
from kapt_api.protocols.checklist_rules import checklist_problems
from kapt_api.protocols.definition import Medication, ProtocolDefinition, Route
from kapt_api.protocols.label_rules import esketamine_label_problems
from kapt_api.protocols.problems import Problem, errors_by_field, out_of_range
from kapt_api.protocols.reminder_rules import reminder_problems
from kapt_api.protocols.sequencing_rules import (
    MAX_WINDOW_HOURS,
    phase_problems,
    sequencing_problems,
)
from kapt_api.protocols.session_types import SessionKind, SessionType

__all__ = [
    "MAX_WINDOW_HOURS",
    "Problem",
    "definition_problems",
    "errors_by_field",
    "phase_problems",
    "route_problems",
]

MAX_SESSION_MINUTES = 720
MIN_SESSION_MINUTES = 5
MAX_BUFFER_MINUTES = 240
MAX_NOTICE_HOURS = 720
MAX_FASTING_MINUTES = 1440

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
        problems += _session_length_problems(session, path)
        problems += _required_role_problems(session, path)
    return problems + _dosing_session_problems(definition, route=route)


def _session_length_problems(session: SessionType, path: str) -> list[Problem]:
    return [
        *out_of_range(
            f"{path}.duration_minutes",
            session.duration_minutes,
            MIN_SESSION_MINUTES,
            MAX_SESSION_MINUTES,
            "minutes",
        ),
        *out_of_range(
            f"{path}.buffer_after_minutes", session.buffer_after_minutes, 0, MAX_BUFFER_MINUTES
        ),
        *out_of_range(f"{path}.min_notice_hours", session.min_notice_hours, 0, MAX_NOTICE_HOURS),
        *out_of_range(
            f"{path}.cancellation_notice_hours",
            session.cancellation_notice_hours,
            0,
            MAX_NOTICE_HOURS,
        ),
    ]


def _required_role_problems(session: SessionType, path: str) -> list[Problem]:
    problems: list[Problem] = []
    for j, requirement in enumerate(session.required_roles):
        if not requirement.any_of:
            problems.append(Problem(f"{path}.required_roles.{j}.any_of", "Name at least one role."))
        elif not requirement.any_of <= CLINICAL_ROLES:
            problems.append(
                Problem(
                    f"{path}.required_roles.{j}.any_of",
                    "Only a prescriber, nurse or therapist can be required in a session.",
                )
            )
    return problems


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
