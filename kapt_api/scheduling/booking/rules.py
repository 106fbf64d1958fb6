"""The booking rules: may this session be booked (or moved) here, now? Every rule it
breaks is returned, each a Violation with a stable code and a sentence a front-desk
person understands (API.md, "Booking rules a refused request must name").

Pure functions over values: no database, no Flask, `now` passed in. The resource rules
live in resource_rules.py, the protocol's sequencing in courses/rules.py; this module
puts them together, with overrides, the appointment status machine, and local dates
and times that name no single instant.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta

from kapt_api.clinics.rules import LocalTimeProblem, local_text, strict_local_to_utc
from kapt_api.errors import Violation, register_rules
from kapt_api.protocols.definition import SessionKind, SessionType
from kapt_api.scheduling.booking import status_rules
from kapt_api.scheduling.booking.resource_rules import CONFLICT_RULES, calendar_violations
from kapt_api.scheduling.booking.values import BookingRequest, Calendar, held_until, session_end
from kapt_api.scheduling.courses.readiness_flags import READINESS_RULES
from kapt_api.scheduling.courses.rules import brought_findings, changed_findings, schedule_findings
from kapt_api.scheduling.courses.staffing import session_name
from kapt_api.scheduling.courses.values import (
    NEW_SESSION,
    CourseSession,
    CourseState,
    CourseStatus,
    Finding,
)

__all__ = [
    "BOOKING_RULES",
    "BOOKING_RULE_MEANINGS",
    "NOT_OVERRIDABLE",
    "RESOURCE_RULES",
    "CourseRules",
    "Decision",
    "booking_violations",
    "cancellation_violations",
    "course_rules",
    "decide",
    "local_instant",
    "override_problems",
    "request_violations",
    "rules_text",
]
# Every rule a refused booking or move may name, with what it means (API.md, "Booking
# rules a refused request must name"); the OpenAPI description lists them from here.
BOOKING_RULE_MEANINGS = {
    "staff_conflict": "a staff member is already in another session then",
    "room_conflict": "the room is already taken then",
    "patient_conflict": "the patient is already in another session then",
    "outside_working_hours": "outside a staff member's working hours",
    "outside_clinic_hours": "outside the clinic's opening hours",
    "staff_time_off": "a staff member is on time off then",
    "wrong_room_kind": "the room is not the kind the session needs",
    "missing_role": "nobody booked holds a role the session needs (e.g. no prescriber on "
    "site for a dosing session)",
    "preparation_incomplete": "the first dose would come before the protocol's preparation "
    "sessions are over",
    "too_soon_after_previous_dose": "less than the protocol's minimum time between doses",
    "weekly_dose_limit": "more doses than the protocol allows in any 7 consecutive clinic "
    "calendar days",
    "phase_frequency": "more doses in a course week (or period of weeks) than its phase "
    "allows; course weeks are 7 clinic calendar days counted from the day of the first dose",
    "course_dose_limit": "more doses than the course has (none with a maintenance phase)",
    "integration_outside_window": "an integration session outside the window after its dose",
    "integration_missing": "a previous dose has no integration session booked (or finished, "
    "where the protocol asks) before the next dose",
    "course_not_active": "the course has ended",
    "in_the_past": "the time has passed",
    "minimum_notice": "less notice than the session type needs",
    "pre_dose_gate": "the last monitoring checklist holds the next dose",
    "held_for_waitlist_offer": "the time is held for a patient offered it from the waitlist",
    **status_rules.STEP_RULE_MEANINGS,
}
BOOKING_RULES = register_rules(*BOOKING_RULE_MEANINGS)
RESOURCE_RULES = frozenset({*CONFLICT_RULES.values(), "held_for_waitlist_offer"})
# Why nobody may override these (API.md: "a clinical rule (not a resource conflict)").
NOT_OVERRIDABLE_BECAUSE = {
    "staff_conflict": "nobody can be in two sessions at once",
    "room_conflict": "a room cannot hold two sessions at once",
    "patient_conflict": "a patient cannot be in two sessions at once",
    "in_the_past": "a session cannot be booked in the past",
    "course_not_active": "a course that has ended takes no more sessions",
    "held_for_waitlist_offer": "the patient offered the time decides first, or the offer expires",
    **status_rules.STEP_NOT_OVERRIDABLE_BECAUSE,
}
NOT_OVERRIDABLE = frozenset(NOT_OVERRIDABLE_BECAUSE)
LOCAL_TIME_RULES = {"nonexistent": "nonexistent_local_time", "ambiguous": "ambiguous_local_time"}
register_rules(*LOCAL_TIME_RULES.values())

# Whoever books (the front desk, mostly) is told that the dose is held, not the reading
# that holds it: the care team sees that in the checklist.
_DOSE_HELD = Violation(
    "pre_dose_gate",
    "The last monitoring checklist holds the next dose for a prescriber's decision; the "
    "care team sees why in that checklist.",
)


@dataclass(frozen=True)
class CourseRules:
    """What the booking rules make of the course alone, for one kind of session on one
    clinic's clocks (`course_rules`): whether it takes sessions, whether its dose is held,
    and what its schedule breaks already. A slot search asks about many starts of one
    course and works this out once; a booking works it out for its one request."""

    course: CourseState
    session_type: SessionType
    zone: str
    inactive: tuple[Violation, ...]
    held: tuple[Violation, ...]
    existing: frozenset[Finding]


def course_rules(course: CourseState, kind: SessionKind, zone: str) -> CourseRules:
    """The course's part of booking_violations for sessions of this kind."""
    inactive: tuple[Violation, ...] = ()
    if course.status is not CourseStatus.ACTIVE:
        message = f"This course is {course.status.value}; it takes no more sessions."
        inactive = (
            Violation("course_not_active", message, {"course_status": course.status.value}),
        )
    held = (_DOSE_HELD,) if kind is SessionKind.DOSING and course.pre_dose_hold else ()
    existing = frozenset(schedule_findings(course.definition, course.sessions, zone))
    return CourseRules(course, _session_type(course, kind), zone, inactive, held, existing)


