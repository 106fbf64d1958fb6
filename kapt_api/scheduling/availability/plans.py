"""A whole course calendar proposed at once, and a list of sessions booked all-or-nothing.

The plan is built one session at a time, in the order the protocol needs them: the
preparation sessions, then each dose followed by its integration session. Each is the
first start the slot search finds inside the window the course's progress gives for it
(courses/progress.py: the booking rules' own bounds, and the protocol's phases: a
weekly dose is looked for from the start of its week), on the preferred weekdays and
times of day when any are free, else at any time. Every session found is added to the
course and to the calendars before the next is looked for, so the whole plan passes
the rules together; it is checked once more as a whole at the end.

A batch books its items in the order given inside one savepoint: if any is refused,
the savepoint is rolled back (nothing is written) and the refusal lists every item's
violations and field errors by index.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from kapt_api.clinics.rules import local_text
from kapt_api.db import db
from kapt_api.errors import DomainError, InvalidInput, RuleRefused, Violation, register_rules
from kapt_api.patients.policy import Caller
from kapt_api.protocols.definition import SessionKind
from kapt_api.scheduling.availability.service import availability
from kapt_api.scheduling.availability.slots import Accept, Availability, Slot, search
from kapt_api.scheduling.booking import rules, service
from kapt_api.scheduling.booking.models import Appointment
from kapt_api.scheduling.courses import progress
from kapt_api.scheduling.courses import queries as course_queries
from kapt_api.scheduling.courses import rules as course_rules
from kapt_api.scheduling.courses.models import Course
from kapt_api.scheduling.courses.values import CourseSession

# The calendars are read once for this long; no session is planned beyond it.
register_rules("no_slot_found")  # a planned session with no free time in its window
PLAN_HORIZON = timedelta(days=183)
# How far past the start of its window each session is looked for.
SEARCH_SPAN = timedelta(days=31)
PLAN_STEP = timedelta(minutes=15)
# How many doses into a maintenance phase a plan goes unless asked for another number.
MAINTENANCE_DOSES = 4
MAX_MAINTENANCE_DOSES = 26
MAX_BATCH = 60
ORDER = (SessionKind.PREPARATION, SessionKind.INTEGRATION, SessionKind.DOSING)


@dataclass(frozen=True)
class Preferences:
    """Preferred weekdays (0 = Monday; empty: any) and start times on the clinic's clocks."""

    weekdays: frozenset[int] = frozenset()
    earliest: time | None = None
    latest: time | None = None

    @property
    def empty(self) -> bool:
        return not self.weekdays and self.earliest is None and self.latest is None

    def accept(self, zone: str) -> Accept:
        tz = ZoneInfo(zone)

        def accepts(starts_at: datetime) -> bool:
            local = starts_at.astimezone(tz)
            wall = local.time()
            return (
                (not self.weekdays or local.weekday() in self.weekdays)
                and (self.earliest is None or wall >= self.earliest)
                and (self.latest is None or wall <= self.latest)
            )

        return accepts


@dataclass(frozen=True)
class PlannedSession:
    slot: Slot
    # The n-th preparation or dose; for an integration session, the dose it follows.
    number: int


@dataclass(frozen=True)
class Plan:
    course_id: uuid.UUID
    zone: str
    sessions: tuple[PlannedSession, ...]


def _next_due(
    available: Availability, now: datetime, *, last_dose: int
) -> progress.DueSession | None:
    """The session the course needs next: a preparation or an integration whose window
    is still open, else the next dose up to dose number `last_dose`."""
    course = available.course
    due = progress.course_progress(
        course.definition, course.sessions, now=now, zone=available.zone
    ).due
    possible = [
        d
        for d in due
        if d.kind is not SessionKind.DOSING or d.number <= last_dose
        if d.kind is SessionKind.DOSING
        or d.earliest is None
        or d.latest is None
        or d.earliest <= d.latest
    ]
    return min(possible, key=lambda d: (ORDER.index(d.kind), d.number), default=None)


def _doses(available: Availability) -> list[CourseSession]:
    return course_rules.scheduled(available.course.sessions, SessionKind.DOSING)


def _windows(
    due: progress.DueSession, available: Availability, start: datetime
) -> list[tuple[datetime, datetime]]:
    """Where to look for the due session, in order. Inside its window (a dose from the
    start of the period its phase puts it in, up to the period's end); for a dose, then
    the month from there: the phases say when doses are due, the rules what is allowed."""
    sequencing = available.course.definition.sequencing
    low = max(start, due.earliest or start)
    phase = sequencing.phase_of_dose(due.number) if due.kind is SessionKind.DOSING else None
    if phase is not None and due.latest is not None:
        low = max(low, due.latest - timedelta(weeks=phase.period_weeks))
    end = min(available.horizon[1], low + SEARCH_SPAN)
    if due.latest is None:
        return [(low, end)]
    windows = [(low, min(end, due.latest + timedelta(seconds=1)))]
    if due.kind is SessionKind.DOSING:
        windows.append((low, end))
    return windows


