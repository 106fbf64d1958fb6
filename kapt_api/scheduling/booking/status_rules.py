"""The appointment status machine and when a cancellation is late: plain functions
over values, no database, no Flask, `now` passed in.

booked -> checked_in -> in_progress -> completed; booked -> cancelled | no_show.
Completed, cancelled and no_show are final.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from kapt_api.errors import Violation
from kapt_api.protocols.definition import SessionType
from kapt_api.scheduling.courses.values import AppointmentStatus

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
