"""The appointment status machine and when a cancellation is late: plain functions
over values, no database, no Flask, `now` passed in.

booked -> checked_in -> in_progress -> completed; booked -> cancelled | no_show.
Completed, cancelled and no_show are final.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from kapt_api.errors import Violation, register_rules
from kapt_api.protocols.definition import SessionType
from kapt_api.scheduling.courses.values import AppointmentStatus

# A change the status machine does not allow, and a no-show marked before the start.
STATUS_RULES = register_rules("illegal_status_change", "not_started_yet")

# The appointment status machine: booked -> checked_in -> in_progress -> completed;
# booked -> cancelled | no_show. Completed, cancelled and no_show are final.
TRANSITIONS: dict[AppointmentStatus, frozenset[AppointmentStatus]] = {
    AppointmentStatus.BOOKED: frozenset(
        {AppointmentStatus.CHECKED_IN, AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW}
    ),
    AppointmentStatus.CHECKED_IN: frozenset({AppointmentStatus.IN_PROGRESS}),
    AppointmentStatus.IN_PROGRESS: frozenset({AppointmentStatus.COMPLETED}),
}


def is_late_cancellation(session_type: SessionType, starts_at: datetime, *, now: datetime) -> bool:
    """Cancelled inside the session type's cancellation notice window."""
    return now > starts_at - timedelta(hours=session_type.cancellation_notice_hours)


def _label(status: AppointmentStatus) -> str:
    return status.value.replace("_", " ")


def transition_violation(current: AppointmentStatus, wanted: AppointmentStatus) -> Violation | None:
    """None when an appointment may go from `current` to `wanted`, else why not."""
    allowed = TRANSITIONS.get(current, frozenset())
    if wanted in allowed:
        return None
    if allowed:
        options = " or ".join(sorted(_label(s) for s in allowed))
        then = f"from {_label(current)} it can only become {options}"
    else:
        then = f"{_label(current)} is final"
    return Violation(
        "illegal_status_change",
        f"This appointment is {_label(current)}; it cannot become {_label(wanted)} ({then}).",
        {"current_status": current.value, "wanted_status": wanted.value},
    )


# The rules a check-in, start or complete refused for its time names (registered with the
# booking rules in rules.py), and why nobody overrides them.
STEP_RULE_MEANINGS = {
    "check_in_not_open": "a check-in, start or complete before the clinic's check-in window "
    "opens (check_in_opens_minutes before the booked start)",
    "before_previous_step": "a start before the check-in's time, or a complete before the "
    "start's time",
}
STEP_NOT_OVERRIDABLE_BECAUSE = {
    "check_in_not_open": "a session is run at its booked time; move it to run it earlier",
    "before_previous_step": "a session's steps happen in order",
}


# The steps a patient's arrival opens: what each is called in a refusal, and the step
# it follows (whose time it cannot precede).
_ARRIVAL_STEPS: dict[AppointmentStatus, tuple[str, AppointmentStatus | None, str]] = {
    AppointmentStatus.CHECKED_IN: ("The patient cannot be checked in", None, ""),
    AppointmentStatus.IN_PROGRESS: (
        "The session cannot start",
        AppointmentStatus.CHECKED_IN,
        "the patient was checked in",
    ),
    AppointmentStatus.COMPLETED: (
        "The session cannot be completed",
        AppointmentStatus.IN_PROGRESS,
        "it started",
    ),
}


def step_follows(wanted: AppointmentStatus) -> AppointmentStatus | None:
    """The status whose time a check-in, start or complete cannot precede."""
    return _ARRIVAL_STEPS[wanted][1] if wanted in _ARRIVAL_STEPS else None


def step_time_violations(
    wanted: AppointmentStatus,
    *,
    starts_at: datetime,
    opens_minutes: int,
    previous_at: datetime | None,
    zone: str,
    now: datetime,
) -> list[Violation]:
    """Why check-in, start or complete cannot happen at `now` (empty: it can): none
    before the clinic's check-in window opens before the booked start, and none before
    the step it follows (start after check-in, complete after start)."""
    if wanted not in _ARRIVAL_STEPS:
        return []
    found = []
    refusal, follows, previous = _ARRIVAL_STEPS[wanted]
    opens_at = starts_at - timedelta(minutes=opens_minutes)
    if now < opens_at:
        local = opens_at.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")
        found.append(
            Violation(
                "check_in_not_open",
                f"{refusal} yet: check-in opens {opens_minutes} minutes before the booked "
                f"start, at {local}.",
                {"opens_at": opens_at.isoformat(), "opens_minutes": opens_minutes},
            )
        )
    if follows is not None and previous_at is not None and now < previous_at:
        found.append(
            Violation(
                "before_previous_step",
                f"{refusal} before {previous} ({previous_at.isoformat()}).",
                {"previous_at": previous_at.isoformat()},
            )
        )
    return found
