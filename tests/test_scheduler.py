"""The scheduler against SQLite, the embedded default: its jobs start together on a
fresh database without one error, never run two at a time, and a database that a
request holds locked is waited for and tried again, never logged as a failure."""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

import pytest
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent
from flask import Flask
from sqlalchemy import event, select

from kapt_api import scheduler
from kapt_api.db import db
from kapt_api.health import SchedulerHeartbeat

pytestmark = pytest.mark.once  # builds its own SQLite file whatever the engine under test
HEARTBEAT = next(job for job in scheduler.JOBS if job.id == "heartbeat")
BOUND = 60.0  # seconds: an upper bound on a busy machine, not a wait


def heartbeats(application: Flask) -> list[str]:
    with application.app_context():
        names = list(db.session.scalars(select(SchedulerHeartbeat.name)))
        db.session.remove()
        return names


class HeldLock:
    """Another connection (a request, say) holding SQLite's write lock."""

    def __init__(self, path: Path) -> None:
        self.connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.connection.execute("BEGIN IMMEDIATE")

    def release(self) -> None:
        self.connection.execute("ROLLBACK")
        self.connection.close()


def short_busy_timeout(application: Flask, milliseconds: int) -> None:
    """Wait less than the service's 15 s for a lock, so the retries are what is tested."""
    with application.app_context():
        engine = db.engine
        engine.dispose()

    @event.listens_for(engine, "connect")
    def _short(dbapi_connection, _record):  # runs after the service's own set-up
        dbapi_connection.execute(f"PRAGMA busy_timeout={milliseconds}")


def test_every_job_starts_on_a_fresh_sqlite_database_without_an_error(sqlite_app, caplog):
    application, _ = sqlite_app
    caplog.set_level(logging.WARNING)
    runner = scheduler.build(application, blocking=False)
    finished: dict[str, JobExecutionEvent] = {}
    all_ran = threading.Event()
    running: set[str] = set()
    overlapped: list[str] = []
    guard = threading.Lock()

    def noted(job_event: JobExecutionEvent) -> None:
        finished[job_event.job_id] = job_event
        if len(finished) == len(scheduler.JOBS):
            all_ran.set()

    original = scheduler.run_job

    def watched(app: Flask, job: scheduler.Job) -> None:
        with guard:
            if running:
                overlapped.append(f"{job.id} while {sorted(running)}")
            running.add(job.id)
        try:
            original(app, job)
        finally:
            with guard:
                running.discard(job.id)

    runner.add_listener(noted, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
    for job in runner.get_jobs():
        job.modify(func=watched)
    runner.start()
    try:
        assert all_ran.wait(BOUND), f"ran only {sorted(finished)} of {len(scheduler.JOBS)}"
    finally:
        runner.shutdown(wait=True)

    failed = {job_id: e.exception for job_id, e in finished.items() if e.exception is not None}
    assert failed == {}
    assert overlapped == []  # one job at a time against SQLite
    assert heartbeats(application) == [scheduler.INSTANCE_NAME]
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_a_job_waits_for_a_lock_a_request_holds_then_runs(sqlite_app, monkeypatch, caplog):
    application, path = sqlite_app
    short_busy_timeout(application, 50)
    monkeypatch.setattr(scheduler, "SQLITE_LOCKED_RETRIES", (0.2, 0.2, 5.0))
    caplog.set_level(logging.WARNING)
    lock = HeldLock(path)
    threading.Timer(0.3, lock.release).start()  # the request commits while the job retries

    scheduler.run_job(application, HEARTBEAT)

    assert heartbeats(application) == [scheduler.INSTANCE_NAME]
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_a_lock_held_past_every_retry_leaves_the_work_to_the_next_tick(
    sqlite_app, monkeypatch, caplog
):
    application, path = sqlite_app
    short_busy_timeout(application, 20)
    monkeypatch.setattr(scheduler, "SQLITE_LOCKED_RETRIES", (0.01, 0.01))
    caplog.set_level(logging.INFO)
    lock = HeldLock(path)
    try:
        scheduler.run_job(application, HEARTBEAT)  # returns: nothing raised to APScheduler
    finally:
        lock.release()

    assert heartbeats(application) == []
    messages = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(messages) == 1 and "job_deferred" in messages[0]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]

    scheduler.run_job(application, HEARTBEAT)  # the next tick, the lock gone
    assert heartbeats(application) == [scheduler.INSTANCE_NAME]
