"""Writing and releasing an appointment's resource holds, and reading a refusal of the
database's own no-overlap guard (PostgreSQL's exclusion constraint, SQLSTATE 23P01;
SQLite's triggers, migration 0003_scheduling) as the conflict rule it broke."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable

from sqlalchemy import delete, insert
from sqlalchemy.exc import IntegrityError

from kapt_api.db import db
from kapt_api.scheduling.booking.models import Appointment, ResourceHold
from kapt_api.scheduling.booking.resource_rules import conflict_rule

EXCLUSION_VIOLATION = "23P01"
# PostgreSQL's detail names the clashing key: "Key (resource_key, ...)=(room:..., ...)".
_HELD_KEY = re.compile(r"\((staff|room|patient):")
# The SQLite triggers' message ends with the kind of resource.
SQLITE_OVERLAP = "resource_hold_overlap"


def release(appointment_id: uuid.UUID) -> None:
    """The appointment holds nothing any more (cancelled, no-show, or about to move)."""
    db.session.execute(delete(ResourceHold).where(ResourceHold.appointment_id == appointment_id))


def hold(appointment: Appointment, keys: Iterable[str], *, replace: bool = True) -> None:
    """Hold these resources for the appointment, from its start to the end of its
    buffer, in the order given (concurrent bookings take them in the same order). With
    `replace` (an appointment that may hold some already: a move), its old holds are
    deleted first, as a moved session may overlap where it was."""
    if replace:
        release(appointment.id)
    rows = [
        {
            "appointment_id": appointment.id,
            "resource_key": key,
            "starts_at": appointment.starts_at,
            "ends_at": appointment.held_until,
        }
        for key in keys
    ]
    db.session.execute(insert(ResourceHold), rows)  # one statement, no objects to track


def refused_rule(error: IntegrityError) -> str | None:
    """The conflict rule when the database refused overlapping holds, else None."""
    original = error.orig
    if getattr(original, "sqlstate", None) == EXCLUSION_VIOLATION:
        detail = getattr(getattr(original, "diag", None), "message_detail", None) or ""
        found = _HELD_KEY.search(detail)
        return conflict_rule(f"{found.group(1)}:") if found else "staff_conflict"
    message = str(original)
    if SQLITE_OVERLAP in message:
        return conflict_rule(f"{message.rsplit(' ', 1)[-1]}:") or "staff_conflict"
    return None