def booking_violations(
    request: BookingRequest, course: CourseState, calendar: Calendar, *, now: datetime
) -> list[Violation]:
    """Every rule that booking `request` (or moving its appointment there) breaks.

    A move keeps its time-of-booking rules (in_the_past, minimum_notice) only when it
    changes the time: a new room an hour before the session needs no notice.
    """
    known = course_rules(course, request.kind, calendar.zone)
    return request_violations(request, known, calendar, now=now)


def request_violations(
    request: BookingRequest, known: CourseRules, calendar: Calendar, *, now: datetime
) -> list[Violation]:
    """booking_violations with the course's part worked out already (`known`: of the
    request's course and kind, on the calendar's clocks). The order the rules are asked
    in is the order a refusal lists them, which front desks read top to bottom."""
    session_type = known.session_type
    if session_type.kind is not request.kind or known.zone != calendar.zone:
        raise ValueError("the course's rules were worked out for another kind or zone")
    starts_at = request.starts_at
    session = (starts_at, session_end(session_type, starts_at))
    current = _current(known.course, request.appointment_id)
    violations = list(known.inactive)
    if current is None or current.starts_at != starts_at:
        violations += _time_violations(session_type, starts_at, now=now, zone=calendar.zone)
    violations += calendar_violations(
        request,
        session_type,
        calendar,
        session=session,
        held_until=held_until(session_type, starts_at),
    )
    violations += known.held
    violations += _sequencing_violations(request, known, session[1])
    return [_marked(v) for v in violations]


def _session_type(course: CourseState, kind: SessionKind) -> SessionType:
    found = course.definition.session_type(kind)
    if found is None:
        raise ValueError(f"the protocol has no {kind} session type")
    return found


def _current(course: CourseState, appointment_id: uuid.UUID | None) -> CourseSession | None:
    if appointment_id is None:
        return None
    return next((s for s in course.sessions if s.id == appointment_id), None)


