"""Where a course stands: sessions done, sessions booked, and the sessions due next with
the earliest and latest time each may be booked, derived from the pinned protocol
version's sequencing (preparations before the first dose, the minimum time between
doses and the rolling 7-day limit, the phases' frequency by course week, the
integration window after each dose). A protocol whose last phase is open-ended
(maintenance) always has a next dose due.

Pure functions over values.py values; the earliest times are the booking rules' own
bounds, so a session booked inside its window passes the sequencing rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from kapt_api.protocols.definition import Phase, ProtocolDefinition, SessionKind, SessionType
from kapt_api.scheduling.courses.phases import WEEK_DAYS, local_date, midnight, phase_room_from
from kapt_api.scheduling.courses.rules import integration_window, scheduled
from kapt_api.scheduling.courses.values import AppointmentStatus, CourseSession
from kapt_api.scheduling.courses.weekly_limit import next_dose_allowed_from


@dataclass(frozen=True)
class DueSession:
    """A session the course needs next and the window in which it may start (None: open)."""

    kind: SessionKind
    number: int  # the n-th preparation or dose; for an integration, the dose it follows
    earliest: datetime | None
    latest: datetime | None
    note: str
    phase: str | None = None


@dataclass(frozen=True)
class Progress:
    done: tuple[CourseSession, ...]
    booked: tuple[CourseSession, ...]
    due: tuple[DueSession, ...]
    doses_done: int
    doses_booked: int
    dose_count: int
    preparations_required: int
    preparations_scheduled: int


def _latest(*moments: datetime | None) -> datetime | None:
    known = [m for m in moments if m is not None]
    return max(known) if known else None


def _notice(session_type: SessionType | None, now: datetime) -> datetime:
    return now + timedelta(hours=session_type.min_notice_hours if session_type else 0)


def course_progress(
    definition: ProtocolDefinition, sessions: Sequence[CourseSession], *, now: datetime, zone: str
) -> Progress:
    """Sessions done, booked and due for a course whose clinic keeps `zone`'s clocks."""
    timeline = sorted((s for s in sessions if s.scheduled), key=lambda s: (s.starts_at, str(s.id)))
    doses = scheduled(sessions, SessionKind.DOSING)
    preparations = scheduled(sessions, SessionKind.PREPARATION)
    due = [
        *_due_preparations(definition, preparations, doses, now=now),
        *_due_integrations(definition, sessions, doses, now=now),
        *_due_dose(definition, sessions, doses, preparations, now=now, zone=zone),
    ]
    return Progress(
        done=tuple(s for s in timeline if s.status is AppointmentStatus.COMPLETED),
        booked=tuple(s for s in timeline if s.status is not AppointmentStatus.COMPLETED),
        due=tuple(due),
        doses_done=sum(d.status is AppointmentStatus.COMPLETED for d in doses),
        doses_booked=len(doses),
        dose_count=definition.sequencing.dose_count,
        preparations_required=definition.sequencing.preparation_sessions_required,
        preparations_scheduled=len(preparations),
    )


def _due_preparations(
    definition: ProtocolDefinition,
    preparations: Sequence[CourseSession],
    doses: Sequence[CourseSession],
    *,
    now: datetime,
) -> list[DueSession]:
    required = definition.sequencing.preparation_sessions_required
    session_type = definition.session_type(SessionKind.PREPARATION)
    if session_type is None or len(preparations) >= required:
        return []
    latest = None
    note = "Book it before the first dose."
    if doses:
        latest = doses[0].starts_at - timedelta(minutes=session_type.duration_minutes)
        note = "It must finish before the first dose starts."
    return [
        DueSession(SessionKind.PREPARATION, number, _notice(session_type, now), latest, note)
        for number in range(len(preparations) + 1, required + 1)
    ]


def _due_integrations(
    definition: ProtocolDefinition,
    sessions: Sequence[CourseSession],
    doses: Sequence[CourseSession],
    *,
    now: datetime,
) -> list[DueSession]:
    sequencing = definition.sequencing
    session_type = definition.session_type(SessionKind.INTEGRATION)
    if not sequencing.integration_required or session_type is None:
        return []
    integrations = scheduled(sessions, SessionKind.INTEGRATION)
    due = []
    for number, dose in enumerate(doses, start=1):
        window = integration_window(definition, dose)
        if window is None:
            continue
        opens, closes = window
        if any(opens <= i.starts_at <= closes for i in integrations):
            continue
        following = doses[number] if number < len(doses) else None
        latest = closes
        if sequencing.next_dose_requires_integration_done and following is not None:
            latest = min(
                closes, following.starts_at - timedelta(minutes=session_type.duration_minutes)
            )
        earliest = max(opens, _notice(session_type, now))
        note = f"Integration after dose {number}."
        if earliest > latest:
            note = f"The window for the integration after dose {number} has passed or is too short."
        due.append(DueSession(SessionKind.INTEGRATION, number, earliest, latest, note))
    return due


