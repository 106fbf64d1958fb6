"""The scheduler's periodic jobs, in one list, and the APScheduler runner.

This is the only module that imports APScheduler. It is started by
`flask kapt scheduler` (its own process) or by `flask kapt serve` (a thread,
the embedded default), never by create_app(): several gunicorn workers would
each run every job. Jobs keep no state in the scheduler (MemoryJobStore with
fixed ids): what must survive a restart lives in the database.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import structlog
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask
from sqlalchemy.exc import OperationalError

from kapt_api import clock, health, idempotency
from kapt_api.auth import service as auth_service
from kapt_api.db import begin_write, db, is_busy
from kapt_api.monitoring import jobs as monitoring_jobs
from kapt_api.reminders import agenda as reminder_agenda
from kapt_api.reminders import dispatcher as reminder_dispatcher
from kapt_api.scheduling.waitlist import backfill as waitlist_backfill

log = structlog.get_logger("kapt.scheduler")
INSTANCE_NAME = f"{socket.gethostname()}:{os.getpid()}"
# SQLite has one writer at a time: a job that finds the database locked by a request
# waits these many seconds before each new try, then leaves the work to its next tick.
SQLITE_LOCKED_RETRIES = (0.25, 1.0, 3.0)


@dataclass(frozen=True)
class Job:
    id: str
    run: Callable[[datetime], object]
    # Seconds, or the name of the setting that gives them.
    every_seconds: int | str


def _dispatch_reminders(now: datetime) -> None:
    reminder_dispatcher.dispatch_until_idle(now=now)


def _write_agendas(now: datetime) -> None:
    reminder_agenda.write_agendas(now=now)


def _backfill_waitlist(now: datetime) -> None:
    waitlist_backfill.run_backfill(now=now)


def _heartbeat(now: datetime) -> None:
    health.beat(INSTANCE_NAME, now=now)


def _purge_expired(now: datetime) -> None:
    idempotency.purge_expired(now=now)
    auth_service.purge_ended_sessions(now=now)


JOBS: tuple[Job, ...] = (
    Job("heartbeat", _heartbeat, 30),
    Job("purge-expired-keys", _purge_expired, 3600),
    Job("dispatch-reminders", _dispatch_reminders, "KAPT_SCHEDULER_TICK_SECONDS"),
    Job("waitlist-backfill", _backfill_waitlist, "KAPT_SCHEDULER_TICK_SECONDS"),
    Job("therapist-agendas", _write_agendas, 300),
    Job("overdue-timepoints", monitoring_jobs.raise_overdue_alerts, 60),
    Job("late-rems-forms", monitoring_jobs.flag_late_rems_forms, 3600),
    Job("unbooked-integrations", monitoring_jobs.flag_unbooked_integrations, 3600),
)


def run_job(app: Flask, job: Job) -> None:
    """One tick of a job: app context, one service call with `now`, one commit.

    On SQLite the job holds the write lock from its first statement (a transaction
    that read first cannot take it later once another connection wrote), and a
    database locked by a request is tried again, then left to the next tick: that
    is contention, not a failure.
    """
    sqlite = _on_sqlite(app)
    waits = SQLITE_LOCKED_RETRIES if sqlite else ()
    for attempt in range(len(waits) + 1):
        try:
            _run_once(app, job, write_lock_first=sqlite)
            return
        except OperationalError as exc:
            if not (sqlite and is_busy(exc)):
                raise
            if attempt == len(waits):
                log.warning("job_deferred", job=job.id, reason="database_locked")
                return
            time.sleep(waits[attempt])


def _run_once(app: Flask, job: Job, *, write_lock_first: bool) -> None:
    with app.app_context():
        try:
            if write_lock_first:
                begin_write(db.session)
            job.run(clock.now())
            db.session.commit()
        except Exception as exc:
            db.session.rollback()
            if not (isinstance(exc, OperationalError) and is_busy(exc)):
                log.error("job_failed", job=job.id, error_type=type(exc).__name__)
            raise
        finally:
            db.session.remove()


def _on_sqlite(app: Flask) -> bool:
    return str(app.config["SQLALCHEMY_DATABASE_URI"]).startswith("sqlite")


def build(app: Flask, *, blocking: bool) -> BaseScheduler:
    # SQLite: one job at a time, so the jobs never queue on each other's write lock.
    executors = {"default": ThreadPoolExecutor(1 if _on_sqlite(app) else 10)}
    scheduler: BaseScheduler = (
        BlockingScheduler(executors=executors)
        if blocking
        else BackgroundScheduler(executors=executors, daemon=True)
    )
    for job in JOBS:
        scheduler.add_job(
            run_job,
            "interval",
            args=(app, job),
            id=job.id,
            name=job.id,
            seconds=(
                app.config[job.every_seconds]
                if isinstance(job.every_seconds, str)
                else job.every_seconds
            ),
            coalesce=True,
            max_instances=1,
            # A tick that starts late (a busy machine) still runs, once: every job asks
            # the database what is due at `now`, so lateness never loses or repeats work.
            misfire_grace_time=None,
            replace_existing=True,
            next_run_time=clock.now(),
        )
    return scheduler