def _time_violations(
    session_type: SessionType, starts_at: datetime, *, now: datetime, zone: str
) -> list[Violation]:
    if starts_at < now:
        return [
            Violation(
                "in_the_past",
                f"{local_text(starts_at, zone)} has already passed (it is now "
                f"{local_text(now, zone)}).",
            )
        ]
    notice = timedelta(hours=session_type.min_notice_hours)
    if starts_at < now + notice:
        return [
            Violation(
                "minimum_notice",
                f"A {session_name(session_type.kind)} needs {session_type.min_notice_hours} "
                f"hours' notice; the earliest start now is {local_text(now + notice, zone)}.",
                {"min_notice_hours": session_type.min_notice_hours},
            )
        ]
    return []


def _sequencing_violations(
    request: BookingRequest, known: CourseRules, ends_at: datetime
) -> list[Violation]:
    changed = request.appointment_id or NEW_SESSION
    proposed = CourseSession(changed, request.kind, request.starts_at, ends_at)
    sessions = known.course.sessions
    after = [s for s in sessions if s.id != changed] + [proposed]
    definition, existing = known.course.definition, known.existing
    return brought_findings(definition, existing, after, changed=changed, zone=known.zone)


def _marked(violation: Violation) -> Violation:
    """The violation with whether an administrator or prescriber may override it."""
    overridable = violation.rule not in NOT_OVERRIDABLE
    return replace(violation, details={**violation.details, "overridable": overridable})


def cancellation_violations(
    appointment_id: uuid.UUID, course: CourseState, *, zone: str
) -> list[Violation]:
    """What cancelling this appointment would break for the rest of the course: an
    integration session left with no dose before it.

    A dose left without the preparation before it, or without its integration session
    before the next one, does not refuse the cancel: the patient is not coming whatever
    the answer, so the dose is flagged instead (READINESS_RULES) and its check-in asks
    for an override."""
    after = [s for s in course.sessions if s.id != appointment_id]
    return [
        _marked(v)
        for v in changed_findings(
            course.definition, course.sessions, after, changed=appointment_id, zone=zone
        )
        if v.rule not in READINESS_RULES
    ]


@dataclass(frozen=True)
class Decision:
    """Violations an override does not cover (they refuse the request) and those it does."""

    blocking: tuple[Violation, ...]
    overridden: tuple[Violation, ...]

    @property
    def overridden_rules(self) -> list[str]:
        return sorted({v.rule for v in self.overridden})


def override_problems(codes: Iterable[str]) -> list[str]:
    """Why each of these rule codes cannot be overridden (empty: all can)."""
    problems = []
    for code in codes:
        if code in NOT_OVERRIDABLE_BECAUSE:
            problems.append(f"Nobody can override {code}: {NOT_OVERRIDABLE_BECAUSE[code]}.")
        elif code not in BOOKING_RULES:
            problems.append(f"{code} is not a booking rule.")
    return problems


def rules_text() -> str:
    """The booking rules as a Markdown list, for the API's description."""
    lines = [
        f"- `{code}`: {meaning}"
        + (
            f" (not overridable: {NOT_OVERRIDABLE_BECAUSE[code]})"
            if code in NOT_OVERRIDABLE
            else ""
        )
        for code, meaning in BOOKING_RULE_MEANINGS.items()
    ]
    return "\n".join(lines)


def decide(violations: Sequence[Violation], override: Collection[str] = ()) -> Decision:
    """Split violations into those the override covers and those that still refuse."""
    covered = frozenset(override) - NOT_OVERRIDABLE
    return Decision(
        blocking=tuple(v for v in violations if v.rule not in covered),
        overridden=tuple(v for v in violations if v.rule in covered),
    )


def local_instant(day: date, wall: time, zone: str) -> datetime | Violation:
    """The one instant the clinic's clocks show `wall` on `day`, or, for a time the clocks
    skip (spring forward) or show twice (fall back), a violation saying which."""
    try:
        return strict_local_to_utc(day, wall, zone)
    except LocalTimeProblem as problem:
        return Violation(LOCAL_TIME_RULES[problem.reason], str(problem))