# Kept whole: each bound is one sequencing rule (DOMAIN.md §0.3), and the earliest start
# is the latest of them; read together they are the booking rules' own bounds.
def _dose_bounds(
    definition: ProtocolDefinition,
    sessions: Sequence[CourseSession],
    doses: Sequence[CourseSession],
    preparations: Sequence[CourseSession],
    *,
    now: datetime,
    zone: str,
) -> tuple[datetime | None, list[str]]:
    """The earliest start of the next dose under every sequencing rule (notice, spacing,
    the rolling 7 days, preparations, integration done, the phase's room), and what
    must be booked first."""
    sequencing = definition.sequencing
    earliest: datetime | None = _notice(definition.session_type(SessionKind.DOSING), now)
    notes = []
    if doses:
        earliest = _latest(
            earliest, doses[-1].starts_at + timedelta(hours=sequencing.min_hours_between_doses)
        )
    earliest = _latest(earliest, next_dose_allowed_from(definition, doses, zone))
    required = sequencing.preparation_sessions_required
    if not doses and required:
        if len(preparations) < required:
            notes.append(f"Book the {required} preparation session(s) first.")
        else:
            earliest = _latest(earliest, sorted(p.ends_at for p in preparations)[required - 1])
    if doses and sequencing.integration_required and sequencing.next_dose_requires_integration_done:
        window = integration_window(definition, doses[-1])
        integrations = [
            i
            for i in scheduled(sessions, SessionKind.INTEGRATION)
            if window is not None and window[0] <= i.starts_at <= window[1]
        ]
        if integrations:
            earliest = _latest(earliest, min(i.ends_at for i in integrations))
        else:
            notes.append(f"Book the integration session after dose {len(doses)} first.")
    if earliest is not None:
        earliest = phase_room_from(definition, doses, zone, earliest)
    return earliest, notes


def _due_dose(
    definition: ProtocolDefinition,
    sessions: Sequence[CourseSession],
    doses: Sequence[CourseSession],
    preparations: Sequence[CourseSession],
    *,
    now: datetime,
    zone: str,
) -> list[DueSession]:
    sequencing = definition.sequencing
    number = len(doses) + 1
    maintenance = sequencing.maintenance
    if number > sequencing.dose_count and maintenance is None:
        return []
    earliest, notes = _dose_bounds(definition, sessions, doses, preparations, now=now, zone=zone)
    phase, latest = _phase_bound(definition, doses, number, zone)
    in_maintenance = maintenance is not None and number > sequencing.dose_count
    if in_maintenance:
        latest = None  # maintenance has a most, not a least: no schedule to fall behind
    if latest is not None and earliest is not None and earliest > latest:
        notes.append("Behind the protocol's schedule for this phase.")
    if maintenance is not None and in_maintenance:
        plain = (
            f"Maintenance dose {number - sequencing.dose_count}: at most "
            f"{maintenance.limit_text()}."
        )
    else:
        plain = f"Dose {number} of {sequencing.dose_count}."
    note = " ".join(notes) or plain
    return [
        DueSession(
            SessionKind.DOSING, number, earliest, latest, note, phase.name if phase else None
        )
    ]


def _phase_bound(
    definition: ProtocolDefinition, doses: Sequence[CourseSession], number: int, zone: str
) -> tuple[Phase | None, datetime | None]:
    """The phase dose `number` belongs to in the protocol's plan and the end of the
    period it is due in (the clinic midnight after that period's last course week)."""
    sequencing = definition.sequencing
    phase = sequencing.phase_of_dose(number)
    if phase is None or not doses:
        return phase, None
    before = 0
    for earlier in sequencing.phases:
        if earlier is phase:
            break
        before += earlier.dose_count
    period = (number - before - 1) // phase.doses_per_period
    week_after = phase.first_week - 1 + (period + 1) * phase.period_weeks
    first_day = local_date(doses[0].starts_at, zone)
    return phase, midnight(first_day + timedelta(days=WEEK_DAYS * week_after), zone)


def course_finished(definition: ProtocolDefinition, sessions: Sequence[CourseSession]) -> bool:
    """Every dose of the course done, and, where integration is required, the last
    dose's integration session done too. A course with a maintenance phase has no last
    dose: it ends when it is discontinued."""
    if definition.sequencing.maintenance is not None:
        return False
    done = [s for s in sessions if s.status is AppointmentStatus.COMPLETED]
    doses = scheduled(done, SessionKind.DOSING)
    if len(doses) < definition.sequencing.dose_count:
        return False
    if not definition.sequencing.integration_required:
        return True
    window = integration_window(definition, doses[-1])
    last_dose_end = doses[-1].ends_at
    return any(
        i.starts_at >= last_dose_end and (window is None or window[0] <= i.starts_at <= window[1])
        for i in scheduled(done, SessionKind.INTEGRATION)
    )
