"""An induction series of racemic ketamine infusions, off label (DOMAIN.md §0.4, §2):
no regulatory protocol exists, so each value is published practice or, where DOMAIN.md
says so, our own suggestion.

- 6 infusions over about 3 weeks, 2-3 a week (§2.2).
- 0.5 mg/kg over 40 minutes (§2.1).
- BP every 10 minutes during the infusion and every 15 minutes after (§2.3, Riva-Posse).
- Values back to baseline within 1.5 h, hence 90 minutes' minimum monitoring (§2.3).
- Given and monitored by licensed medical staff (§3.3).
- Pre-dose hold at 160/100 (design suggestion, §2.4).
- Fasting 6 h solids, 2 h clear liquids, and a driver (§2.6).
"""

from __future__ import annotations

from kapt_api.auth.models import Role
from kapt_api.clinics.models import RoomKind
from kapt_api.protocols.checklist import TimepointKind
from kapt_api.protocols.definition import Medication, PreparationInstructions, Route
from kapt_api.protocols.measurements import Measurement as M
from kapt_api.protocols.sequencing import Phase
from kapt_api.protocols.session_types import SessionKind
from kapt_api.protocols.templates.building_blocks import (
    HOLD_SUGGESTED,
    SOURCE_HOLD,
    VITALS,
    ProtocolTemplate,
    dose_sequencing,
    monitoring_checklist,
    session,
    template_definition,
    timepoint,
)

SOURCES = (
    "6 infusions over about 3 weeks, 2-3 a week: Midwest Hearts and Minds, "
    "https://www.midwestheartsandminds.com/ketamine-infusion-1",
    "0.5 mg/kg over 40 minutes: Andrade, J Clin Psychiatry 2017;78(7):e852, "
    "https://dev2.psychiatrist.com/jcp/ketamine-for-depression-dosing-administration-and-duration",
    "BP every 10 minutes during the infusion and every 15 minutes after: Riva-Posse et "
    "al., J Affect Disord 2018 (684 infusions)",
    "Values back to baseline within 1.5 h (90-minute minimum monitoring): Szarmach et "
    "al. 2020, https://www.dovepress.com/metabolic-risk-factors-and-cardiovascular-"
    "safety-in-ketamine-use-for-t-peer-reviewed-article-NDT",
    "Given and monitored by licensed medical staff: DOMAIN.md §3.3 (state scope-of-"
    "practice rules vary)",
    SOURCE_HOLD,
    "Fasting 6 h solids, 2 h clear liquids; a driver: AMG Ketamine IV, "
    "https://www.amg-ketamine.com/treatment-day",
)

PRESCRIBER, MEDICAL = {Role.PRESCRIBER}, {Role.NURSE, Role.PRESCRIBER}
SESSIONS = (
    session(SessionKind.INTAKE, 60, RoomKind.THERAPY, PRESCRIBER),
    session(SessionKind.DOSING, 120, RoomKind.DOSING, MEDICAL, buffer=30, cancellation=48),
    session(SessionKind.FOLLOW_UP, 30, RoomKind.THERAPY, PRESCRIBER),
)
SEQUENCING = dose_sequencing(6, Phase("Induction series", 1, 3, 2), max_per_7_days=3)
# Blood pressure, pulse and oxygen while the drug runs in; sedation and breathing after.
INFUSION_VITALS = (M.SYSTOLIC_BP, M.DIASTOLIC_BP, M.HEART_RATE, M.SPO2)
DURING_INFUSION = timepoint(
    "during_infusion",
    "Every 10 minutes during the 40-minute infusion",
    TimepointKind.EVERY,
    *INFUSION_VITALS,
    offset_minutes=10,
    every_minutes=10,
    until_minutes=40,
)
AFTER_INFUSION = timepoint(
    "after_infusion",
    "Every 15 minutes after the infusion",
    TimepointKind.EVERY,
    *VITALS,
    M.MOAA_S,
    offset_minutes=55,
    every_minutes=15,
)
CHECKLIST = monitoring_checklist(90, DURING_INFUSION, AFTER_INFUSION, hold=HOLD_SUGGESTED)
PREPARATION = PreparationInstructions(
    fasting_solids_minutes=360, fasting_liquids_minutes=120, driver_required=True
)

TEMPLATE = ProtocolTemplate(
    key="iv-racemic-series",
    name="IV racemic ketamine series (6 infusions over 3 weeks)",
    description=(
        "Off-label racemic ketamine infusions: six 40-minute infusions over three weeks, "
        "given and monitored by a nurse or prescriber."
    ),
    medication=Medication.RACEMIC_KETAMINE,
    route=Route.INTRAVENOUS,
    definition=template_definition(SESSIONS, SEQUENCING, CHECKLIST, PREPARATION, SOURCES),
)
