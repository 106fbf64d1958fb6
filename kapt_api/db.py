"""Shared column types, the declarative base and engine set-up."""

from __future__ import annotations

import sqlite3
import uuid
from datetime import UTC, datetime
from typing import Any

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import DateTime, MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, registry, scoped_session
from sqlalchemy.types import TypeDecorator
from uuid_utils import compat as uuid_utils

from kapt_api import clock

# Stable constraint names, so Alembic migrations are the same on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """An aware datetime stored as UTC.

    SQLite silently drops the offset of an aware datetime, so everything is
    converted to UTC on the way in and comes back aware UTC. Naive values are a
    programming error and are refused.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: give every time an offset")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def result_processor(self, dialect: Any, coltype: Any) -> Any:
        # PostgreSQL: every session is in UTC (configure_postgresql), so psycopg gives each
        # timestamptz with the UTC tzinfo itself: taken as it comes, without a Python call
        # per value (a slot search reads thousands of holds, a day hundreds of times).
        if dialect.name == "postgresql":
            return None
        return super().result_processor(dialect, coltype)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None or value.tzinfo is UTC:
            return value
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    # One registry carrying both, as Flask-SQLAlchemy subclasses this base.
    registry = registry(
        metadata=MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={datetime: UTCDateTime()},
    )


db = SQLAlchemy(model_class=Base)


def new_id() -> uuid.UUID:
    """A new row's id: a version 7 UUID (RFC 9562, uuid-utils): the creation millisecond,
    a counter started at a random value each millisecond, then 32 fresh random bits. Ids
    increase in the order rows are made, so a new row's index entries land on the last,
    cached pages of each index instead of a random page of it: with random (version 4)
    ids a booking read a dozen index pages from disk at 1,000,000 appointments
    (docs/benchmarks.md). No id is guessable from another, and none is a credential
    (every route checks who asks; links and feeds carry their own tokens). The
    millisecond an id shows is no news to whoever sees it: the answers carrying ids
    carry `created_at` too."""
    return uuid_utils.uuid7()


class IdMixin:
    """Opaque UUID primary key (new_id): ids in URLs are never guessable sequences."""

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=lambda: clock.now())
    updated_at: Mapped[datetime] = mapped_column(
        default=lambda: clock.now(), onupdate=lambda: clock.now()
    )


# Failures that say "another transaction was in the way", never "your request is wrong":
# the same work tried again may well pass. PostgreSQL's deadlock_detected and
# serialization_failure roll the whole transaction back; SQLite's SQLITE_BUSY and
# SQLITE_LOCKED (primary codes, the low byte of an extended one) leave the work undone.
TRANSIENT_SQLSTATES = frozenset({"40P01", "40001"})
SQLITE_BUSY_CODES = frozenset({5, 6})
SQLITE_BUSY_MESSAGES = ("database is locked", "database table is locked")

SQLITE_BEGIN = "sqlite_begin"
_WRITE_TRANSACTION = "kapt_write_transaction"
_CHANGES_AT_BEGIN = "kapt_changes_at_begin"


# Set on a connection whose transaction relaxed its commit for the audit rows of a read
# (auth/audit.py, docs/audit.md): any statement that may write after it makes the
# commit synchronous again first.
RELAXED_COMMIT = "kapt_relaxed_commit"
STRICT_COMMIT = "SET LOCAL synchronous_commit = on"
# The execution option that marks the read-audit statement itself (it may come again).
READ_AUDIT = "kapt_read_audit"
# The SQL text of such statements once compiled for rows.write, which sends them past
# SQLAlchemy's execution: no execution context carries their option there.
READ_AUDIT_SQL: set[str] = set()


def _is_read_audit(statement: str, context: Any) -> bool:
    if context is None:
        return statement in READ_AUDIT_SQL
    return bool(context.execution_options.get(READ_AUDIT))


def configure_postgresql(engine: Engine) -> None:
    """Sessions in UTC, whatever the server's default: psycopg then gives every
    timestamptz with the `UTC` tzinfo itself, which UTCDateTime takes as it comes
    instead of converting each one (a slot search reads thousands). A transaction
    that relaxed its commit for read-audit rows is strict again before any other write."""

    @event.listens_for(engine, "do_connect")
    def _utc_session(_dialect: Any, _record: Any, _args: Any, params: dict[str, Any]) -> None:
        params["options"] = f"{params.get('options', '')} -c TimeZone=UTC".strip()

    @event.listens_for(engine, "before_cursor_execute")
    def _strict_before_writing(
        connection: Any, cursor: Any, statement: str, _parameters: Any, context: Any, *_: Any
    ) -> None:
        # Anything but a SELECT may write (INSERT, UPDATE, DELETE, WITH, SAVEPOINT...).
        if (
            connection.info.get(RELAXED_COMMIT)
            and statement[:6].upper() != "SELECT"
            and not _is_read_audit(statement, context)
        ):
            cursor.execute(STRICT_COMMIT)
            connection.info.pop(RELAXED_COMMIT, None)

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _transaction_over(connection: Any) -> None:
        connection.info.pop(RELAXED_COMMIT, None)

    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_connection: Any, record: Any) -> None:
        record.info.pop(RELAXED_COMMIT, None)


