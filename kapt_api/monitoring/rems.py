"""The esketamine REMS record of a session: the administration (first device, devices,
dose, lot) and the Patient Monitoring Form built from it, due within 7 days
(DOMAIN.md §1.2)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from kapt_api.auth import audit
from kapt_api.auth.models import User
from kapt_api.clinics.models import Clinic
from kapt_api.db import db
from kapt_api.errors import Conflict, InvalidInput
from kapt_api.monitoring import rems_rules, rules, service
from kapt_api.monitoring.models import MonitoringSession, Reading
from kapt_api.patients.models import Patient
from kapt_api.patients.policy import Caller
from kapt_api.protocols.definition import ChecklistTemplate, TimepointKind
from kapt_api.protocols.measurements import Measurement

SUBMIT_WITHIN = timedelta(days=7)
BP_PEAK_MINUTES = 40
ADVERSE_EVENTS = ("sedation", "dissociation", "respiratory_depression", "bp_increase")


def record_administration(
    *,
    session: MonitoringSession,
    first_device_at: datetime,
    devices: int,
    dose_mg: int,
    lot_number: str,
    by: Caller,
    now: datetime,
    device_times: Sequence[datetime] | None = None,
    concomitant_medications: Mapping[str, bool] | None = None,
) -> MonitoringSession:
    """The dose as given: monitoring time counts from the first device. Concomitant
    medicines sent replace those recorded; left out, they stay as they were."""
    if not session.rems_required:
        raise Conflict("This session's protocol keeps no REMS record.", code="not_rems")
    problems = rems_rules.administration_problems(
        first_device_at=first_device_at,
        device_times=device_times,
        devices=devices,
        dose_mg=dose_mg,
        checked_in_at=session.checked_in_at,
        now=now,
    )
    if problems:
        raise InvalidInput(problems)
    kept = rems_rules.device_times_of(first_device_at, device_times, devices=devices)
    session.first_device_at = first_device_at
    session.dose_started_at = first_device_at
    session.devices = devices
    session.device_times = None if kept is None else [_stored(t) for t in kept]
    session.dose_mg = dose_mg
    session.lot_number = lot_number
    if concomitant_medications is not None:
        session.concomitant_medications = dict(concomitant_medications)
    db.session.flush()
    audit.record(
        "update", service.RESOURCE, session.id, patient_id=session.patient_id, actor_id=by.user_id
    )
    return session


def _stored(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def device_times(session: MonitoringSession) -> list[datetime] | None:
    """Each device's time as recorded, in order."""
    if session.device_times is None:
        return None
    return [datetime.fromisoformat(t) for t in session.device_times]


@dataclass(frozen=True)
class BloodPressure:
    systolic: float
    diastolic: float
    measured_at: datetime


def _bp(reading: Reading | None) -> BloodPressure | None:
    if reading is None:
        return None
    values = reading.values
    systolic = values.get(Measurement.SYSTOLIC_BP.value)
    diastolic = values.get(Measurement.DIASTOLIC_BP.value)
    if systolic is None or diastolic is None:
        return None
    return BloodPressure(systolic, diastolic, reading.measured_at)


def form(*, session: MonitoringSession, by: Caller) -> dict[str, Any]:
    """The Patient Monitoring Form's fields, with the ones still missing named."""
    template = service.template_of(session)
    readings = service.current_readings(session)
    fields: dict[str, Any] = {
        **_patient_and_setting(session),
        **_treatment(session),
        **_vital_signs(session, template, readings),
        **{name: getattr(session, name) for name in ADVERSE_EVENTS},
        "submit_by": _treatment_date(session) + SUBMIT_WITHIN,
        "submitted_at": session.rems_submitted_at,
    }
    optional = {"submitted_at", "date_of_birth", "setting_address"}
    missing = sorted(k for k, v in fields.items() if v is None and k not in optional)
    audit.record(
        "read", "rems_form", session.id, patient_id=session.patient_id, actor_id=by.user_id
    )
    return {**fields, "complete": not missing, "missing": missing}


def _patient_and_setting(session: MonitoringSession) -> dict[str, Any]:
    patient = db.session.get(Patient, session.patient_id)
    clinic = db.session.get(Clinic, session.clinic_id)
    assert patient is not None and clinic is not None
    return {
        "patient_name": f"{patient.given_name} {patient.family_name}",
        "date_of_birth": patient.date_of_birth,
        "sex": patient.sex,
        "rems_enrolled": patient.rems_enrolled,
        "concomitant_medications": _medications(session),
        "setting_name": clinic.name,
        "setting_address": clinic.address,
    }


