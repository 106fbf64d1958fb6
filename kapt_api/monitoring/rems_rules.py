"""What the esketamine REMS Patient Monitoring Form asks of a session, checked as plain
values (DOMAIN.md §1.2): the dose the devices give, each device's time, the
concomitant medicines and the evaluation question."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from itertools import pairwise

MG_PER_DEVICE = 28
# The form asks yes or no for each: medicines that may cause sedation or blood pressure
# changes.
FORM_MEDICATIONS = (
    "benzodiazepines",
    "non_benzodiazepine_sedative_hypnotics",
    "psychostimulants",
    "maois",
)
# Named by the form's overview and the label's CNS depressant warning (§1.3), not a
# field of its own on the form: recorded when known, never reported missing.
OTHER_MEDICATIONS = ("opioids",)

Problems = dict[str, list[str]]


def administration_problems(
    *,
    first_device_at: datetime,
    device_times: Sequence[datetime] | None,
    devices: int,
    dose_mg: int,
    checked_in_at: datetime,
    now: datetime,
) -> Problems:
    """Why this administration cannot be what happened, by field (empty: it can)."""
    problems: Problems = {}
    if dose_mg != devices * MG_PER_DEVICE:
        problems["dose_mg"] = [
            f"{devices} device(s) of {MG_PER_DEVICE} mg give {devices * MG_PER_DEVICE} mg."
        ]
    if first_device_at > now:
        problems["first_device_at"] = ["The first device cannot be given in the future."]
    elif first_device_at < checked_in_at:
        problems["first_device_at"] = ["The first device cannot be given before check-in."]
    found = (
        device_time_problems(first_device_at, device_times, devices=devices, now=now)
        if device_times is not None
        else []
    )
    if found:
        problems["device_times"] = found
    return problems


def device_time_problems(
    first_device_at: datetime, device_times: Sequence[datetime], *, devices: int, now: datetime
) -> list[str]:
    """Each device's time, in order: as many as devices, the first at first_device_at."""
    found = []
    if len(device_times) != devices:
        found.append(f"{devices} device(s) were given; {len(device_times)} time(s) were sent.")
    if device_times and device_times[0] != first_device_at:
        found.append("The first time must be the first device's time (first_device_at).")
    if any(later <= earlier for earlier, later in pairwise(device_times)):
        found.append("Each device is given after the one before it: list the times in order.")
    if any(t > now for t in device_times):
        found.append("A device cannot be given in the future.")
    return found


def device_times_of(
    first_device_at: datetime, device_times: Sequence[datetime] | None, *, devices: int
) -> list[datetime] | None:
    """The times to keep: those sent, else the first device's alone when it was the only
    one; None when a multi-device dose was sent without them."""
    if device_times is not None:
        return list(device_times)
    return [first_device_at] if devices == 1 else None


def ready_to_leave_problems(
    ready_to_leave_minutes: int, *, first_device_at: datetime | None, now: datetime
) -> list[str]:
    """The evaluation question's answer cannot be later than the monitoring so far."""
    if first_device_at is None:
        return []
    monitored = int((now - first_device_at).total_seconds() // 60)
    if ready_to_leave_minutes > monitored:
        return [
            f"The patient has been monitored {monitored} minutes since the first device; "
            "the time they would have been ready to leave cannot be later."
        ]
    return []


def missing_medications(answers: dict[str, bool] | None) -> bool:
    """Whether the form's medicine questions are still unanswered."""
    return answers is None or any(answers.get(name) is None for name in FORM_MEDICATIONS)
