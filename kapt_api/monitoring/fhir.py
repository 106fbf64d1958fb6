"""A session's readings as a FHIR Bundle of vital-sign Observations (DOMAIN.md §4).

fhir.resources 8 ships R4B (and R5 and STU3) but no separate R4 package; R4B keeps R4's
Observation and Bundle unchanged, so the Bundle is built and checked with the R4B
models. Blood pressure is one Observation (panel 85354-9) with the systolic (8480-6)
and diastolic (8462-4) components; every quantity carries its UCUM unit. Only
corrected (current) readings are exported; a correction is `amended`.
"""

from __future__ import annotations

import uuid
from typing import Any

from kapt_api.auth import audit
from kapt_api.monitoring import service
from kapt_api.monitoring.models import MonitoringSession, Reading
from kapt_api.patients.policy import Caller
from kapt_api.protocols.measurements import BP_PANEL_LOINC, LOINC, Measurement

UCUM = "http://unitsofmeasure.org"
CATEGORY = {
    "coding": [
        {
            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
            "code": "vital-signs",
            "display": "Vital Signs",
        }
    ]
}
BP_PARTS = (Measurement.SYSTOLIC_BP, Measurement.DIASTOLIC_BP)
SINGLE = (
    Measurement.HEART_RATE,
    Measurement.RESPIRATORY_RATE,
    Measurement.SPO2,
    Measurement.TEMPERATURE,
)
NAMESPACE = uuid.UUID("6f1c1b8e-4a52-4b8e-9a55-1f0f3c2a7d10")


def bundle(*, session: MonitoringSession, by: Caller) -> str:
    """The session's vital signs as FHIR JSON (a `collection` Bundle)."""
    # Imported here, not at the top: fhir.resources' pydantic models cost about 12 MB in
    # every API worker (docs/benchmarks.md, worker memory), and only this export uses them.
    from fhir.resources.R4B.bundle import Bundle

    entries = []
    for reading in service.current_readings(session):
        for observation in observations(reading, patient_id=session.patient_id):
            entries.append({"fullUrl": f"urn:uuid:{observation['id']}", "resource": observation})
    document = Bundle.model_validate(
        {"resourceType": "Bundle", "type": "collection", "entry": entries or None}
    )
    audit.record("read", "fhir", session.id, patient_id=session.patient_id, actor_id=by.user_id)
    return document.model_dump_json(exclude_none=True)


def observations(reading: Reading, *, patient_id: uuid.UUID) -> list[dict[str, Any]]:
    """The Observations of one reading: the blood pressure panel, then each vital sign."""
    found = []
    values = reading.values
    if all(part.value in values for part in BP_PARTS):
        panel = _observation(
            reading, patient_id, "bp", _code(LOINC, BP_PANEL_LOINC, "Blood pressure panel")
        )
        panel["component"] = [
            {"code": _code_of(part), "valueQuantity": _quantity(part, values[part.value])}
            for part in BP_PARTS
        ]
        found.append(panel)
    for measurement in SINGLE:
        if measurement.value in values:
            observation = _observation(
                reading, patient_id, measurement.value, _code_of(measurement)
            )
            observation["valueQuantity"] = _quantity(measurement, values[measurement.value])
            found.append(observation)
    return found


def _observation(
    reading: Reading, patient_id: uuid.UUID, part: str, code: dict[str, Any]
) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": str(uuid.uuid5(NAMESPACE, f"{reading.id}:{part}")),
        "status": "amended" if reading.supersedes_id else "final",
        "category": [CATEGORY],
        "code": code,
        "subject": {"reference": f"Patient/{patient_id}"},
        "effectiveDateTime": reading.measured_at.isoformat(),
        "issued": reading.recorded_at.isoformat(),
    }


def _code(system: str, code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code, "display": display}], "text": display}


def _code_of(measurement: Measurement) -> dict[str, Any]:
    info = measurement.info
    codes = _code(info.code_system, info.code, info.display)
    codes["coding"] += [{"system": info.code_system, "code": extra} for extra in info.extra_codes]
    return codes


def _quantity(measurement: Measurement, value: float) -> dict[str, Any]:
    unit = measurement.info.unit
    number: float | int = int(value) if measurement.info.integer else value
    return {"value": number, "unit": unit, "system": UCUM, "code": unit}
