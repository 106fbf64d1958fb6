"""Rows written and read past the ORM's per-statement set-up, for the statements a
clinic's busiest requests send every time (a booking's, a day schedule's). The objects
stay the ORM's: written rows are kept in the session as if read back."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any, cast

import psycopg
from psycopg.rows import namedtuple_row
from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Executable,
    Table,
    Text,
    Uuid,
    any_,
    bindparam,
    insert,
    inspect,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Mapper, make_transient_to_detached

from kapt_api.db import READ_AUDIT, READ_AUDIT_SQL, db

# What makes a row of its values (`tuple`, a named tuple's `_make`).
Make = Callable[[Iterable[Any]], Any]


def insert_as_loaded(objects: Sequence[Any]) -> None:
    """Write new objects' rows now, with one Core INSERT per table, and keep the objects
    in the session as if they had been read back (persistent, nothing left to flush).

    For the rows every booking writes (the appointment, its staff and first status,
    its reminders): the ORM's unit of work plans each flush anew for rows whose shape
    never changes, about half a millisecond of a booking's Python (bench_booking).

    The rows are the ones a flush would write: the Python-side column defaults filled
    in, a column with neither value nor default left out (NULL, as the ORM leaves it; a
    JSON column would store JSON null if sent None), an integer key the database
    numbers read back. Foreign keys a relationship would fill at flush must be set by
    the caller; every object must be new (transient), its related objects listed too."""
    # What is pending goes first, as in one flush: these rows may refer to it, and a
    # caller that flushed before expects everything written (nothing to do when clean).
    db.session.flush()
    if not objects:
        return
    # Core statements on the session's connection: in its transaction, without the
    # session's per-statement set-up (nothing to autoflush: the session is clean).
    connection = db.session.connection()
    rows: dict[tuple[Table, frozenset[str]], list[tuple[Any, dict[str, Any]]]] = {}
    for obj in objects:
        table, row = _row_of(obj)
        rows.setdefault((table, frozenset(row)), []).append((obj, row))
    for (table, columns), found in rows.items():
        numbered = tuple(c for c in table.primary_key.columns if c.key not in columns)
        written = [row for _, row in found]
        if len(written) == 1:  # every column given: sent as write sends it
            returned = write(_insert_of_one(table, columns, numbered), written[0])
        else:
            result = connection.execute(_insert_of(table, numbered), written)
            returned = result.all() if numbered else []
        if numbered:
            for (obj, _), key in zip(found, returned, strict=True):
                for column, value in zip(numbered, key, strict=True):
                    setattr(obj, column.key, value)
    for obj in objects:
        make_transient_to_detached(obj)
    db.session.add_all(objects)


def _row_of(obj: Any) -> tuple[Table, dict[str, Any]]:
    """The object's table and the values a flush would insert, set on the object too."""
    table, columns = _columns_of(inspect(obj).mapper)
    values = obj.__dict__
    row = {}
    for key, column_key, default, primary in columns:
        if key not in values:
            if default is None:
                if not primary:
                    setattr(obj, key, None)  # loaded as NULL, not expired
                continue
            setattr(obj, key, default.arg(None) if default.is_callable else default.arg)
        row[column_key] = values[key]
    return table, row


@functools.cache
def _columns_of(mapper: Mapper[Any]) -> tuple[Table, tuple[tuple[str, str, Any, bool], ...]]:
    """A mapper's table and, per column attribute of its own table: its name, its
    column's name, its Python-side default and whether it is part of the primary key.
    An attribute read from elsewhere (a column_property's subquery) is no column to
    write: it stays unloaded and is read when first asked for."""
    table = cast(Table, mapper.local_table)
    return table, tuple(
        (prop.key, prop.columns[0].key, prop.columns[0].default, prop.columns[0].primary_key)
        for prop in mapper.column_attrs
        if isinstance(prop.columns[0], Column) and prop.columns[0].table is table
    )


@functools.cache
def _insert_of(table: Table, numbered: tuple[Any, ...]) -> Any:
    """One statement per table (its compiled form is then found in SQLAlchemy's cache
    without being built again)."""
    statement = insert(table)
    return statement.returning(*numbered, sort_by_parameter_order=True) if numbered else statement


@functools.cache
def _insert_of_one(table: Table, columns: frozenset[str], numbered: tuple[Any, ...]) -> Any:
    """One row's statement per table and set of columns, naming those columns only (the
    defaults are filled in already), so write can send it compiled once: most of the
    rows a booking writes come one to a table."""
    given: dict[str, Any] = {c.key: bindparam(c.key) for c in table.columns if c.key in columns}
    statement = insert(table).values(given)
    return statement.returning(*numbered) if numbered else statement


def among(column: Any, name: str, *, postgresql: bool) -> ColumnElement[bool]:
    """`column IN :name`, the ids given by ids_for. On PostgreSQL `column = ANY(:name)`,
    the ids one array literal cast by the statement: one statement text whatever their
    number, compiled and prepared once, without SQLAlchemy's expansion of an IN (70 to
    100 us a read) or psycopg's Python array dumper. SQLite has no arrays."""
    if postgresql:
        return column == any_(sql_cast(bindparam(name, type_=Text), ARRAY(Uuid)))
    return cast(ColumnElement[bool], column.in_(bindparam(name, expanding=True)))


def ids_for(ids: Iterable[uuid.UUID], *, postgresql: bool) -> Any:
    """The value of among's parameter: on PostgreSQL an array literal of the ids."""
    return "{" + ",".join(map(str, ids)) + "}" if postgresql else list(ids)


