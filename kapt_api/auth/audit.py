"""Append-only audit of every read and write of patient data.

A record is added to the request's own transaction, so a write and its audit
land together. When the request fails, the transaction is rolled back and the
attempt is written again on its own with the refusal as its outcome: a denied
look at a chart is exactly what an audit must show.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any, cast

from flask import Flask, Response, g, has_request_context
from sqlalchemy import (
    ColumnElement,
    Executable,
    Table,
    Text,
    Uuid,
    bindparam,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    true,
)
from sqlalchemy import (
    cast as sql_cast,
)
from sqlalchemy.dialects.postgresql import ARRAY

from kapt_api import clock
from kapt_api.auth.identity import current_user_id
from kapt_api.auth.models import AuditEvent, AuditEventPatient
from kapt_api.db import (
    READ_AUDIT,
    RELAXED_COMMIT,
    begin_write_when_clean,
    db,
    new_id,
    on_postgresql,
)
from kapt_api.rows import ids_for, write


def _entry(
    action: str,
    resource_type: str,
    resource_id: Any,
    *,
    patient_id: uuid.UUID | None,
    actor_id: uuid.UUID | None,
    reason: str | None,
) -> dict[str, Any]:
    return {
        "actor_id": actor_id or current_user_id(),
        "action": action,
        "resource_type": resource_type,
        "resource_id": str(resource_id) if resource_id is not None else None,
        "patient_id": patient_id,
        "request_id": g.get("request_id") if has_request_context() else None,
        "reason": reason,
        "occurred_at": clock.now(),
    }


def record(
    action: str,
    resource_type: str,
    resource_id: Any = None,
    *,
    patient_id: uuid.UUID | None = None,
    actor_id: uuid.UUID | None = None,
    reason: str | None = None,
) -> None:
    """Note that the current actor did `action` on a resource (in this transaction)."""
    entry = _entry(
        action, resource_type, resource_id, patient_id=patient_id, actor_id=actor_id, reason=reason
    )
    if has_request_context():
        g.setdefault("audit_entries", []).append(entry)
    begin_write_when_clean(db.session)
    # Sent now as one row of a statement built once: nothing reads an audit row back in
    # the request that wrote it, so it needs no object and no flush (a tenth of a
    # booking's Python went to flushing this one row). Every column is given, so it goes
    # as rows.write sends it, past SQLAlchemy's set-up of each execution.
    write(_INSERT_ONE, {"id": new_id(), "outcome": "success", **entry})


@dataclass(frozen=True)
class Shown:
    """The patients a screen shows, each once, in the order shown. A screen kept between
    reads (a day schedule) keeps this too: the array PostgreSQL reads them from is then
    written once, not on every read."""

    ids: tuple[uuid.UUID, ...]

    @classmethod
    def of(cls, patient_ids: Iterable[uuid.UUID]) -> Shown:
        return cls(tuple(dict.fromkeys(patient_ids)))

    @cached_property
    def array(self) -> str:
        """The ids as a PostgreSQL array literal, cast to uuid[] by the statement."""
        return ids_for(self.ids, postgresql=True)


def record_shown(
    action: str,
    resource_type: str,
    resource_id: Any = None,
    *,
    patients: Shown,
    actor_id: uuid.UUID | None = None,
) -> None:
    """Note `action` once for a screen that shows several patients (a day schedule),
    with every patient it shows, in this transaction: one event, and one narrow row per
    patient in audit_event_patients (a busy list is read all day long)."""
    shown = patients.ids
    if not shown:
        return
    entry = _entry(
        action, resource_type, resource_id, patient_id=None, actor_id=actor_id, reason=None
    )
    if has_request_context():
        g.setdefault("audit_entries", []).append({**entry, SHOWN: shown})
    begin_write_when_clean(db.session)
    connection = db.session.connection()
    if on_postgresql():
        # One statement built once, every value given: sent as rows.write sends it, past
        # SQLAlchemy's set-up of each execution (a kept day's largest share of Python
        # after the token check). db.py knows it as a read's audit by its text.
        entry.pop("patient_id")
        relaxed = action == READ
        write(_SHOWN_STATEMENT[relaxed], {**entry, "patient_ids": patients.array})
        if relaxed:
            connection.info[RELAXED_COMMIT] = True
        return
    # Core statements on the session's connection, as record's (the session's own
    # execute only adds its ORM checks).
    event_id = new_id()
    connection.execute(_INSERT_ONE, {"id": event_id, "outcome": "success", **entry})
    connection.execute(_INSERT_SHOWN, [{"event_id": event_id, "patient_id": p} for p in shown])


_TABLE = cast(Table, AuditEvent.__table__)
_SHOWN_TABLE = cast(Table, AuditEventPatient.__table__)
_INSERT_ONE = _TABLE.insert()
_INSERT_SHOWN = _SHOWN_TABLE.insert()
READ = "read"
# The key of an entry noted for a screen: the patients it showed.
SHOWN = "shown"
_SHARED = ("actor_id", "action", "resource_type", "resource_id", "request_id", "reason")


# A random UUID with its first 48 bits replaced by the clock's milliseconds and its
# version set to 7 (RFC 9562's UUIDv7): an audit row's key lands beside the last one in
# the primary key's index instead of on a random page, a fifth less of the work of
# writing a busy day's rows (PostgreSQL 15 has no uuidv7()). Still 74 random bits.
_TIME_ORDERED_ID = literal_column(
    "CAST(encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid()) placing "
    "substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) "
    "FROM 3) FROM 1 FOR 6), 52, 1), 53, 1), 'hex') AS uuid)",
    type_=Uuid,
)


# synchronous_commit off for this transaction only, when it has written nothing yet.
_RELAX_COMMIT = (
    select(func.set_config("synchronous_commit", "off", True).label("relaxed"))
    .where(func.pg_current_xact_id_if_assigned().is_(None))
    .cte("relax_commit")
    .prefix_with("MATERIALIZED")
)


def _insert_shown(*, relaxed: bool) -> Executable:
    """PostgreSQL: a screen's audit event and its patients' rows in one statement, the
    patients an array unnested by the server (an executemany would run one INSERT per
    patient). A Core statement on the tables, built once (only its parameters change
    from read to read), so the session sends it as it is, without the ORM's bulk-insert
    bookkeeping.

    `relaxed`, for the audit of a read: when the transaction has written nothing before
    (no transaction id yet: not a row written or locked), it also turns
    synchronous_commit off for this transaction only (set_config(..., true) is SET
    LOCAL), in the same statement: no round trip more. A materialized CTE, evaluated
    once before the event is inserted. Why losing such rows to a crash is acceptable,
    and what may never be lost: docs/audit.md. db.py makes the commit strict again
    before any later write of the transaction."""
    columns = (*_SHARED, "occurred_at")
    one_row = select(literal_column("1").label("one")).subquery("one_row")
    event = select(
        _TIME_ORDERED_ID,
        *(bindparam(c, type_=_TABLE.c[c].type) for c in columns),
        literal("success", type_=_TABLE.c.outcome.type),
    ).select_from(one_row)
    if relaxed:
        event = event.outerjoin(_RELAX_COMMIT, true())
    written = (
        insert(_TABLE)
        .from_select(["id", *columns, "outcome"], event)
        .returning(_TABLE.c.id)
        .cte("audit_event")
    )
    each = (
        func.unnest(sql_cast(bindparam("patient_ids", type_=Text), ARRAY(Uuid)))
        .table_valued("patient_id")
        .render_derived()
    )
    patients = select(each.c.patient_id, written.c.id).select_from(written).join(each, true())
    stmt = insert(_SHOWN_TABLE).from_select(["patient_id", "event_id"], patients)
    return stmt.execution_options(**{READ_AUDIT: True}) if relaxed else stmt


_SHOWN_STATEMENT = {relaxed: _insert_shown(relaxed=relaxed) for relaxed in (False, True)}


def concerning(patient_id: uuid.UUID) -> ColumnElement[bool]:
    """The audit events that concern a patient: theirs alone, or a screen that showed
    them among others (both found by an index that leads with the patient)."""
    shown = select(AuditEventPatient.event_id).where(AuditEventPatient.patient_id == patient_id)
    return or_(AuditEvent.patient_id == patient_id, AuditEvent.id.in_(shown))


def start_over() -> None:
    """Forget what an attempt of this request noted: its transaction was rolled back and
    the request runs again (retries.py), noting its own."""
    if has_request_context():
        g.pop("audit_entries", None)


def _outcome(status: int) -> str:
    if status in (401, 403, 404):
        return "denied"
    return "refused" if status < 500 else "failed"


def install(app: Flask) -> None:
    @app.after_request
    def _finish_audit(response: Response) -> Response:
        entries = g.pop("audit_entries", [])
        if not entries:
            return response
        if response.status_code < 400:
            db.session.commit()
            return response
        db.session.rollback()
        outcome = _outcome(response.status_code)
        for entry in entries:
            shown = entry.pop(SHOWN, ())
            event = AuditEvent(id=new_id(), outcome=outcome, **entry)
            db.session.add(event)
            db.session.add_all(AuditEventPatient(event_id=event.id, patient_id=p) for p in shown)
        db.session.commit()
        return response
