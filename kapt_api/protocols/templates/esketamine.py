"""Esketamine nasal spray (SPRAVATO) under the REMS: the label's and the REMS's values
(DOMAIN.md §0.2, §0.3, §1), which a clinic's copy may tighten but never loosen
(label_rules checks them).

- Prescriber on site, a pulse oximeter, monitoring for at least 2 hours and until
  sedation, dissociation and respiratory depression resolve (§1.1, §1.4).
- Blood pressure before the dose, about 40 minutes after and before discharge; a
  pre-dose BP over 140/90 is flagged for the prescriber's decision, never an automatic
  cancellation (§1.3).
- Weeks 1-4 twice weekly, weeks 5-8 weekly, week 9 on weekly or every 2 weeks (§1.5).
- No food 2 h and no liquids 30 min before; nasal steroid or decongestant 1 h before;
  no driving until the next day after restful sleep (§1.4).
- Chair time about 2-2.5 h (§1.7, practice).
"""

from __future__ import annotations

from kapt_api.auth.models import Role
from kapt_api.clinics.models import RoomKind
from kapt_api.protocols.definition import Medication, PreparationInstructions, Route
from kapt_api.protocols.label_rules import (
    ESKETAMINE_MAX_DOSES_PER_7_DAYS,
    ESKETAMINE_MIN_MONITORING_MINUTES,
    ESKETAMINE_PRE_DOSE_DIASTOLIC,
    ESKETAMINE_PRE_DOSE_SYSTOLIC,
)
from kapt_api.protocols.measurements import Measurement as M
from kapt_api.protocols.sequencing import Phase
from kapt_api.protocols.session_types import SessionKind
from kapt_api.protocols.templates.building_blocks import (
    ProtocolTemplate,
    bp_peak,
    dose_sequencing,
    every_15,
    monitoring_checklist,
    session,
    template_definition,
)

SOURCES = (
    "Prescriber on site, healthcare providers and a pulse oximeter on site, monitoring "
    "for at least 2 hours and until sedation, dissociation and respiratory depression "
    "resolve: SPRAVATO REMS, https://www.accessdata.fda.gov/scripts/cder/rems/index.cfm"
    "?event=IndvRemsDetails.page&REMS=386",
    "Blood pressure before the dose, about 40 minutes after and before discharge; "
    "pulse oximetry every session; pre-dose BP > 140/90 flagged for the prescriber's "
    "decision: SPRAVATO label and https://www.spravatohcp.com/dosing-spravato-trd",
    "Weeks 1-4 twice weekly, weeks 5-8 weekly (12 doses, 8 of them induction), week "
    "9 on weekly or every 2 weeks, individualised to the least frequent dosing that "
    "keeps the response: SPRAVATO label, "
    "https://uat.mimsdev.com/hongkong/drug/info/spravato",
    "No food 2 h and no liquids 30 min before; nasal corticosteroid or decongestant "
    "1 h before; no driving until the next day after restful sleep: SPRAVATO label "
    "sections 2 and 17, https://www.droracle.ai/articles/538624/what-protocol-should-be-"
    "in-place-when-administering-spravato",
    "Chair time about 2-2.5 h: https://www.beinghealth.co/blog/spravato-treatment-first-8-weeks",
)

PRESCRIBER = {Role.PRESCRIBER}
SESSIONS = (
    session(SessionKind.INTAKE, 60, RoomKind.THERAPY, PRESCRIBER),
    # 2 h monitoring from the first device plus administration with 5-minute rests.
    session(SessionKind.DOSING, 150, RoomKind.DOSING, PRESCRIBER, buffer=30, cancellation=48),
    session(SessionKind.FOLLOW_UP, 30, RoomKind.THERAPY, PRESCRIBER),
)
SEQUENCING = dose_sequencing(
    12,
    Phase("Induction, twice weekly", 1, 4, 2),
    Phase("Maintenance, weekly", 5, 8, 1),
    Phase("Maintenance, weekly or every 2 weeks", 9, None, 1),
    max_per_7_days=ESKETAMINE_MAX_DOSES_PER_7_DAYS,
)
CHECKLIST = monitoring_checklist(
    ESKETAMINE_MIN_MONITORING_MINUTES,
    bp_peak("About 40 minutes after the first device (blood pressure peak)", M.DISSOCIATION),
    every_15("Pulse oximetry and sedation every 15 minutes"),
    hold=(ESKETAMINE_PRE_DOSE_SYSTOLIC, ESKETAMINE_PRE_DOSE_DIASTOLIC),
)
PREPARATION = PreparationInstructions(
    fasting_solids_minutes=120,
    fasting_liquids_minutes=30,
    driver_required=True,
    other_instructions=(
        "If you use a nasal steroid or decongestant spray, use it at least "
        "1 hour before your appointment."
    ),
)

TEMPLATE = ProtocolTemplate(
    key="esketamine-rems-induction",
    name="Esketamine nasal spray (REMS) induction",
    description=(
        "Esketamine nasal spray under the REMS: intake, twice-weekly dosing in weeks 1-4, "
        "weekly in weeks 5-8, then maintenance at most weekly (weekly or every 2 weeks) "
        "until the course is ended; a prescriber on site and at least 2 hours of "
        "monitoring."
    ),
    medication=Medication.ESKETAMINE,
    route=Route.INTRANASAL,
    definition=template_definition(SESSIONS, SEQUENCING, CHECKLIST, PREPARATION, SOURCES),
)
