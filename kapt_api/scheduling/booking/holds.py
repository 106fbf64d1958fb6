"""Writing and releasing an appointment's resource holds, and reading a refusal of the
database's own no-overlap guard (PostgreSQL's exclusion constraint, SQLSTATE 23P01;
SQLite's triggers, migration 0003_scheduling) as the conflict rule it broke.

A new appointment's holds on PostgreSQL are inserted with ON CONFLICT DO NOTHING: a
hold the exclusion constraint refuses is left out of what the insert returns instead
of raising an error that would end the transaction, so no savepoint is needed around
it (write_new). Everywhere else the refusal is an error, caught in a savepoint."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence

from sqlalchemy import DateTime, String, Uuid, bindparam, delete, insert, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value

from kapt_api.db import db, new_id
from kapt_api.rows import insert_as_loaded, write
from kapt_api.scheduling.booking.models import Appointment, ResourceHold
from kapt_api.scheduling.booking.resource_rules import conflict_rule

EXCLUSION_VIOLATION = "23P01"
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


def write_in_savepoint(appointment: Appointment, keys: Sequence[str]) -> str | None:
    """Write the appointment (new or moved) and hold these resources in a savepoint,
    rolled back when the database refuses a hold: the conflict rule of that refusal
    (a booking committed a moment ago), else None."""
    new = appointment not in db.session
    try:
        with db.session.begin_nested():
            db.session.add(appointment)
            db.session.flush()
            hold(appointment, keys, replace=not new)
    except IntegrityError as error:
        rule = refused_rule(error, keys)
        if rule is None:
            raise
        return rule
    return None


def write_new(appointment: Appointment, keys: Sequence[str]) -> str | None:
    """PostgreSQL: write a new appointment and hold these resources, in the order given;
    the conflict rule of a hold the database refused (a booking committed a moment
    ago), else None. On a refusal the appointment is removed again (its staff, status
    and holds rows go with it, ON DELETE CASCADE), so the transaction goes on as if it
    had never been written: a batch checks its next item, a caller may try another
    room."""
    for member in appointment.staff:
        member.appointment_id = appointment.id
    for change in appointment.history:
        change.appointment_id = appointment.id
    insert_as_loaded([appointment, *appointment.staff, *appointment.history])
    # A new appointment: no waitlist offer names it yet (accepting one names it after,
    # and reads it again), so its answer needs no query for it.
    set_committed_value(appointment, "backfilled_from_offer_id", None)
    written = {"appointment_id": appointment.id, "ids": [new_id() for _ in keys],
               "keys": list(keys), "starts_at": appointment.starts_at,
               "ends_at": appointment.held_until}  # fmt: skip
    held = {row.resource_key for row in write(_HOLD_NEW, written)}
    refused = [key for key in keys if key not in held]
    if not refused:
        return None
    db.session.execute(delete(Appointment).where(Appointment.id == appointment.id))
    db.session.expunge(appointment)
    return conflict_rule(refused[0]) or "staff_conflict"


# The rows in the order given (WITH ORDINALITY), so concurrent bookings take the same
# resources in the same order. Written as SQL: SQLAlchemy does not cache the compiled
# form of an ON CONFLICT insert.
_HOLD_NEW = (
    text(
        "INSERT INTO resource_holds (id, appointment_id, resource_key, starts_at, ends_at) "
        "SELECT held.id, :appointment_id, held.key, :starts_at, :ends_at "
        "FROM unnest(CAST(:ids AS uuid[]), CAST(:keys AS varchar[])) "
        "WITH ORDINALITY AS held(id, key, position) ORDER BY held.position "
        "ON CONFLICT DO NOTHING RETURNING resource_key"
    )
    .bindparams(
        bindparam("appointment_id", type_=Uuid),
        bindparam("starts_at", type_=DateTime(timezone=True)),
        bindparam("ends_at", type_=DateTime(timezone=True)),
    )
    .columns(resource_key=String)
)


def refused_rule(error: IntegrityError, keys: Iterable[str]) -> str | None:
    """The conflict rule when the database refused overlapping holds of these keys,
    else None."""
    original = error.orig
    if getattr(original, "sqlstate", None) == EXCLUSION_VIOLATION:
        # PostgreSQL's detail names the clashing resource by its id (the constraint
        # compares ids, migration 0021): "Key ((split_part(...)::uuid), ...)=(<id>, ...)".
        detail = getattr(getattr(original, "diag", None), "message_detail", None) or ""
        clashed = next((key for key in keys if key.partition(":")[2] in detail), "")
        return conflict_rule(clashed) or "staff_conflict"
    message = str(original)
    if SQLITE_OVERLAP in message:
        return conflict_rule(f"{message.rsplit(' ', 1)[-1]}:") or "staff_conflict"
    return None