def _place(
    available: Availability,
    due: progress.DueSession,
    *,
    start: datetime,
    now: datetime,
    preferences: Preferences,
) -> Slot:
    attempts: list[Accept | None] = [None]
    if not preferences.empty:
        attempts.insert(0, preferences.accept(available.zone))
    windows = _windows(due, available, start)
    for window in windows:
        for accept in attempts:
            found = search(
                available, due.kind, window=window, now=now, step=PLAN_STEP, limit=1, accept=accept
            )
            if found:
                return found[0]
    zone = available.zone
    low, high = windows[0][0], windows[-1][1]
    raise RuleRefused(
        [
            Violation(
                "no_slot_found",
                f"No time for {due.kind.value.replace('_', ' ')} session {due.number} between "
                f"{local_text(low, zone)} and {local_text(high, zone)}: every start breaks a "
                "rule or finds a room, a required role or the patient taken.",
                {"kind": due.kind.value, "number": due.number},
            )
        ]
    )


def _check_whole(before: Availability, after: Availability) -> None:
    """The finished plan, as a whole schedule, breaks no sequencing rule it did not
    already break."""
    definition, zone = after.course.definition, after.zone
    existing = set(course_rules.schedule_findings(definition, before.course.sessions, zone))
    new = [
        f.violation()
        for f in course_rules.schedule_findings(definition, after.course.sessions, zone)
        if f not in existing
    ]
    if new:
        raise RuleRefused(new)


def plan_course(
    *,
    course: Course,
    now: datetime,
    starts_from: datetime | None = None,
    preferences: Preferences | None = None,
    maintenance_doses: int = MAINTENANCE_DOSES,
) -> Plan:
    """Propose every session the course still needs (preparations, doses, integrations),
    each with a room and staff, that together satisfy the protocol and the calendars.
    A protocol with a maintenance phase has no last dose: the plan goes on that many
    doses into it."""
    start = max(starts_from or now, now)
    wanted = preferences or Preferences()
    before = available = availability(course, horizon=(start, start + PLAN_HORIZON), now=now)
    planned: list[PlannedSession] = []
    sequencing = available.course.definition.sequencing
    last_dose = sequencing.dose_count
    if sequencing.maintenance is not None:
        last_dose = max(last_dose, len(_doses(available))) + maintenance_doses
    most = sequencing.preparation_sessions_required + 2 * last_dose
    due = _next_due(available, now, last_dose=last_dose)
    while due is not None:
        if len(planned) >= most:
            raise RuntimeError("planning does not converge")
        slot = _place(available, due, start=start, now=now, preferences=wanted)
        session_type = service.session_type_of(course, due.kind)
        available = available.with_session(slot, session_type)
        planned.append(PlannedSession(slot, due.number))
        due = _next_due(available, now, last_dose=last_dose)
    _check_whole(before, available)
    return Plan(course.id, available.zone, tuple(planned))


class BatchRefused(DomainError):
    """Some item of a batch was refused, so none was booked: 409 when a person, room or
    patient is already taken, else 422. Violations carry their item's `index`; field
    errors are named `items.<index>.<field>`."""

    code = "batch_refused"
    title = "Nothing was booked: an item breaks a rule"

    def __init__(self, errors: Mapping[str, list[str]], violations: Sequence[Violation]) -> None:
        refused = sorted(
            {int(key.split(".")[1]) for key in errors} | {v.details["index"] for v in violations}
        )
        super().__init__(
            f"Nothing was booked: item(s) {', '.join(map(str, refused))} were refused.",
            errors=errors,
            violations=violations,
        )
        if any(v.rule in rules.RESOURCE_RULES for v in violations):
            self.status = 409


def _indexed(violation: Violation, index: int) -> Violation:
    return replace(violation, details={**violation.details, "index": index})


def book_batch(
    *, items: Sequence[Mapping[str, Any]], by: Caller, now: datetime
) -> list[Appointment]:
    """Book every item (each as POST /appointments would), in the order given, or none.
    The schedules of every clinic the items name are locked first, in clinic id order
    (courses/queries.lock_schedules), whatever the order of the items."""
    course_queries.lock_schedules(
        course_queries.clinics_of_courses(item["course_id"] for item in items)
    )
    booked: list[Appointment] = []
    errors: dict[str, list[str]] = {}
    violations: list[Violation] = []
    savepoint = db.session.begin_nested()
    try:
        for index, item in enumerate(items):
            try:
                booked.append(service.book(**item, by=by, now=now))
            except InvalidInput as refused:
                errors.update({f"items.{index}.{k}": v for k, v in refused.errors.items()})
            except RuleRefused as refused:
                violations += [_indexed(v, index) for v in refused.violations]
        if errors or violations:
            raise BatchRefused(errors, violations)
    except BaseException:
        savepoint.rollback()
        raise
    savepoint.commit()
    return booked
