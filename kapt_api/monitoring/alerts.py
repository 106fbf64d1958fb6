"""Raising, listing and acknowledging alerts.

Raising is idempotent by the alert's key (a periodic job may look at the same overdue
timepoint on every tick, in several scheduler replicas: the unique key keeps one
alert). Each new alert is announced as the named signal `alert.raised` (sender: the
alert, `now=`) so other packages deliver it without this one knowing them.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import blinker
from flask_smorest.pagination import PaginationParameters
from sqlalchemy import select

from kapt_api.auth import audit
from kapt_api.db import db
from kapt_api.errors import Conflict, NotFound
from kapt_api.monitoring import policy
from kapt_api.monitoring.models import Alert, AlertStatus
from kapt_api.openapi import QueryPage
from kapt_api.patients.models import Patient
from kapt_api.patients.policy import Caller

alert_raised = blinker.signal("alert.raised")
RESOURCE = "alert"


def raise_alert(
    *, key: str, now: datetime, raised_by: uuid.UUID | None = None, **fields: Any
) -> Alert | None:
    """Store and announce the alert, unless one with this key exists (then None)."""
    if db.session.scalar(select(Alert.id).where(Alert.key == key)) is not None:
        return None
    alert = Alert(key=key, raised_at=now, status=AlertStatus.OPEN.value, **fields)
    db.session.add(alert)
    db.session.flush()
    audit.record("create", RESOURCE, alert.id, patient_id=alert.patient_id, actor_id=raised_by)
    alert_raised.send(alert, now=now)
    return alert


def list_alerts(
    *,
    by: Caller,
    page: PaginationParameters,
    clinic_id: uuid.UUID | None = None,
    status: str | None = None,
) -> list[Alert]:
    """One page of the alerts of patients whose care team the caller is a clinician on,
    newest first, each alert on it audited as listed (`page` gets the total count)."""
    stmt = select(Alert).where(policy.visible_alerts(by))
    if clinic_id is not None:
        stmt = stmt.where(Alert.clinic_id == clinic_id)
    if status is not None:
        stmt = stmt.where(Alert.status == status)
    found = QueryPage(stmt.order_by(Alert.raised_at.desc(), Alert.id), page).items
    for alert in found:
        audit.record("list", RESOURCE, alert.id, patient_id=alert.patient_id, actor_id=by.user_id)
    return list(found)


def acknowledge(*, alert_id: uuid.UUID, note: str, by: Caller, now: datetime) -> Alert:
    """A clinician on the care team has seen the alert and says what was done."""
    alert = db.session.get(Alert, alert_id)
    if alert is None or not policy.sees_alert(by, alert, _care_team(alert.patient_id)):
        raise NotFound("No alert with this id.")
    if alert.status != AlertStatus.OPEN.value:
        raise Conflict("This alert is already acknowledged.", code="already_acknowledged")
    alert.status = AlertStatus.ACKNOWLEDGED.value
    alert.acknowledged_by = by.user_id
    alert.acknowledged_at = now
    alert.acknowledgement_note = note
    db.session.flush()
    audit.record("update", RESOURCE, alert.id, patient_id=alert.patient_id, actor_id=by.user_id)
    return alert


def _care_team(patient_id: uuid.UUID) -> list[uuid.UUID]:
    patient = db.session.get(Patient, patient_id)
    return patient.care_team_ids if patient is not None else []
