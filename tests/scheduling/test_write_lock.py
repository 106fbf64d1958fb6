"""On SQLite a booking holds the database's write lock from its first statement
(db.begin_write: BEGIN IMMEDIATE), so what it checks cannot change before it writes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from kapt_api.db import begin_write, configure_sqlite


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
