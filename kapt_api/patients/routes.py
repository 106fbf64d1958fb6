"""Patient endpoints.

Each patient is answered with the Out schema its caller may see (policy.view_of):
the `clinical` object only for clinicians on the patient's care team. The ETag
is computed from that same answer, so it changes exactly when what the caller
sees changes.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import url_for
from flask.views import MethodView

from kapt_api import clock
from kapt_api.auth.identity import authenticated, current_user, requires
from kapt_api.auth.models import Role
from kapt_api.db import db
from kapt_api.idempotency import idempotent
from kapt_api.openapi.pages import Blueprint
from kapt_api.patients import policy, service
from kapt_api.patients.models import Patient
from kapt_api.patients.schemas import (
    OUT_SCHEMAS,
    PATIENT_OUT_DOC,
    PatientIn,
    PatientPatch,
    PatientQuery,
)

bp = Blueprint("patients", __name__, url_prefix="/api/v1", description="Patients")

ONE_PATIENT = {"content": {"application/json": {"schema": PATIENT_OUT_DOC}}}
PATIENT_LIST = {
    "content": {"application/json": {"schema": {"type": "array", "items": PATIENT_OUT_DOC}}}
}
PATIENT_PATCH = PatientPatch(partial=True)


def _shown(who: policy.Caller, patient: Patient) -> dict[str, Any]:
    """The patient as this caller may see them."""
    return OUT_SCHEMAS[policy.view_of(who, patient)].dump(patient)


@bp.route("/patients")
class Patients(MethodView):
    @bp.arguments(PatientQuery, location="query")
    @bp.response(200)
    @bp.doc(responses={200: PATIENT_LIST})
    @bp.paginate()
    @authenticated
    def get(self, query: dict[str, Any], pagination_parameters: Any) -> list[dict[str, Any]]:
        """The patient directory of the caller's clinic (admins: every clinic)."""
        who = policy.caller(current_user())
        patients = service.list_patients(by=who, page=pagination_parameters, **query)
        return [_shown(who, patient) for patient in patients]

    @idempotent
    @bp.etag
    @bp.arguments(PatientIn)
    @bp.response(201)
    @bp.doc(responses={201: ONE_PATIENT})
    @requires(Role.FRONT_DESK, Role.ADMIN)
    def post(self, data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        """Register a patient (front desk in their clinic, admins in any)."""
        who = policy.caller(current_user())
        patient = service.register_patient(data=data, by=who, now=clock.now())
        db.session.commit()
        location = url_for("patients.PatientById", patient_id=patient.id)
        return _shown(who, patient), {"Location": location}


@bp.route("/patients/<uuid:patient_id>")
class PatientById(MethodView):
    @bp.etag
    @bp.response(200)
    @bp.doc(responses={200: ONE_PATIENT})
    @authenticated
    def get(self, patient_id: uuid.UUID) -> dict[str, Any]:
        """One patient; the clinical object only for clinicians on their care team."""
        who = policy.caller(current_user())
        return _shown(who, service.find_patient(patient_id=patient_id, by=who))

    @bp.etag
    @bp.arguments(PATIENT_PATCH)
    @bp.response(200)
    @bp.doc(responses={200: ONE_PATIENT})
    @authenticated
    def patch(self, changes: dict[str, Any], patient_id: uuid.UUID) -> dict[str, Any]:
        """Change a patient; send If-Match with the ETag of the version you saw."""
        who = policy.caller(current_user())
        patient = service.find_patient(patient_id=patient_id, by=who, action="update")
        bp.check_etag(patient, OUT_SCHEMAS[policy.view_of(who, patient)])
        patient = service.update_patient(patient=patient, changes=changes, by=who, now=clock.now())
        db.session.commit()
        return _shown(who, patient)