def read(
    statement: Executable, parameters: dict[str, Any], *, make: Make | None = None
) -> Sequence[Any]:
    """The rows of a SELECT of columns (never of whole objects), executed on the
    session's connection once what the session holds is flushed, as its own execute
    would (unless autoflush is off, as inside no_autoflush), fetched at once (a result
    iterated row by row asks the driver once per row). Rows read by attribute, by
    position and by unpacking alike; with `make` (`tuple`, or a named tuple's `_make`),
    each row is made that instead, by the driver as it reads it (thousands of rows are
    not made twice).

    `statement` must be built once (a module constant): on PostgreSQL it is compiled
    once and sent by psycopg itself (_OnTheDriver), without SQLAlchemy's set-up of each
    execution (the ORM's, 40 to 100 us of CPU, and the Core result's, about as much again
    for a day's rows). SQLite runs it through SQLAlchemy. psycopg prepares a statement
    from its fifth execution on a connection; asked to prepare each at once, it sent a
    PREPARE first (a round trip more) whenever the connection's prepared statements had
    been dropped, which every rollback does: in every read-only transaction."""
    if db.session.autoflush:
        db.session.flush()
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        found = connection.execute(statement, parameters).all()
        return found if make is None else [make(row) for row in found]
    return _on_the_driver(statement, connection.dialect).rows(connection, parameters, make)


def write(statement: Executable, parameters: dict[str, Any]) -> Sequence[Any]:
    """Send a write built once (a module constant: SQL text, or an INSERT of a table with
    every column given, since no Python-side default is filled in here) on the session's
    connection, as read sends a SELECT: on PostgreSQL through psycopg itself, past
    SQLAlchemy's set-up of each execution (a booking sends four such). The rows it
    returns (RETURNING), else none. Nothing is flushed first, as on the connection
    itself: the caller flushes what must be written before."""
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        result = connection.execute(statement, parameters)
        return result.all() if result.returns_rows else []
    return _on_the_driver(statement, connection.dialect).rows(connection, parameters)


class _OnTheDriver:
    """A statement compiled once for PostgreSQL and run on the connection's psycopg cursor.

    What SQLAlchemy does around each execution that a caller can tell is kept: the
    parameters go through the statement's bind processors (an expanding IN is expanded as
    SQLAlchemy expands it), the values through the columns' result processors, the
    engine's before/after_cursor_execute listeners see the statement (query counts,
    db.py's commit mode), and a driver error is raised as SQLAlchemy's own exception
    class (retries.py and the error handlers catch those), the connection invalidated
    when it was lost. Rows are psycopg's named tuples, or what `make` makes of each."""

    def __init__(self, statement: Executable, dialect: Any) -> None:
        compiled = cast(Any, statement).compile(dialect=dialect)
        self.compiled = compiled
        if statement.get_execution_options().get(READ_AUDIT):
            READ_AUDIT_SQL.add(compiled.string)  # db.py's commit mode tells it by its text
        self.fixed = not (compiled.post_compile_params or compiled.literal_execute_params)
        self.binds = {n: p for n, p in compiled._bind_processors.items() if p is not None}
        found = [c.type._cached_result_processor(dialect, None) for c in compiled._result_columns]
        self.results = found if any(found) else None

    def rows(
        self, connection: Connection, parameters: dict[str, Any], make: Make | None = None
    ) -> list[Any]:
        sql, values = self._sent(parameters)
        driver = connection.connection.driver_connection
        made = namedtuple_row if make is None else _made_by(make)
        cursor = driver.cursor(row_factory=made)  # type: ignore[union-attr]
        dispatch = connection.dispatch
        for listener in dispatch.before_cursor_execute:
            listener(connection, cursor, sql, values, None, False)
        try:
            cursor.execute(sql, values)
            # A write without RETURNING has no columns, nothing to fetch (asked of the
            # result itself: the cursor's description builds a column object each).
            result = cursor.pgresult
            found = cursor.fetchall() if result is not None and result.nfields else []
        except psycopg.Error as error:
            lost = connection.dialect.is_disconnect(cast(Any, error), driver, cursor)
            if lost:
                connection.invalidate(error)
            raise DBAPIError.instance(
                sql, values, error, psycopg.Error, connection_invalidated=lost,
                dialect=connection.dialect,
            ) from error  # fmt: skip
        for listener in dispatch.after_cursor_execute:
            listener(connection, cursor, sql, values, None, False)
        results = self.results
        if results is None:
            return found
        return [
            (make or row._make)(v if p is None else p(v) for p, v in zip(results, row, strict=True))
            for row in found
        ]

    def _sent(self, parameters: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """The SQL to send and its values, through the statement's bind processors."""
        compiled = self.compiled
        if self.fixed:
            sql, values, expanded = compiled.string, compiled.construct_params(parameters), {}
        else:
            state = compiled.construct_expanded_state(parameters)
            sql, values, expanded = state.statement, state.parameters, state.processors
        for processors in (self.binds, expanded):
            for name, process in processors.items():
                if process is not None and name in values:
                    values[name] = process(values[name])
        return sql, values


def _made_by(make: Make) -> Any:
    """A psycopg row factory whose rows are made by `make`."""
    return lambda _cursor: make


_COMPILED: dict[int, tuple[Executable, _OnTheDriver]] = {}


def _on_the_driver(statement: Executable, dialect: Any) -> _OnTheDriver:
    """The statement's compiled form, kept while the process lives beside the statement
    itself (so its id is never another statement's): read's statements are built once."""
    kept = _COMPILED.get(id(statement))
    if kept is None or kept[0] is not statement:
        kept = _COMPILED[id(statement)] = (statement, _OnTheDriver(statement, dialect))
    return kept[1]
