"""A course's schedule against its protocol's sequencing (DOMAIN.md §0.3, §0.6): the
course's dose count, the minimum time between doses, the rolling 7-day limit
(weekly_limit.py: clinic calendar days), the
phases' frequency by course week (phases.py), preparation sessions before the first
dose, and integration after each dose.

Only doses that happened or will happen count (booked, checked in, in progress,
completed: `scheduled`); a cancelled or no-show dose counts toward nothing and needs
no integration session.

`schedule_findings` looks at a whole schedule, so a change anywhere (a session booked
before an existing one, a preparation moved after the first dose, an integration
cancelled under a later dose) is judged by the schedule it would leave behind.
Each finding names the appointments it is about; `changed_findings` keeps those a
change brings about.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime, timedelta
from itertools import pairwise

from kapt_api.clinics.rules import local_text as when
from kapt_api.errors import Violation
from kapt_api.protocols.definition import ProtocolDefinition, SessionKind
from kapt_api.scheduling.courses.phases import phase_frequency
from kapt_api.scheduling.courses.values import (
    CourseSession,
    Finding,
)
from kapt_api.scheduling.courses.weekly_limit import weekly_dose_limit


def _hours(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:g}" if hours == int(hours) else f"{hours:.1f}"


def _in_order(session: CourseSession) -> tuple[datetime, uuid.UUID]:
    # Ties by id: a UUID orders as its text does (the same 32 hex digits), without making it.
    return session.starts_at, session.id


def scheduled(sessions: Iterable[CourseSession], kind: SessionKind) -> list[CourseSession]:
    """The sessions of this kind that happened or will happen, in time order."""
    return sorted((s for s in sessions if s.kind is kind and s.scheduled), key=_in_order)


# A course's scheduled doses, preparations and integration sessions, each in time order.
BySessionKind = tuple[list[CourseSession], list[CourseSession], list[CourseSession]]


def doses_preparations_integrations(sessions: Iterable[CourseSession]) -> BySessionKind:
    """scheduled() of the three kinds the rules read, in one pass (a slot search judges
    a schedule for every slot it offers)."""
    found: dict[SessionKind, list[CourseSession]] = {
        SessionKind.DOSING: [], SessionKind.PREPARATION: [], SessionKind.INTEGRATION: []
    }  # fmt: skip
    for session in sessions:
        kept = found.get(session.kind)
        if kept is not None and session.scheduled:
            kept.append(session)
    for kept in found.values():
        kept.sort(key=_in_order)
    return found[SessionKind.DOSING], found[SessionKind.PREPARATION], found[SessionKind.INTEGRATION]


def schedule_findings(
    definition: ProtocolDefinition, sessions: Iterable[CourseSession], zone: str
) -> list[Finding]:
    """Every sequencing rule the scheduled sessions (booked, in progress or done) break."""
    doses, preparations, integrations = doses_preparations_integrations(sessions)
    return [
        *_dose_count(definition, doses),
        *_spacing(definition, doses, zone),
        *weekly_dose_limit(definition, doses, zone),
        *phase_frequency(definition, doses, zone),
        *_preparations(definition, doses, preparations, zone),
        *_integrations_in_window(definition, doses, integrations, zone),
        *_integrations_present(definition, doses, integrations, zone),
    ]


def readiness_findings(
    definition: ProtocolDefinition,
    sessions: Iterable[CourseSession],
    zone: str,
    *,
    split: BySessionKind | None = None,
) -> list[Finding]:
    """schedule_findings' findings of the rules a dose's readiness flags come from
    (readiness_flags.py): the first dose's preparations, each dose's integration. A day
    schedule asks it for every course with a dose that day, so the other rules are not
    judged. `split` is doses_preparations_integrations(sessions), when the caller has it."""
    doses, preparations, integrations = split or doses_preparations_integrations(sessions)
    return [
        *_preparations(definition, doses, preparations, zone),
        *_integrations_present(definition, doses, integrations, zone),
    ]


def changed_findings(
    definition: ProtocolDefinition,
    before: Sequence[CourseSession],
    after: Sequence[CourseSession],
    *,
    changed: uuid.UUID,
    zone: str,
) -> list[Violation]:
    """What the change from `before` to `after` breaks: findings about the changed session,
    and findings about others that the change brings about. A finding that was there
    already and does not involve the changed session (a rule overridden earlier) is not
    this change's doing."""
    existing = frozenset(schedule_findings(definition, before, zone))
    return brought_findings(definition, existing, after, changed=changed, zone=zone)


def brought_findings(
    definition: ProtocolDefinition,
    existing: Collection[Finding],
    after: Sequence[CourseSession],
    *,
    changed: uuid.UUID,
    zone: str,
) -> list[Violation]:
    """changed_findings with the findings of the schedule before the change given
    (`existing`): a slot search judges many changes to one schedule."""
    return [
        finding.violation()
        for finding in schedule_findings(definition, after, zone)
        if changed in finding.subjects or finding not in existing
    ]


