"""Liveness and readiness, for load balancers and operators. No auth, no PHI."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import marshmallow as ma
from sqlalchemy import String, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, mapped_column

from kapt_api import clock
from kapt_api.db import Base, db
from kapt_api.errors import DomainError
from kapt_api.fields import AwareDateTime
from kapt_api.openapi.pages import Blueprint

bp = Blueprint("service", __name__, description="Service health")
HEARTBEAT_STALE_AFTER = timedelta(minutes=2)


class SchedulerHeartbeat(Base):
    """Each scheduler process writes its beat here; /readyz reports the newest."""

    __tablename__ = "scheduler_heartbeats"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    beat_at: Mapped[datetime]


class NotReady(DomainError):
    status = 503
    code = "not_ready"
    title = "Not ready"


class HealthOut(ma.Schema):
    status = ma.fields.String(required=True)


class SchedulerOut(ma.Schema):
    status = ma.fields.String(required=True, metadata={"description": "ok, stale or never_seen"})
    last_heartbeat = AwareDateTime(allow_none=True)


class ReadyOut(ma.Schema):
    status = ma.fields.String(required=True)
    database = ma.fields.String(required=True)
    scheduler = ma.fields.Nested(SchedulerOut, required=True)


def beat(name: str, *, now: datetime) -> None:
    """Record that scheduler `name` is alive."""
    row = db.session.get(SchedulerHeartbeat, name)
    if row is None:
        db.session.add(SchedulerHeartbeat(name=name, beat_at=now))
    else:
        row.beat_at = now


def scheduler_state(*, now: datetime) -> dict[str, Any]:
    last = db.session.scalar(
        select(SchedulerHeartbeat.beat_at).order_by(SchedulerHeartbeat.beat_at.desc()).limit(1)
    )
    if last is None:
        return {"status": "never_seen", "last_heartbeat": None}
    return {
        "status": "ok" if now - last <= HEARTBEAT_STALE_AFTER else "stale",
        "last_heartbeat": last,
    }


@bp.route("/healthz")
@bp.response(200, HealthOut)
def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@bp.route("/readyz")
@bp.response(200, ReadyOut)
@bp.alt_response(503, description="The database is not reachable")
def readyz() -> dict[str, Any]:
    """Ready to serve: the database answers. The scheduler's last heartbeat is reported too
    (the API serves without it, so a stale scheduler does not take the API out of rotation)."""
    try:
        db.session.execute(text("SELECT 1"))
        scheduler = scheduler_state(now=clock.now())
    except SQLAlchemyError:
        db.session.rollback()
        raise NotReady("The database is not reachable.") from None
    return {"status": "ready", "database": "ok", "scheduler": scheduler}
