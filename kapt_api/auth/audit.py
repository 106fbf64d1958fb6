"""Append-only audit of every read and write of patient data.

A record is added to the request's own transaction, so a write and its audit
land together. When the request fails, the transaction is rolled back and the
attempt is written again on its own with the refusal as its outcome: a denied
look at a chart is exactly what an audit must show.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any, cast

from flask import Flask, Response, g, has_request_context
from sqlalchemy import (
    Executable,
    Table,
    Uuid,
    bindparam,
    func,
    insert,
    literal,
    literal_column,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY

from kapt_api import clock
from kapt_api.auth.identity import current_user_id
from kapt_api.auth.models import AuditEvent
from kapt_api.db import (
    READ_AUDIT,
    RELAXED_COMMIT,
    begin_write_when_clean,
    db,
    new_id,
    on_postgresql,
)
from kapt_api.rows import write


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


def record_per_patient(
    action: str,
    resource_type: str,
    resource_id: Any = None,
    *,
    patient_ids: Iterable[uuid.UUID],
    actor_id: uuid.UUID | None = None,
) -> None:
    """Note `action` once for each patient a screen shows (a day schedule), in this
    transaction and in one statement: a busy list is read all day long."""
    unique = list(dict.fromkeys(patient_ids))
    if not unique:
        return
    # One actor, one request, one instant: the rows differ by patient only.
    shared = _entry(
        action, resource_type, resource_id, patient_id=None, actor_id=actor_id, reason=None
    )
    entries = [{**shared, "patient_id": p} for p in unique]
    if has_request_context():
        g.setdefault("audit_entries", []).extend(entries)
    begin_write_when_clean(db.session)
    # A Core statement on the session's connection, as record's (the session's own
    # execute only adds its ORM checks).
    connection = db.session.connection()
    if on_postgresql():
        shared.pop("patient_id")
        relaxed = action == READ
        connection.execute(_FOR_EACH_PATIENT[relaxed], {**shared, "patient_ids": unique})
        if relaxed:
            connection.info[RELAXED_COMMIT] = True
    else:
        connection.execute(
            _INSERT_ONE, [{"id": new_id(), "outcome": "success", **e} for e in entries]
        )


_TABLE = cast(Table, AuditEvent.__table__)
_INSERT_ONE = _TABLE.insert()
READ = "read"
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


def _insert_for_each_patient(*, relaxed: bool) -> Executable:
    """PostgreSQL: the rows of one audited read in one statement over an array of patient
    ids (an executemany would run one INSERT per patient on the server). A Core statement
    on the table, built once (only its parameters change from read to read), so the
    session sends it as it is, without the ORM's bulk-insert bookkeeping.

    `relaxed`, for the audit of a read: when the transaction has written nothing before
    (no transaction id yet: not a row written or locked), it also turns
    synchronous_commit off for this transaction only (set_config(..., true) is SET
    LOCAL), in the same statement: no round trip more. A materialized CTE, evaluated
    once before the first row is inserted. Why losing such rows to a crash is
    acceptable, and what may never be lost: docs/audit.md. db.py makes the commit
    strict again before any later write of the transaction."""
    each = (
        func.unnest(bindparam("patient_ids", type_=ARRAY(Uuid)))
        .table_valued("patient_id")
        .render_derived()
    )
    columns = (*_SHARED, "occurred_at")
    rows = select(
        _TIME_ORDERED_ID,
        *(bindparam(c, type_=_TABLE.c[c].type) for c in columns),
        literal("success", type_=_TABLE.c.outcome.type),
        each.c.patient_id,
    ).select_from(each)
    if relaxed:
        relax = (
            select(func.set_config("synchronous_commit", "off", True).label("relaxed"))
            .where(func.pg_current_xact_id_if_assigned().is_(None))
            .cte("relax_commit")
            .prefix_with("MATERIALIZED")
        )
        rows = rows.outerjoin(relax, true())
    stmt = insert(_TABLE).from_select(["id", *columns, "outcome", "patient_id"], rows)
    return stmt.execution_options(**{READ_AUDIT: True}) if relaxed else stmt


_FOR_EACH_PATIENT = {
    relaxed: _insert_for_each_patient(relaxed=relaxed) for relaxed in (False, True)
}


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
        db.session.add_all(AuditEvent(outcome=outcome, **entry) for entry in entries)
        db.session.commit()
        return response