def _dose_count(definition: ProtocolDefinition, doses: Sequence[CourseSession]) -> list[Finding]:
    """No more doses than the course has; a maintenance phase has no end, so a course
    with one books on under that phase's frequency."""
    allowed = definition.sequencing.dose_count
    if len(doses) <= allowed or definition.sequencing.maintenance is not None:
        return []
    return [
        Finding(
            "course_dose_limit",
            frozenset(d.id for d in doses),
            f"This course has {allowed} doses in all; this would make {len(doses)}.",
            {"dose_count": allowed, "doses": len(doses)},
        )
    ]


def _spacing(
    definition: ProtocolDefinition, doses: Sequence[CourseSession], zone: str
) -> list[Finding]:
    if len(doses) < 2:
        return []
    minimum = timedelta(hours=definition.sequencing.min_hours_between_doses)
    return [
        Finding(
            "too_soon_after_previous_dose",
            frozenset({first.id, second.id}),
            f"The doses on {when(first.starts_at, zone)} and {when(second.starts_at, zone)} "
            f"would be {_hours(second.starts_at - first.starts_at)} hours apart; this protocol "
            f"needs at least {_hours(minimum)} hours between doses.",
            {"min_hours_between_doses": definition.sequencing.min_hours_between_doses},
        )
        for first, second in pairwise(doses)
        if second.starts_at - first.starts_at < minimum
    ]


def _preparations(
    definition: ProtocolDefinition,
    doses: Sequence[CourseSession],
    preparations: Sequence[CourseSession],
    zone: str,
) -> list[Finding]:
    required = definition.sequencing.preparation_sessions_required
    if not required or not doses:
        return []
    first = doses[0]
    ready = [p for p in preparations if p.ends_at <= first.starts_at]
    if len(ready) >= required:
        return []
    return [
        Finding(
            "preparation_incomplete",
            frozenset({first.id}),
            f"The first dose on {when(first.starts_at, zone)} needs {required} preparation "
            f"session(s) finished before it; {len(ready)} would be.",
            {"preparation_sessions_required": required, "before_first_dose": len(ready)},
        )
    ]


def integration_window(
    definition: ProtocolDefinition, dose: CourseSession
) -> tuple[datetime, datetime] | None:
    """When an integration session after this dose may start (None: the protocol gives
    no window)."""
    hours = definition.sequencing.integration_window_hours
    if hours is None:
        return None
    return dose.ends_at + timedelta(hours=hours.start), dose.ends_at + timedelta(hours=hours.end)


def _in_window(
    definition: ProtocolDefinition, integration: CourseSession, dose: CourseSession
) -> bool:
    window = integration_window(definition, dose)
    if window is None:  # no window: any time after the dose
        return dose.ends_at <= integration.starts_at
    return window[0] <= integration.starts_at <= window[1]


def _integrations_in_window(
    definition: ProtocolDefinition,
    doses: Sequence[CourseSession],
    integrations: Sequence[CourseSession],
    zone: str,
) -> list[Finding]:
    """Every integration session starts inside the window after some dose."""
    hours = definition.sequencing.integration_window_hours
    if hours is None:
        return []
    findings = []
    for integration in integrations:
        if any(_in_window(definition, integration, dose) for dose in doses):
            continue
        before = [d for d in doses if d.starts_at < integration.starts_at]
        at = when(integration.starts_at, zone)
        window = integration_window(definition, before[-1]) if before else None
        if window is not None:
            opens, closes = window
            message = (
                f"The integration session on {at} falls outside the window after the dose on "
                f"{when(before[-1].starts_at, zone)} ({when(opens, zone)} to {when(closes, zone)}: "
                f"{hours.start} to {hours.end} hours after the dose ends)."
            )
        else:
            message = f"The integration session on {at} has no dose before it to follow."
        findings.append(
            Finding(
                "integration_outside_window",
                frozenset({integration.id}),
                message,
                {"window_hours": {"start": hours.start, "end": hours.end}},
            )
        )
    return findings


def _integrations_present(
    definition: ProtocolDefinition,
    doses: Sequence[CourseSession],
    integrations: Sequence[CourseSession],
    zone: str,
) -> list[Finding]:
    """A dose followed by another has its integration session booked (and, where the
    protocol says so, finished before the next dose starts)."""
    sequencing = definition.sequencing
    if not sequencing.integration_required:
        return []
    findings = []
    done_first = sequencing.next_dose_requires_integration_done
    for dose, following in pairwise(doses):
        found = [i for i in integrations if _in_window(definition, i, dose)]
        if done_first:
            found = [i for i in found if i.ends_at <= following.starts_at]
        if found:
            continue
        # Worded only when broken: a day schedule asks this of every course it shows.
        given, then = when(dose.starts_at, zone), when(following.starts_at, zone)
        message = (
            f"The dose on {given} needs its integration session finished before the next "
            f"dose on {then}."
            if done_first
            else f"The dose on {given} has no integration session booked; book it before "
            f"the dose on {then}."
        )
        findings.append(Finding("integration_missing", frozenset({dose.id, following.id}), message))
    return findings
