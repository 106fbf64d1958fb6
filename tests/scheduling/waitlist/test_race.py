"""Twenty front-desk screens (or patient links) accept one offer at the same moment:
exactly one books, every other is told the offer was taken (409 offer_taken), and the
time ends held by that one appointment only. Each thread has its own session and
connection on a database of its own (committed data, real locks): PostgreSQL locks the
offer's row (SELECT ... FOR UPDATE), SQLite serialises writers (BEGIN IMMEDIATE)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import pytest
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import func, select

from kapt_api.auth.models import User
from kapt_api.db import begin_write, db
from kapt_api.errors import DomainError
from kapt_api.patients.policy import caller
from kapt_api.scheduling.booking.models import Appointment, ResourceHold
from kapt_api.scheduling.waitlist import offers
from kapt_api.scheduling.waitlist.models import WaitlistOffer
from tests import conftest as base
from tests.ops.databases import fresh_postgres_database
from tests.separate_app import separate_app

THREADS = 20


@pytest.fixture
def live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    """An app on a database of its own, whose sessions commit for real: the threads
    must see what the test set up, and take real locks."""
    if base.engine_name() == "postgresql":
        with fresh_postgres_database("kapt_waitlist_race") as url:
            yield from _serving(url, monkeypatch)
    else:
        yield from _serving(f"sqlite:///{tmp_path / 'kapt.db'}", monkeypatch)


def _serving(url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    with separate_app(base.test_overrides(url)) as application:
        upgrade(directory=str(base.ROOT / "migrations"))
        monkeypatch.setattr(db, "session", db._make_scoped_session({}))
        yield application
        db.session.remove()
        db.engine.dispose()


def _accept(application: Flask, offer_id, user_id, now: datetime, start: threading.Barrier) -> str:
    with application.app_context():
        try:
            who = caller(db.session.get(User, user_id))
            db.session.commit()
            start.wait(timeout=30)
            begin_write(db.session)
            offers.accept_offer(offer_id, by=who, now=now)
            db.session.commit()
            return "booked"
        except DomainError as refused:
            db.session.rollback()
            return refused.code
        finally:
            db.session.remove()


@pytest.mark.usefixtures("now")
def test_twenty_simultaneous_acceptances_book_exactly_once(
    live, dose_to_cancel, ready, wait, cancel, tick, place, now
):
    wait(ready(1))
    cancel(dose_to_cancel)
    tick()
    offer_id = db.session.scalars(select(WaitlistOffer.id)).one()
    user_id = place.front_desk.user_id
    db.session.commit()
    start = threading.Barrier(THREADS)
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        answers = Counter(
            pool.map(lambda _: _accept(live, offer_id, user_id, now, start), range(THREADS))
        )
    assert answers == {"booked": 1, "offer_taken": THREADS - 1}
    db.session.expire_all()
    offer = db.session.get(WaitlistOffer, offer_id)
    assert offer is not None and offer.status == "accepted"
    booked = db.session.scalar(
        select(func.count())
        .select_from(Appointment)
        .where(Appointment.starts_at == offer.starts_at, Appointment.status == "booked")
    )
    assert booked == 1
    assert db.session.scalar(select(func.count()).where(ResourceHold.offer_id == offer_id)) == 0
