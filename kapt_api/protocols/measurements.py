"""What a monitoring checklist can measure, with its codes, units and physical limits.

Codes and units are DOMAIN.md §4 (HL7 FHIR vital signs, LOINC, UCUM). MOAA/S and the
dissociation score have no verified LOINC code (DOMAIN.md §4.3), so they carry a local
code until one is confirmed.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

LOINC = "http://loinc.org"
LOCAL = "urn:kapt:measurement"
BP_PANEL_LOINC = "85354-9"
VITAL_SIGNS_PANEL_LOINC = "85353-1"


class ValueType(StrEnum):
    QUANTITY = "quantity"
    SCORE = "score"
    TEXT = "text"


@dataclass(frozen=True)
class MeasurementInfo:
    """How one measurement is coded and which values can exist at all.

    `limits` are physical bounds no checklist may widen; `plausible` is the default
    range inside them (a reading outside a checklist's plausible range is refused as
    impossible, not alerted on).
    """

    display: str
    code_system: str
    code: str
    unit: str | None
    value_type: ValueType
    limits: tuple[float, float] | None
    plausible: tuple[float, float] | None
    integer: bool
    panel_code: str | None = None
    extra_codes: tuple[str, ...] = ()

    @property
    def numeric(self) -> bool:
        return self.value_type is not ValueType.TEXT


class Measurement(StrEnum):
    SYSTOLIC_BP = "systolic_bp"
    DIASTOLIC_BP = "diastolic_bp"
    HEART_RATE = "heart_rate"
    RESPIRATORY_RATE = "respiratory_rate"
    SPO2 = "spo2"
    TEMPERATURE = "temperature"
    MOAA_S = "moaa_s"
    DISSOCIATION = "dissociation"
    NOTE = "note"

    @property
    def info(self) -> MeasurementInfo:
        return MEASUREMENTS[self]


MEASUREMENTS: dict[Measurement, MeasurementInfo] = {
    # Blood pressure is one FHIR Observation (panel 85354-9) with two components.
    Measurement.SYSTOLIC_BP: MeasurementInfo(
        "Systolic blood pressure",
        LOINC,
        "8480-6",
        "mm[Hg]",
        ValueType.QUANTITY,
        (0, 400),
        (40, 300),
        True,
        panel_code=BP_PANEL_LOINC,
    ),
    Measurement.DIASTOLIC_BP: MeasurementInfo(
        "Diastolic blood pressure",
        LOINC,
        "8462-4",
        "mm[Hg]",
        ValueType.QUANTITY,
        (0, 300),
        (20, 200),
        True,
        panel_code=BP_PANEL_LOINC,
    ),
    Measurement.HEART_RATE: MeasurementInfo(
        "Heart rate", LOINC, "8867-4", "/min", ValueType.QUANTITY, (0, 350), (20, 250), True
    ),
    Measurement.RESPIRATORY_RATE: MeasurementInfo(
        "Respiratory rate", LOINC, "9279-1", "/min", ValueType.QUANTITY, (0, 100), (2, 60), True
    ),
    # The core O2 saturation profile fixes 2708-6; US Core adds 59408-5 for pulse oximetry.
    Measurement.SPO2: MeasurementInfo(
        "Oxygen saturation (pulse oximetry)",
        LOINC,
        "2708-6",
        "%",
        ValueType.QUANTITY,
        (0, 100),
        (50, 100),
        True,
        extra_codes=("59408-5",),
    ),
    Measurement.TEMPERATURE: MeasurementInfo(
        "Body temperature", LOINC, "8310-5", "Cel", ValueType.QUANTITY, (20, 50), (30, 45), False
    ),
    # MOAA/S 0-5: 5 alert ... 0 no response to a painful stimulus (loss of consciousness).
    Measurement.MOAA_S: MeasurementInfo(
        "MOAA/S sedation score", LOCAL, "moaa-s", "{score}", ValueType.SCORE, (0, 5), (0, 5), True
    ),
    # CADSS total, 23 items scored 0-4.
    Measurement.DISSOCIATION: MeasurementInfo(
        "Dissociation (CADSS total)",
        LOCAL,
        "cadss-total",
        "{score}",
        ValueType.SCORE,
        (0, 92),
        (0, 92),
        True,
    ),
    Measurement.NOTE: MeasurementInfo(
        "Observation note", LOCAL, "note", None, ValueType.TEXT, None, None, False
    ),
}
