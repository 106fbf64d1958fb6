"""On SQLite a booking holds the database's write lock from its first statement
(db.begin_write: BEGIN IMMEDIATE), so what it checks cannot change before it writes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from kapt_api.db import begin_write, begin_write_when_clean, configure_sqlite


@pytest.fixture
def database(tmp_path: Path):
    path = tmp_path / "lock.db"
    engine = sa.create_engine(f"sqlite:///{path}")
    configure_sqlite(engine)
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE things (id INTEGER PRIMARY KEY)")
    yield engine, path
    engine.dispose()


def another_writer_can_start(path: Path) -> bool:
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError as error:
        assert "locked" in str(error)
        return False
    finally:
        other.close()


def test_a_booking_transaction_holds_the_write_lock_from_its_start(database):
    engine, path = database
    with Session(engine) as session:
        session.execute(sa.text("SELECT count(*) FROM things"))  # a read first, as a request does
        assert another_writer_can_start(path)

        begin_write(session)

        assert not another_writer_can_start(path)
        session.execute(sa.text("INSERT INTO things (id) VALUES (1)"))
        session.commit()
    assert another_writer_can_start(path)


def test_asking_again_in_the_same_transaction_keeps_it(database):
    engine, path = database
    with Session(engine) as session:
        begin_write(session)
        session.execute(sa.text("INSERT INTO things (id) VALUES (1)"))
        begin_write(session)  # a second booking in the same unit of work
        assert not another_writer_can_start(path)
        session.execute(sa.text("INSERT INTO things (id) VALUES (2)"))
        session.commit()
        assert session.scalar(sa.text("SELECT count(*) FROM things")) == 2


class Thing:
    """A row of `things`, mapped only for this test."""


def test_it_refuses_to_end_a_transaction_with_unsaved_changes(database):
    engine, _ = database
    metadata = sa.MetaData()
    table = sa.Table("things", metadata, sa.Column("id", sa.Integer, primary_key=True))
    mapper = sa.orm.registry(metadata=metadata)
    mapper.map_imperatively(Thing, table)
    try:
        with Session(engine) as session:
            session.execute(sa.select(table))
            session.add(Thing())
            with pytest.raises(RuntimeError):
                begin_write(session)
    finally:
        mapper.dispose()


def another_writer_commits(path: Path) -> None:
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("INSERT INTO things (id) VALUES (100)")
    finally:
        other.close()


def test_a_read_that_another_connection_wrote_under_cannot_write_after_it(database):
    """Why reads take the lock before their audit row: SQLite refuses the upgrade."""
    engine, path = database
    with Session(engine) as session:
        session.execute(sa.text("SELECT count(*) FROM things"))
        another_writer_commits(path)
        with pytest.raises(sa.exc.OperationalError, match="locked"):
            session.execute(sa.text("INSERT INTO things (id) VALUES (1)"))


def test_a_read_takes_the_lock_before_its_first_write_and_keeps_what_it_read(database):
    engine, path = database
    with Session(engine) as session:
        before = session.scalar(sa.text("SELECT count(*) FROM things"))
        another_writer_commits(path)

        begin_write_when_clean(session)

        assert not another_writer_can_start(path)
        session.execute(sa.text("INSERT INTO things (id) VALUES (1)"))
        session.commit()
        assert (before, session.scalar(sa.text("SELECT count(*) FROM things"))) == (0, 2)


def test_taking_the_lock_for_a_read_twice_keeps_one_write_transaction(database):
    engine, path = database
    with Session(engine) as session:
        session.execute(sa.text("SELECT 1"))
        begin_write_when_clean(session)
        begin_write_when_clean(session)  # already writing: nothing more
        assert not another_writer_can_start(path)
        session.commit()


def test_a_transaction_that_wrote_is_never_ended_to_take_the_lock(database):
    engine, path = database
    with Session(engine) as session:
        session.execute(sa.text("INSERT INTO things (id) VALUES (1)"))  # written, not committed
        begin_write_when_clean(session)
        assert another_writer_can_start(path) is False  # its own write holds the lock
        session.rollback()
        assert session.scalar(sa.text("SELECT count(*) FROM things")) == 0  # nothing committed


def test_a_savepoint_is_never_ended_to_take_the_lock(database):
    engine, _ = database
    with Session(engine) as session:
        session.execute(sa.text("SELECT 1"))
        savepoint = session.begin_nested()
        begin_write_when_clean(session)
        assert savepoint.is_active
        savepoint.commit()
