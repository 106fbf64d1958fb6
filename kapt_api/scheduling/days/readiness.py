"""Readiness flags of the appointments on a day schedule.

Of a dose: its preparation done (the protocol's preparation sessions completed before
it), the previous dose's integration session booked, the readiness `flags` (protocol
rules the dose's course no longer meets because a session it depended on was
cancelled or missed), the monitoring checklist's state and whether the patient's
escort is confirmed. The first three come from the course's own sessions (the flags
from courses/readiness_flags.py, over the course's whole schedule). The last two belong to
monitoring, which sits above scheduling: it supplies them through `supply()`
(scheduling never imports it); until it does, a dose's checklist reads `not_started`
and its escort `unknown`. The escort also reads `confirmed` when the patient said so
through their link or a text (the appointment's `escort_confirmed_at`, scheduling/links),
whatever monitoring answers. Sessions other than doses read null for the first two, no
flags, and `not_applicable` for the others.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import select

from kapt_api.db import db
from kapt_api.protocols.definition import ProtocolDefinition, SessionKind, definition_of
from kapt_api.protocols.models import ProtocolVersion
from kapt_api.scheduling.courses.readiness_flags import flags_of
from kapt_api.scheduling.courses.rules import (
    BySessionKind,
    doses_preparations_integrations,
    integration_window,
    scheduled,
)
from kapt_api.scheduling.courses.values import AppointmentStatus, CourseSession

Answer = dict[str, Any]
NOT_APPLICABLE = "not_applicable"
CHECKLIST_STATES = ("not_started", "in_progress", "completed", "hold", "unknown", NOT_APPLICABLE)
ESCORT_STATES = ("unknown", "confirmed", "not_confirmed", NOT_APPLICABLE)
READINESS_STATES = {"checklist_state": CHECKLIST_STATES, "escort_confirmed": ESCORT_STATES}
DEFAULTS = {"checklist_state": "not_started", "escort_confirmed": "unknown"}
# Given the ids of the dosing appointments shown, the state of each one it knows.
ReadinessSource = Callable[[Sequence[uuid.UUID]], Mapping[uuid.UUID, str]]
# The same for several flags read together: flag -> (dose id -> state).
ReadinessSources = Callable[[Sequence[uuid.UUID]], Mapping[str, Mapping[uuid.UUID, str]]]
_sources: dict[str, ReadinessSource] = {}
_joint: dict[tuple[str, ...], ReadinessSources] = {}


def _known(flag: str) -> None:
    if flag not in READINESS_STATES:
        raise ValueError(f"unknown readiness flag {flag!r}")


def supply(flag: str, source: ReadinessSource | None) -> None:
    """Register the function that answers a readiness flag (`checklist_state` or
    `escort_confirmed`) for dosing appointments; None removes it. Called by the package
    that owns the fact (monitoring), so scheduling never imports it. It answers the
    flag before any source registered with supply_together."""
    _known(flag)
    if source is None:
        _sources.pop(flag, None)
    else:
        _sources[flag] = source


def supply_together(flags: tuple[str, ...], source: ReadinessSources | None) -> None:
    """Register one function answering several flags from one read (monitoring reads
    a dose's checklist and escort from the same rows): a day computed asks it once."""
    for flag in flags:
        _known(flag)
    if source is None:
        _joint.pop(flags, None)
    else:
        _joint[flags] = source


def supplied(flag: str, dose_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The flag's state for each of these doses: from its source, else the default."""
    return supplied_all(dose_ids, (flag,))[flag]


def supplied_all(
    dose_ids: Sequence[uuid.UUID], flags: Iterable[str] = READINESS_STATES
) -> dict[str, dict[uuid.UUID, str]]:
    """Each flag's state for each of these doses, every source asked once."""
    wanted = tuple(flags)
    answers: dict[str, Mapping[uuid.UUID, str]] = {}
    if dose_ids:
        for together, joint in _joint.items():
            asked = [f for f in together if f in wanted and f not in _sources]
            found = joint(dose_ids) if asked else {}
            answers.update({f: found.get(f, {}) for f in asked})
        answers.update({f: _sources[f](dose_ids) for f in wanted if f in _sources})
    return {flag: _checked(flag, dict(answers.get(flag, {})), dose_ids) for flag in wanted}


def _checked(
    flag: str, answers: dict[uuid.UUID, str], dose_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, str]:
    unknown = {state for state in answers.values() if state not in READINESS_STATES[flag]}
    if unknown:
        raise ValueError(f"{flag} source answered unknown states {sorted(unknown)}")
    return {i: answers.get(i, DEFAULTS[flag]) for i in dose_ids}


def preparation_done(dose: CourseSession, sessions: Iterable[CourseSession], required: int) -> bool:
    """The protocol's preparation sessions finished (completed) before the dose starts."""
    return _preparation_done(dose, scheduled(sessions, SessionKind.PREPARATION), required)


def _preparation_done(
    dose: CourseSession, preparations: Sequence[CourseSession], required: int
) -> bool:
    done = sum(
        1
        for p in preparations
        if p.status is AppointmentStatus.COMPLETED and p.ends_at <= dose.starts_at
    )
    return done >= required


def previous_integration_booked(
    dose: CourseSession, sessions: Sequence[CourseSession], definition: ProtocolDefinition
) -> bool | None:
    """Whether the dose before this one has its integration session booked (or done):
    None when the protocol asks for no integration or this is the course's first dose."""
    return _previous_integration_booked(
        dose,
        scheduled(sessions, SessionKind.DOSING),
        scheduled(sessions, SessionKind.INTEGRATION),
        definition,
    )


def _previous_integration_booked(
    dose: CourseSession,
    doses: Sequence[CourseSession],
    integrations: Sequence[CourseSession],
    definition: ProtocolDefinition,
) -> bool | None:
    """previous_integration_booked over the course's scheduled doses and integration
    sessions, each in time order."""
    if not definition.sequencing.integration_required:
        return None
    earlier = [d for d in doses if d.starts_at < dose.starts_at]
    if not earlier:
        return None
    previous = earlier[-1]
    window = integration_window(definition, previous)
    return any(
        (window[0] <= i.starts_at <= window[1])
        if window is not None
        else previous.ends_at <= i.starts_at < dose.starts_at
        for i in integrations
    )


def readiness_of(
    session: CourseSession, sessions: Sequence[CourseSession], definition: ProtocolDefinition
) -> Answer:
    """The two flags scheduling knows; monitoring's are added by the caller."""
    return _Course(sessions, definition).readiness_of(session)


class _Course:
    """A course's scheduled sessions sorted once by kind, for the readiness of each of
    its doses a day shows (a day shows several doses of some courses)."""

    def __init__(self, sessions: Sequence[CourseSession], definition: ProtocolDefinition):
        self.definition = definition
        self.split: BySessionKind = doses_preparations_integrations(sessions)
        self.doses, self.preparations, self.integrations = self.split

    def readiness_of(self, session: CourseSession) -> Answer:
        if session.kind is not SessionKind.DOSING:
            return {"preparation_done": None, "previous_integration_booked": None}
        definition = self.definition
        required = definition.sequencing.preparation_sessions_required
        return {
            "preparation_done": _preparation_done(session, self.preparations, required),
            "previous_integration_booked": _previous_integration_booked(
                session, self.doses, self.integrations, definition
            ),
        }


_DEFINITIONS: dict[uuid.UUID, ProtocolDefinition] = {}


def _definitions(version_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, ProtocolDefinition]:
    """Protocol definitions by version id. A published version never changes (database
    triggers refuse it), so its parsed definition is kept for the process's life."""
    wanted = set(version_ids)
    drafts: dict[uuid.UUID, ProtocolDefinition] = {}
    missing = wanted - _DEFINITIONS.keys()
    if missing:
        for version in db.session.scalars(
            select(ProtocolVersion).where(ProtocolVersion.id.in_(missing))
        ):
            target = _DEFINITIONS if version.is_published else drafts
            target[version.id] = definition_of(version)
    return {i: _DEFINITIONS[i] if i in _DEFINITIONS else drafts[i] for i in wanted}


_KINDS = {kind.value: kind for kind in SessionKind}
_DOSING = SessionKind.DOSING.value  # an enum's value is a Python-level property
_STATUSES = {status.value: status for status in AppointmentStatus}


def _course_sessions(rows: Sequence[Any]) -> list[CourseSession]:
    """A course's sessions as the rules see them, from rows of (id, kind, starts_at,
    ends_at, status)."""
    kinds, statuses = _KINDS, _STATUSES  # a dict lookup, not an enum's call, per row
    return [
        CourseSession(r.id, kinds[r.kind], r.starts_at, r.ends_at, statuses[r.status]) for r in rows
    ]


_NOT_A_DOSE: Answer = {
    "preparation_done": None,
    "previous_integration_booked": None,
    "flags": [],
    "checklist_state": NOT_APPLICABLE,
    "escort_confirmed": NOT_APPLICABLE,
}


def of_appointments(
    rows: Sequence[Any],
    *,
    zone: str,
    course_sessions: Mapping[uuid.UUID, Sequence[Any]],
    versions: Mapping[uuid.UUID, uuid.UUID],
) -> dict[uuid.UUID, Answer]:
    """Readiness of appointment rows (id, course_id, kind) at a clinic in `zone`, given
    every session of the courses of their doses (rows of id, kind, starts_at, ends_at,
    status, by course) and those courses' protocol versions, in a fixed number of
    queries. A dose's flags depend on sessions of other days; they are all of the
    dose's clinic, whose schedule version any change bumps (cache.py), so a kept day
    stays right."""
    doses = [r for r in rows if r.kind == _DOSING]
    definitions = _definitions(versions.values())
    sessions = {course: _course_sessions(found) for course, found in course_sessions.items()}
    monitored = supplied_all([r.id for r in doses])
    courses: dict[uuid.UUID, _Course] = {}
    flags: dict[uuid.UUID, dict[uuid.UUID, list[str]]] = {}
    by_id: dict[uuid.UUID, CourseSession] = {}
    for course_id, course in sessions.items():
        definition = definitions[versions[course_id]]
        courses[course_id] = kept = _Course(course, definition)  # sorted by kind once
        flags[course_id] = flags_of(definition, course, zone, split=kept.split)
        by_id.update((s.id, s) for s in course)
    answers: dict[uuid.UUID, Answer] = {}
    for row in rows:
        if row.kind != _DOSING:
            answers[row.id] = dict(_NOT_A_DOSE, flags=[])
            continue
        answer = {
            **courses[row.course_id].readiness_of(by_id[row.id]),
            "flags": flags[row.course_id].get(row.id, []),
        }
        for flag, states in monitored.items():  # in READINESS_STATES' order
            answer[flag] = states[row.id]
        if getattr(row, "escort_confirmed_at", None) is not None:
            answer["escort_confirmed"] = "confirmed"  # the patient said so (links)
        answers[row.id] = answer
    return answers