def configure_sqlite(engine: Engine) -> None:
    """Make SQLite behave: foreign keys on, WAL, waits instead of "database is locked",
    and transactions that SQLAlchemy (not pysqlite) begins, so SAVEPOINT and
    BEGIN IMMEDIATE work. See SQLAlchemy's "Serializable isolation / Savepoints"."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=15000")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A booking asks for the write lock up front (DESIGN.md: no double booking):
        # begin_write() passes the mode as an execution option of this one connection.
        mode = connection.get_execution_options().get(SQLITE_BEGIN) or connection.info.get(
            SQLITE_BEGIN, "BEGIN"
        )
        connection.exec_driver_sql(mode)
        # Rows changed on this connection so far: the same count later means this
        # transaction has written nothing yet (see begin_write_when_clean).
        connection.info[_CHANGES_AT_BEGIN] = connection.connection.dbapi_connection.total_changes


def on_postgresql() -> bool:
    """Whether the session's database is PostgreSQL (row locks, ON CONFLICT on
    exclusion constraints); SQLite locks the whole database instead."""
    return bool(db.session.get_bind().dialect.name == "postgresql")


def begin_write(session: Any) -> None:
    """Begin the session's transaction holding the database's write lock from its first
    statement, so nothing a booking reads can change before it writes.

    SQLite: BEGIN IMMEDIATE (a deferred transaction that has read cannot take the lock
    later without failing when another writer got there first). PostgreSQL needs nothing
    here: row locks and exclusion constraints do that job. Call it at the boundary before
    anything is written; a read-only transaction already open (the caller's identity was
    loaded) is ended first. Calling it again in the same transaction does nothing.
    """
    if isinstance(session, scoped_session):
        session = session()
    if session.get_bind().dialect.name != "sqlite":
        return
    if session.in_transaction():
        if session.info.get(_WRITE_TRANSACTION) is session.get_transaction():
            return
        if session.new or session.dirty or session.deleted:
            raise RuntimeError("begin_write() must come before anything is written")
        session.commit()
    session.connection(execution_options={SQLITE_BEGIN: "BEGIN IMMEDIATE"})
    session.info[_WRITE_TRANSACTION] = session.get_transaction()


def begin_write_when_clean(session: Any) -> None:
    """SQLite: before a read-only unit of work writes its first row (a read's audit
    entry), take the write lock, so the write waits its turn instead of failing because
    another connection wrote since this one began reading.

    Only a transaction that has written nothing may be ended for that: nothing pending,
    nothing flushed (SQLite's own count of changed rows is what it was at BEGIN), no
    savepoint open. Anything else is left as it is (its boundary's own begin_write is
    what such a unit of work needs), as is every other engine.
    """
    if isinstance(session, scoped_session):
        session = session()
    if session.get_bind().dialect.name != "sqlite" or not session.in_transaction():
        return
    if session.info.get(_WRITE_TRANSACTION) is session.get_transaction():
        return
    if session.in_nested_transaction() or session.new or session.dirty or session.deleted:
        return
    connection = session.connection()
    changes = connection.connection.dbapi_connection.total_changes
    if connection.info.get(_CHANGES_AT_BEGIN) != changes:
        return
    # Nothing was written, so what was read is still what the database held: keep it
    # loaded rather than read every object again.
    expire = session.expire_on_commit
    session.expire_on_commit = False
    try:
        begin_write(session)
    finally:
        session.expire_on_commit = expire


def is_busy(error: BaseException) -> bool:
    """SQLite refused because another connection holds the lock ("database is locked")."""
    original = getattr(error, "orig", error)
    code = getattr(original, "sqlite_errorcode", None)
    if code is not None:
        return (code & 0xFF) in SQLITE_BUSY_CODES
    return isinstance(original, sqlite3.OperationalError) and str(original).startswith(
        SQLITE_BUSY_MESSAGES
    )


def is_transient(error: BaseException) -> bool:
    """A deadlock, a serialization failure or a busy SQLite database: nothing of the
    failed transaction was kept, and trying the same work again may succeed."""
    original = getattr(error, "orig", error)
    return getattr(original, "sqlstate", None) in TRANSIENT_SQLSTATES or is_busy(error)


def utc(value: datetime) -> datetime:
    """Normalise an aware datetime to UTC."""
    if value.tzinfo is None:
        raise ValueError("naive datetime")
    return value.astimezone(UTC)