def _treatment(session: MonitoringSession) -> dict[str, Any]:
    return {
        "monitoring_clinician": _clinician(session.discharged_by),
        "treatment_date": _treatment_date(session),
        "first_treatment": _first_treatment(session),
        "dose_mg": session.dose_mg,
        "devices": session.devices,
        "lot_number": session.lot_number,
        "first_device_at": session.first_device_at,
        "device_times": device_times(session),
        "discharged_at": session.discharged_at,
        "total_monitoring_minutes": _duration(session),
        "ready_to_leave_minutes": session.ready_to_leave_minutes,
    }


def _vital_signs(
    session: MonitoringSession, template: ChecklistTemplate, readings: list[Reading]
) -> dict[str, Any]:
    kinds = {t.key: t.kind for t in template.timepoints}
    baseline = _last(r for r in readings if kinds.get(r.timepoint or "") is TimepointKind.PRE_DOSE)
    final = _last(
        r for r in readings if kinds.get(r.timepoint or "") is TimepointKind.BEFORE_DISCHARGE
    )
    return {
        "bp_before_administration": _bp(baseline),
        "bp_40_minutes": _bp_near_peak(session, readings),
        "bp_before_discharge": _bp(final),
        "vitals_in_range_before_administration": _in_range(template, baseline, pre_dose=True),
        "vitals_in_range_before_discharge": _in_range(template, final, pre_dose=False),
    }


def _medications(session: MonitoringSession) -> dict[str, bool | None] | None:
    """The form's yes/no per medicine class; None until every one it asks is answered."""
    answers = session.concomitant_medications
    if rems_rules.missing_medications(answers):
        return None
    assert answers is not None
    names = (*rems_rules.FORM_MEDICATIONS, *rems_rules.OTHER_MEDICATIONS)
    return {name: answers.get(name) for name in names}


def _clinician(user_id: uuid.UUID | None) -> str | None:
    """Who completed the monitoring (discharged the patient)."""
    if user_id is None:
        return None
    user = db.session.get(User, user_id)
    return user.full_name if user is not None else None


def _last(readings: Iterable[Reading]) -> Reading | None:
    found = list(readings)
    return found[-1] if found else None


def _treatment_date(session: MonitoringSession) -> date:
    return (session.first_device_at or session.checked_in_at).date()


def _first_treatment(session: MonitoringSession) -> bool:
    earlier = db.session.scalar(
        select(func.count(MonitoringSession.id)).where(
            MonitoringSession.course_id == session.course_id,
            MonitoringSession.checked_in_at < session.checked_in_at,
            MonitoringSession.first_device_at.is_not(None),
        )
    )
    return not earlier


def _duration(session: MonitoringSession) -> int | None:
    if session.first_device_at is None or session.discharged_at is None:
        return None
    return int((session.discharged_at - session.first_device_at).total_seconds() // 60)


def _bp_near_peak(session: MonitoringSession, readings: list[Reading]) -> BloodPressure | None:
    """The blood pressure filed at the checklist's occurrence 40 minutes after the first
    device: the filing the checklist and the discharge gate read (checklist_rules.filing),
    so a reading outside that timepoint's tolerance is not the 40-minute check here either."""
    if session.first_device_at is None:
        return None
    return _bp(_last(r for r in readings if r.slot_minutes == BP_PEAK_MINUTES and _bp(r)))


def _in_range(
    template: ChecklistTemplate, reading: Reading | None, *, pre_dose: bool
) -> bool | None:
    if reading is None:
        return None
    return not rules.breaches(template, reading.values, pre_dose=pre_dose)


def submit(*, session: MonitoringSession, by: Caller, now: datetime) -> MonitoringSession:
    """The form was submitted to the REMS (online or by fax)."""
    if not session.rems_required:
        raise Conflict("This session's protocol keeps no REMS record.", code="not_rems")
    if session.rems_submitted_at is not None:
        raise Conflict("This form was already submitted.", code="already_submitted")
    missing = form(session=session, by=by)["missing"]
    if missing:
        raise InvalidInput({name: ["Missing on the form."] for name in missing})
    session.rems_submitted_at = now
    session.rems_submitted_by = by.user_id
    db.session.flush()
    audit.record(
        "update", "rems_form", session.id, patient_id=session.patient_id, actor_id=by.user_id
    )
    return session
