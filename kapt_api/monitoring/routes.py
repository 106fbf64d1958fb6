"""Monitoring endpoints: a dosing session's checklist, readings, the pre-dose hold,
discharge, the REMS form, the FHIR export and the chart; alerts.

Only prescribers, nurses and therapists on the patient's care team reach them
(policy.py); every read and write is audited with the patient's id.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Response

from kapt_api import clock
from kapt_api.auth.identity import authenticated, current_user
from kapt_api.db import begin_write, db
from kapt_api.idempotency import idempotent
from kapt_api.monitoring import alerts, chart, fhir, hold, rems, service
from kapt_api.monitoring import discharge as discharging
from kapt_api.monitoring.models import MonitoringSession
from kapt_api.monitoring.schemas import (
    AcknowledgeIn,
    AdministrationIn,
    AlertOut,
    AlertQuery,
    ChecklistOut,
    DischargeIn,
    ReadingIn,
    ReadingOut,
    ReasonIn,
    RemsFormOut,
    SessionOut,
)
from kapt_api.openapi import documents
from kapt_api.openapi.pages import Blueprint
from kapt_api.patients.policy import Caller, caller

bp = Blueprint("monitoring", __name__, url_prefix="/api/v1", description="Monitoring and alerts")
BASE = "/appointments/<uuid:appointment_id>/monitoring"
CONFLICT = documents([409])


def _who() -> Caller:
    return caller(current_user())


def _session(appointment_id: uuid.UUID, action: str = "read") -> tuple[Caller, MonitoringSession]:
    who = _who()
    if action != "read":
        begin_write(db.session)
    return who, service.find_session(appointment_id=appointment_id, by=who, action=action)


@bp.route(BASE)
@bp.response(200, ChecklistOut)
@authenticated
def get_checklist(appointment_id: uuid.UUID) -> service.Checklist:
    """The session's checklist: each timepoint due, done or overdue now, and its readings."""
    _caller, session = _session(appointment_id)
    return service.checklist(session=session, now=clock.now())


@bp.route(f"{BASE}/readings", methods=["POST"])
@idempotent
@bp.arguments(ReadingIn)
@bp.response(201, ReadingOut)
@bp.doc(**CONFLICT)
@authenticated
def record_reading(data: dict[str, Any], appointment_id: uuid.UUID) -> Any:
    """Record readings (a timepoint's or ad hoc), or correct an earlier one with a reason."""
    who, session = _session(appointment_id, "update")
    reading = service.record_reading(session=session, **data, by=who, now=clock.now())
    db.session.commit()
    return reading


@bp.route(f"{BASE}/hold-override", methods=["POST"])
@bp.arguments(ReasonIn)
@bp.response(200, SessionOut)
@bp.doc(**CONFLICT)
@authenticated
def override_hold(data: dict[str, Any], appointment_id: uuid.UUID) -> Any:
    """A prescriber lets a held dose go ahead, saying why (audited)."""
    who, session = _session(appointment_id, "update")
    session = hold.override_hold(session=session, **data, by=who, now=clock.now())
    db.session.commit()
    return session


@bp.route(f"{BASE}/discharge", methods=["POST"])
@bp.arguments(DischargeIn)
@bp.response(200, SessionOut)
@bp.doc(**CONFLICT)
@authenticated
def discharge(data: dict[str, Any], appointment_id: uuid.UUID) -> Any:
    """Discharge the patient; refused naming everything still missing."""
    who, session = _session(appointment_id, "update")
    session = discharging.sign_discharge(session=session, **data, by=who, now=clock.now())
    db.session.commit()
    return session


@bp.route(f"{BASE}/administration", methods=["POST"])
@bp.arguments(AdministrationIn)
@bp.response(200, SessionOut)
@bp.doc(**CONFLICT)
@authenticated
def record_administration(data: dict[str, Any], appointment_id: uuid.UUID) -> Any:
    """Record the esketamine dose: first device time, devices, dose and lot number."""
    who, session = _session(appointment_id, "update")
    session = rems.record_administration(session=session, **data, by=who, now=clock.now())
    db.session.commit()
    return session


@bp.route(f"{BASE}/rems-form")
@bp.response(200, RemsFormOut)
@authenticated
def rems_form(appointment_id: uuid.UUID) -> dict[str, Any]:
    """The esketamine REMS Patient Monitoring Form's fields, and any still missing."""
    who, session = _session(appointment_id)
    return rems.form(session=session, by=who)


@bp.route(f"{BASE}/rems-form/submitted", methods=["POST"])
@bp.response(200, RemsFormOut)
@bp.doc(**CONFLICT)
@authenticated
def rems_form_submitted(appointment_id: uuid.UUID) -> dict[str, Any]:
    """Note that the complete form was submitted to the REMS."""
    who, session = _session(appointment_id, "update")
    session = rems.submit(session=session, by=who, now=clock.now())
    db.session.commit()
    return rems.form(session=session, by=who)


@bp.route(f"{BASE}/fhir")
@bp.response(200, {"type": "object"}, content_type="application/fhir+json")
@authenticated
def fhir_bundle(appointment_id: uuid.UUID) -> Response:
    """The session's vital signs as a FHIR R4 Bundle of Observations."""
    who, session = _session(appointment_id)
    return Response(fhir.bundle(session=session, by=who), mimetype="application/fhir+json")


@bp.route(f"{BASE}/chart.svg")
@bp.response(200, {"type": "string"}, content_type="image/svg+xml")
@authenticated
def chart_svg(appointment_id: uuid.UUID) -> Response:
    """Blood pressure, heart rate and SpO2 over time with the threshold bands, as SVG."""
    who, session = _session(appointment_id)
    return Response(chart.svg(session=session, by=who), mimetype="image/svg+xml")


@bp.route("/alerts")
@bp.arguments(AlertQuery, location="query")
@bp.response(200, AlertOut(many=True))
@bp.paginate()
@authenticated
def list_alerts(query: dict[str, Any], pagination_parameters: Any) -> Any:
    """Alerts of the caller's care-team patients, newest first; filter by clinic and status."""
    return alerts.list_alerts(by=_who(), page=pagination_parameters, **query)


@bp.route("/alerts/<uuid:alert_id>/acknowledge", methods=["POST"])
@bp.arguments(AcknowledgeIn)
@bp.response(200, AlertOut)
@bp.doc(**CONFLICT)
@authenticated
def acknowledge_alert(data: dict[str, Any], alert_id: uuid.UUID) -> Any:
    """A clinician on the care team has seen the alert; the note says what was done."""
    who = _who()
    begin_write(db.session)
    alert = alerts.acknowledge(alert_id=alert_id, **data, by=who, now=clock.now())
    db.session.commit()
    return alert
