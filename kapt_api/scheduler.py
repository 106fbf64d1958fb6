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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import structlog
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask

from kapt_api import clock, health, idempotency
from kapt_api.auth import service as auth_service
from kapt_api.db import db
from kapt_api.monitoring import jobs as monitoring_jobs
from kapt_api.reminders import agenda as reminder_agenda
from kapt_api.reminders import dispatcher as reminder_dispatcher

log = structlog.get_logger("kapt.scheduler")
INSTANCE_NAME = f"{socket.gethostname()}:{os.getpid()}"


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


def _heartbeat(now: datetime) -> None:
    health.beat(INSTANCE_NAME, now=now)


def _purge_expired(now: datetime) -> None:
    idempotency.purge_expired(now=now)
    auth_service.purge_ended_sessions(now=now)


JOBS: tuple[Job, ...] = (
    Job("heartbeat", _heartbeat, 30),
    Job("purge-expired-keys", _purge_expired, 3600),
    Job("dispatch-reminders", _dispatch_reminders, "KAPT_SCHEDULER_TICK_SECONDS"),
    Job("therapist-agendas", _write_agendas, 300),
    Job("overdue-timepoints", monitoring_jobs.raise_overdue_alerts, 60),
    Job("late-rems-forms", monitoring_jobs.flag_late_rems_forms, 3600),
    Job("unbooked-integrations", monitoring_jobs.flag_unbooked_integrations, 3600),
)


def run_job(app: Flask, job: Job) -> None:
    """One tick of a job: app context, one service call with `now`, one commit."""
    with app.app_context():
        try:
            job.run(clock.now())
            db.session.commit()
        except Exception as exc:
            db.session.rollback()
            log.error("job_failed", job=job.id, error_type=type(exc).__name__)
            raise
        finally:
            db.session.remove()


def build(app: Flask, *, blocking: bool) -> BaseScheduler:
    scheduler: BaseScheduler = BlockingScheduler() if blocking else BackgroundScheduler(daemon=True)
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
            replace_existing=True,
            next_run_time=clock.now(),
        )
    return scheduler
