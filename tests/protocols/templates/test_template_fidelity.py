"""Each built-in template, field by field, against DOMAIN.md's facts (issue 12, item 5).

Every row is (path into the template's definition, the value DOMAIN.md gives, where
DOMAIN.md has it and the source it cites). A path is attribute names joined by dots;
`[...]` picks one item of a collection: a session type or reminder rule by session kind,
a timepoint by key, a threshold by `action:measurement`, a phase by position. Values are
compared as plain data (enums as their values, role sets as sorted lists);
`Includes(...)` asks only that the named items are among the template's.

Values DOMAIN.md calls a design suggestion are asserted too (they are what the template
claims to take), and their source says so. Where a template departs from DOMAIN.md the
value is not asserted here; it is listed at the end of this file for the protocol owner.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import Enum
from typing import Any

import pytest

from kapt_api.monitoring import rems, rems_rules
from kapt_api.monitoring import schemas as monitoring_schemas
from kapt_api.protocols import label_rules
from kapt_api.protocols.definition import (
    Medication,
    ProtocolDefinition,
    ReminderRule,
    RoleRequirement,
    Route,
    SessionType,
    Threshold,
    Timepoint,
)
from kapt_api.protocols.templates import TEMPLATES

ESKETAMINE, IV, IM_KAP, SUBLINGUAL_KAP = (
    "esketamine-rems-induction",
    "iv-racemic-series",
    "im-kap",
    "sublingual-kap",
)
BP = ("systolic_bp", "diastolic_bp")

# --- where DOMAIN.md has each fact, and the source it cites ----------------------------------

REMS_PAGE = (
    "DOMAIN.md §1.1 [LABEL/REG]: FDA REMS@FDA, SPRAVATO REMS, https://www.accessdata.fda.gov/"
    "scripts/cder/rems/index.cfm?event=IndvRemsDetails.page&REMS=386"
)
REMS_FORM = (
    "DOMAIN.md §1.2 [LABEL/REG]: REMS Patient Monitoring Form, https://jnjmedicalconnect.com/"
    "products/spravato/video-spravato-rems-patient-monitoring-form-overview ; "
    "https://manualspro.net/445029-spravato-patient-monitoring-form-instructions"
)
LABEL_BP = (
    "DOMAIN.md §1.3 [LABEL]: Spravato PI §2/§5, https://www.droracle.ai/articles/538624/"
    "what-protocol-should-be-in-place-when-administering-spravato ; "
    "https://www.spravatohcp.com/dosing-spravato-trd"
)
LABEL_PULSE_OX = (
    "DOMAIN.md §1.3 [LABEL/REG]: pulse oximetry at each session, "
    "https://www.spravatohcp.com/dosing-spravato-trd ; pulse oximeter onsite, REMS page"
)
LABEL_MONITORING = "DOMAIN.md §1.4 [LABEL]: monitor >= 2 h at each session, Spravato PI §5.1/5.2"
LABEL_DRIVING = (
    "DOMAIN.md §1.4 [LABEL]: no driving until the next day after restful sleep, PI §17 "
    "http://www.120ty.net/bencandy.php?aid=58243&fid=134&page=21"
)
LABEL_FASTING = (
    "DOMAIN.md §1.4 [LABEL]: no food >= 2 h, liquids >= 30 min, nasal steroid/decongestant "
    ">= 1 h before; PI §2 at https://www.droracle.ai/articles/538624/what-protocol-should-be-"
    "in-place-when-administering-spravato"
)
LABEL_SCHEDULE = (
    "DOMAIN.md §1.5 [LABEL]: weeks 1-4 twice weekly, weeks 5-8 once weekly, week 9+ every "
    "2 weeks or once weekly; MIMS HK https://uat.mimsdev.com/hongkong/drug/info/spravato"
)
LABEL_DEVICES = (
    "DOMAIN.md §1 [LABEL]: 28 mg per device, 56 mg = 2 devices, 84 mg = 3 devices; "
    "§1.5 doses 28/56/84 mg"
)
CHAIR_TIME = (
    "DOMAIN.md §1.7 [PRACTICE]: chair time about 2-2.5 h, "
    "https://www.beinghealth.co/blog/spravato-treatment-first-8-weeks"
)
NO_SESSIONS_AROUND_ESKETAMINE = (
    "DOMAIN.md §1 names no preparation or integration sessions for esketamine "
    "(label and REMS only); spec12 'Built-in templates'"
)
IV_SERIES = (
    "DOMAIN.md §2.2 [PRACTICE]: 6 infusions over about 3 weeks, 2-3 a week, Midwest Hearts "
    "and Minds https://www.midwestheartsandminds.com/ketamine-infusion-1"
)
IV_SERIES_ALONE = (
    "DOMAIN.md §2.2 [PRACTICE]: the IV series is infusions alone; preparation and integration "
    "are KAP structure (§3.2)"
)
SPACING = (
    "DOMAIN.md §2.2 *design suggestion*: no authoritative minimum between doses; "
    "configurable, default e.g. 48 h for KAP (24 h floor)"
)
IV_VITALS = (
    "DOMAIN.md §2.3 [PRACTICE]: BP every 10 min during the 40-min infusion and every 15 min "
    "after, Riva-Posse et al., J Affect Disord 2018, https://open-foundation.org/blood-"
    "pressure-safety-subanesthetic-ketamine-depression-report-684-infusions/"
)
IV_BASELINE = (
    "DOMAIN.md §2.3 [PRACTICE]: values back to baseline within 1.5 h, Szarmach et al. 2020, "
    "https://www.dovepress.com/metabolic-risk-factors-and-cardiovascular-safety-in-ketamine-"
    "use-for-t-peer-reviewed-article-NDT"
)
BP_PEAK = (
    "DOMAIN.md §2.3 [PRACTICE]: BP peaks at 30-40 min, Gen Hosp Psychiatry 2024 (Yale), "
    "https://litmetric.com/detail/38991311/Blood-pressure-changes-during-ketamine-infusion-"
    "for-the-treatment-of-depression ; §0.4"
)
VITALS_BEFORE_AFTER = (
    "DOMAIN.md §2.3 [PRACTICE]: vitals before dosing and at the end of the session, Journey "
    "Clinical https://journeyclinical.zendesk.com/hc/en-us/articles/20683746058900-Side-"
    "Effects-of-Ketamine"
)
MAYO = (
    "DOMAIN.md §2.4 / §0.5 [PRACTICE]: Mayo ketamine trial NCT05803551 limits SpO2 < 95%, "
    "SBP < 90 or > 180, HR < 50 or > 120, RR < 10 or > 30, "
    "https://trials.co/clinical-trials-details/-/NCT05803551"
)
HOLD_SUGGESTION = (
    "DOMAIN.md §2.4 *design suggestion*: pre-dose hold/flag at SBP >= 160 or DBP >= 100 "
    "(stored as high 159/99: above it alerts)"
)
SEDATION = "DOMAIN.md §2.4 *design suggestion*: MOAA/S <= 2 escalates (low 3: below it alerts)"
PRESCRIBER_DECIDES = (
    "DOMAIN.md §1.3 [LABEL] 'consider', and §2.3 Yip et al. 2022 "
    "https://pmc.ncbi.nlm.nih.gov/articles/PMC9556663: flag for the prescriber, never "
    "auto-cancel"
)
FASTING_IV = (
    "DOMAIN.md §2.6 [PRACTICE]: 6 h solids / 2 h clear liquids, AMG Ketamine IV "
    "https://www.amg-ketamine.com/treatment-day"
)
FASTING_KAP = (
    "DOMAIN.md §2.6 [PRACTICE]: 6 h solids / 2 h clear liquids, Balance Health KAP "
    "https://balancehealthandhealing.com/faq-how-do-i-prepare-for-ketamine-therapy/"
)
FASTING_ODT = (
    "DOMAIN.md §2.6 [PRACTICE]: 3 h food / 1 h liquids, Flow Wellness ODT https://"
    "theflowwellness.com/ketamine-oral-dissolving-tablet-odt-treatment-information-and-"
    "instructions/"
)
DRIVER = (
    "DOMAIN.md §2.6 [PRACTICE]: driver/escort mandatory, no driving 24 h / until next day "
    "(Nervana https://www.nervanamedical.com/s/ketaminedischarge ; Zen Psychiatric)"
)
KAP_COURSE = (
    "DOMAIN.md §3.2 [PRACTICE]: about 6 dosing sessions over 3-8 weeks, Hanya House "
    "http://hanya.house/package/ketamine-assisted-therapy-program/ ; Balance Health "
    "https://balancehealthandhealing.com/faq-what-should-i-expect-with-ketamine-therapy/"
)
KAP_PACE = (
    "DOMAIN.md §2.2 [PRACTICE]: 2-3 doses a week at most in induction; §6 '<= 2-3 doses/week'"
)
KAP_PREPARATION = (
    "DOMAIN.md §3.2 [PRACTICE]: 1-3 preparation sessions (Hanya House: 2 orientation "
    "sessions), Center Psychotherapy https://centerpsychotherapy.com/kap-process"
)
THERAPY_HOUR = "DOMAIN.md §3.2 [PRACTICE]: a standard ~53-min therapy hour (booked as 60 min)"
KAP_DOSING_LENGTH = (
    "DOMAIN.md §3.2 [PRACTICE]: dosing sessions 2-3 h (Temenos 2.5 h; Wolfson >= 2.5 h), "
    "https://temenos.center/what-to-expect-from-ketamine-assisted-psychotherapy"
)
KAP_MONITORING = (
    "templates/building_blocks.py: 2 h minimum monitoring for a 2-3 h dosing session, "
    "*design suggestion* resting on DOMAIN.md §3.2"
)
INTEGRATION_IM = (
    "DOMAIN.md §3.2 [PRACTICE]: integration within 1-3 days after IM/IV dosing, Balance "
    "Health https://balancehealthandhealing.com/faq-what-should-i-expect-with-ketamine-therapy/"
)
INTEGRATION_ORAL = (
    "DOMAIN.md §3.2 [PRACTICE]: integration within 1-7 days after oral dosing, Balance "
    "Health https://balancehealthandhealing.com/faq-what-should-i-expect-with-ketamine-therapy/"
)
INTEGRATION_ALTERNATES = (
    "DOMAIN.md §3.2 [PRACTICE]: integration alternates with dosing, often >= 1 per dose "
    "(§0.6), https://sageintegrativehealth.org/kat-test-test"
)
INTAKE = (
    "DOMAIN.md §3.2 [PRACTICE]: intake by prescriber and therapist, Journey Clinical "
    "https://www.journeyclinical.com/resources/doing-kap-with-journey-clinical"
)
INTAKE_TELEHEALTH = (
    "DOMAIN.md §3.2/§3.3 [PRACTICE]: prescriber intake often by telehealth, remote prescriber "
    "in the Journey Clinical model, https://journeyclinical.com/kap-101"
)
THERAPIST_THROUGHOUT = (
    "DOMAIN.md §3.3 [PRACTICE]: therapist runs preparation and integration and is present for "
    "the entire dosing session, https://journeyclinical.zendesk.com/hc/en-us/articles/"
    "34352436570644-Overview-Journey-Clinical-s-Offerings"
)
MEDICAL_STAFF = (
    "DOMAIN.md §3.3 [PRACTICE]: IM/IV given and monitored by licensed medical staff "
    "(physician/NP/RN/CRNA); Calliope https://calliope.health/preparing-for-your-ketamine-"
    "journey-and-group-experience/"
)
ORAL_THERAPIST_ONLY = (
    "DOMAIN.md §3.3 [PRACTICE]: oral/SL KAP often with only a therapist present and a remote "
    "prescriber, https://journeyclinical.com/kap-101"
)
CANCELLATION_48 = (
    "DOMAIN.md §3.1 [PRACTICE]: 48-hour cancellation notice for long dosing slots, Wolfson "
    "http://philwolfsonmd.com/ketamine-assisted-psychotherapy/ ; §5.3"
)
REMINDERS_DOSING = (
    "DOMAIN.md §5.3 [evidence] + design suggestion: dosing sessions T-72 h and T-24 h, "
    "Steiner et al., Am J Manag Care 2018, https://pubmed.ncbi.nlm.nih.gov/30130032/"
)
REMINDERS_THERAPY = (
    "DOMAIN.md §5.3 design suggestion: prep/integration therapy sessions T-48 h or T-24 h"
)
REMINDERS_PHI = (
    "DOMAIN.md §5.1 [REG]: never name the drug or treatment in SMS/subject, HHS FAQ "
    "https://www.hipaajournal.com/hipaa-compliant-appointment-reminders/"
)
ROUTE_ESKETAMINE = "DOMAIN.md §1 [LABEL]: Spravato = esketamine nasal spray"
ROUTE_RACEMIC = "DOMAIN.md §2 / §2.1 [PRACTICE]: racemic ketamine, off-label, by route"


@dataclass(frozen=True)
class Includes:
    """The template's value holds at least these items (a list, or words in a text)."""

    items: tuple[Any, ...]

    def __init__(self, *items: Any) -> None:
        object.__setattr__(self, "items", items)

    def missing_from(self, value: Any) -> list[Any]:
        return [item for item in self.items if item not in value]


@dataclass(frozen=True)
class Fact:
    path: str
    expected: Any
    source: str


def _dose_session(roles: list[list[str]], minutes: int, source: str) -> list[Fact]:
    return [
        Fact("session_types[dosing].required_roles", roles, source),
        Fact("session_types[dosing].duration_minutes", minutes, source),
        Fact("session_types[dosing].room_kind", "dosing", source),
    ]


def _bp_timepoints(source_before: str, source_after: str) -> list[Fact]:
    return [
        Fact("checklist.timepoints[baseline].kind", "pre_dose", source_before),
        Fact("checklist.timepoints[baseline].measurements", Includes(*BP), source_before),
        Fact("checklist.timepoints[discharge].kind", "before_discharge", source_after),
        Fact("checklist.timepoints[discharge].measurements", Includes(*BP), source_after),
    ]


def _thresholds(hold: tuple[float, float], hold_source: str) -> list[Fact]:
    return [
        Fact("checklist.thresholds[pre_dose_hold:systolic_bp].high", hold[0], hold_source),
        Fact("checklist.thresholds[pre_dose_hold:diastolic_bp].high", hold[1], hold_source),
        Fact("checklist.thresholds[pre_dose_hold:systolic_bp].phase", "pre_dose", hold_source),
        Fact("checklist.thresholds[pre_dose_hold:diastolic_bp].phase", "pre_dose", hold_source),
        Fact("checklist.thresholds[notify_prescriber:systolic_bp].low", 90.0, MAYO),
        Fact("checklist.thresholds[notify_prescriber:systolic_bp].high", 180.0, MAYO),
        Fact("checklist.thresholds[notify_prescriber:heart_rate].low", 50.0, MAYO),
        Fact("checklist.thresholds[notify_prescriber:heart_rate].high", 120.0, MAYO),
        Fact("checklist.thresholds[notify_prescriber:spo2].low", 95.0, MAYO),
        Fact("checklist.thresholds[notify_prescriber:respiratory_rate].low", 10.0, MAYO),
        Fact("checklist.thresholds[notify_prescriber:respiratory_rate].high", 30.0, MAYO),
        Fact("checklist.thresholds[notify_prescriber:moaa_s].low", 3.0, SEDATION),
    ]


def _reminders(*other_kinds: str) -> list[Fact]:
    facts = [
        Fact("reminder_policy.rules[dosing].offsets_hours", [72, 24], REMINDERS_DOSING),
        Fact("reminder_policy.rules[dosing].allow_clinical_terms", False, REMINDERS_PHI),
    ]
    for kind in other_kinds:
        facts.append(Fact(f"reminder_policy.rules[{kind}].offsets_hours", [24], REMINDERS_THERAPY))
    return facts


def _driver_and_discharge(source: str) -> list[Fact]:
    return [
        Fact("preparation.driver_required", True, source),
        Fact(
            "checklist.discharge_criteria[].key",
            Includes("escort_present", "no_driving_acknowledged"),
            source,
        ),
    ]


ESKETAMINE_FACTS = [
    Fact("sequencing.dose_count", 12, f"{LABEL_SCHEDULE}: 4 weeks x 2 + 4 weeks x 1"),
    Fact("sequencing.phases[0].name", "Induction, twice weekly", LABEL_SCHEDULE),
    Fact("sequencing.phases[0].first_week", 1, LABEL_SCHEDULE),
    Fact("sequencing.phases[0].last_week", 4, LABEL_SCHEDULE),
    Fact("sequencing.phases[0].doses_per_period", 2, LABEL_SCHEDULE),
    Fact("sequencing.phases[0].period_weeks", 1, LABEL_SCHEDULE),
    Fact("sequencing.phases[1].name", "Maintenance, weekly", LABEL_SCHEDULE),
    Fact("sequencing.phases[1].first_week", 5, LABEL_SCHEDULE),
    Fact("sequencing.phases[1].last_week", 8, LABEL_SCHEDULE),
    Fact("sequencing.phases[1].doses_per_period", 1, LABEL_SCHEDULE),
    Fact("sequencing.phases[1].period_weeks", 1, LABEL_SCHEDULE),
    # Week 9+: "every 2 weeks or once weekly"; the template allows the more frequent of the
    # two, open-ended (spec12: the lead adds this phase).
    Fact("sequencing.phases[2].name", "Maintenance, weekly or every 2 weeks", LABEL_SCHEDULE),
    Fact("sequencing.phases[2].first_week", 9, LABEL_SCHEDULE),
    Fact("sequencing.phases[2].last_week", None, f"{LABEL_SCHEDULE} (open-ended)"),
    Fact("sequencing.phases[2].doses_per_period", 1, LABEL_SCHEDULE),
    Fact("sequencing.phases[2].period_weeks", 1, LABEL_SCHEDULE),
    Fact(
        "sequencing.phases[].name",
        ["Induction, twice weekly", "Maintenance, weekly", "Maintenance, weekly or every 2 weeks"],
        LABEL_SCHEDULE,
    ),
    Fact("sequencing.max_doses_per_7_days", 2, f"{LABEL_SCHEDULE}: twice weekly at most"),
    Fact("sequencing.min_hours_between_doses", 48, SPACING),
    Fact("sequencing.preparation_sessions_required", 0, NO_SESSIONS_AROUND_ESKETAMINE),
    Fact("sequencing.integration_required", False, NO_SESSIONS_AROUND_ESKETAMINE),
    Fact("sequencing.integration_window_hours", None, NO_SESSIONS_AROUND_ESKETAMINE),
    Fact("sequencing.next_dose_requires_integration_done", False, NO_SESSIONS_AROUND_ESKETAMINE),
    *_dose_session([["prescriber"]], 150, f"{REMS_PAGE} (prescriber onsite); {CHAIR_TIME}"),
    Fact("session_types[dosing].cancellation_notice_hours", 48, CANCELLATION_48),
    Fact("checklist.min_monitoring_minutes", 120, f"{REMS_PAGE}; {LABEL_MONITORING}"),
    *_bp_timepoints(f"{LABEL_BP}; {REMS_FORM}", f"{LABEL_BP}; {REMS_FORM}"),
    Fact("checklist.timepoints[bp_40_min].kind", "at", LABEL_BP),
    Fact("checklist.timepoints[bp_40_min].offset_minutes", 40, f"{LABEL_BP}; {REMS_FORM}"),
    Fact("checklist.timepoints[bp_40_min].measurements", Includes(*BP), LABEL_BP),
    Fact("checklist.timepoints[baseline].measurements", Includes("spo2"), LABEL_PULSE_OX),
    Fact("checklist.timepoints[every_15_min].measurements", Includes("spo2"), LABEL_PULSE_OX),
    Fact("checklist.timepoints[discharge].measurements", Includes("spo2"), LABEL_PULSE_OX),
    *_thresholds((140.0, 90.0), f"{LABEL_BP}: pre-dose > 140/90 flagged"),
    Fact(
        "checklist.thresholds[pre_dose_hold:systolic_bp].action",
        "pre_dose_hold",
        PRESCRIBER_DECIDES,
    ),
    Fact("preparation.fasting_solids_minutes", 120, LABEL_FASTING),
    Fact("preparation.fasting_liquids_minutes", 30, LABEL_FASTING),
    Fact("preparation.other_instructions", Includes("nasal", "at least 1 hour"), LABEL_FASTING),
    *_driver_and_discharge(LABEL_DRIVING),
    *_reminders("intake", "follow_up"),
]

IV_FACTS = [
    Fact("sequencing.dose_count", 6, IV_SERIES),
    Fact("sequencing.phases[].name", ["Induction series"], IV_SERIES),
    Fact("sequencing.phases[0].first_week", 1, IV_SERIES),
    Fact("sequencing.phases[0].last_week", 3, IV_SERIES),
    Fact("sequencing.phases[0].doses_per_period", 2, f"{IV_SERIES}: 6 over 3 weeks"),
    Fact("sequencing.phases[0].period_weeks", 1, IV_SERIES),
    Fact("sequencing.max_doses_per_7_days", 3, f"{IV_SERIES}: 2-3 a week"),
    Fact("sequencing.min_hours_between_doses", 48, SPACING),
    Fact("sequencing.preparation_sessions_required", 0, IV_SERIES_ALONE),
    Fact("sequencing.integration_required", False, IV_SERIES_ALONE),
    Fact("session_types[dosing].required_roles", [["nurse", "prescriber"]], MEDICAL_STAFF),
    Fact("session_types[dosing].room_kind", "dosing", MEDICAL_STAFF),
    Fact("session_types[dosing].cancellation_notice_hours", 48, CANCELLATION_48),
    Fact("checklist.min_monitoring_minutes", 90, IV_BASELINE),
    *_bp_timepoints(VITALS_BEFORE_AFTER, VITALS_BEFORE_AFTER),
    Fact("checklist.timepoints[during_infusion].kind", "every", IV_VITALS),
    Fact("checklist.timepoints[during_infusion].every_minutes", 10, IV_VITALS),
    Fact("checklist.timepoints[during_infusion].until_minutes", 40, IV_VITALS),
    Fact("checklist.timepoints[during_infusion].measurements", Includes(*BP), IV_VITALS),
    Fact("checklist.timepoints[after_infusion].kind", "every", IV_VITALS),
    Fact("checklist.timepoints[after_infusion].every_minutes", 15, IV_VITALS),
    Fact("checklist.timepoints[after_infusion].offset_minutes", 55, f"{IV_VITALS}: 40 + 15"),
    Fact("checklist.timepoints[after_infusion].measurements", Includes(*BP), IV_VITALS),
    *_thresholds((159.0, 99.0), HOLD_SUGGESTION),
    Fact("preparation.fasting_solids_minutes", 360, FASTING_IV),
    Fact("preparation.fasting_liquids_minutes", 120, FASTING_IV),
    *_driver_and_discharge(DRIVER),
    *_reminders("intake", "follow_up"),
]


def _kap_facts(
    *,
    window_end: int,
    window_source: str,
    dosing_roles: list[list[str]],
    roles_source: str,
    fasting: tuple[int, int],
    fasting_source: str,
) -> list[Fact]:
    return [
        Fact("sequencing.dose_count", 6, KAP_COURSE),
        Fact("sequencing.phases[].name", ["Weekly dosing, integration between doses"], KAP_COURSE),
        Fact("sequencing.phases[0].first_week", 1, KAP_COURSE),
        Fact("sequencing.phases[0].last_week", 6, f"{KAP_COURSE}: 6 weeks, within 3-8"),
        Fact("sequencing.phases[0].doses_per_period", 1, KAP_COURSE),
        Fact("sequencing.phases[0].period_weeks", 1, KAP_COURSE),
        Fact("sequencing.max_doses_per_7_days", 2, KAP_PACE),
        Fact("sequencing.min_hours_between_doses", 48, SPACING),
        Fact("sequencing.preparation_sessions_required", 2, KAP_PREPARATION),
        Fact("sequencing.integration_required", True, INTEGRATION_ALTERNATES),
        Fact("sequencing.next_dose_requires_integration_done", True, INTEGRATION_ALTERNATES),
        Fact("sequencing.integration_window_hours.start", 24, window_source),
        Fact("sequencing.integration_window_hours.end", window_end, window_source),
        *_dose_session(dosing_roles, 150, f"{roles_source}; {KAP_DOSING_LENGTH}"),
        Fact("session_types[dosing].cancellation_notice_hours", 48, CANCELLATION_48),
        Fact("session_types[preparation].required_roles", [["therapist"]], THERAPIST_THROUGHOUT),
        Fact("session_types[preparation].duration_minutes", 60, THERAPY_HOUR),
        Fact("session_types[integration].required_roles", [["therapist"]], THERAPIST_THROUGHOUT),
        Fact("checklist.min_monitoring_minutes", 120, KAP_MONITORING),
        *_bp_timepoints(VITALS_BEFORE_AFTER, VITALS_BEFORE_AFTER),
        Fact("checklist.timepoints[bp_40_min].offset_minutes", 40, BP_PEAK),
        Fact("checklist.timepoints[bp_40_min].measurements", Includes(*BP), BP_PEAK),
        *_thresholds((159.0, 99.0), HOLD_SUGGESTION),
        Fact("preparation.fasting_solids_minutes", fasting[0], fasting_source),
        Fact("preparation.fasting_liquids_minutes", fasting[1], fasting_source),
        *_driver_and_discharge(DRIVER),
        *_reminders("intake", "preparation", "integration"),
    ]


IM_KAP_FACTS = [
    *_kap_facts(
        window_end=72,
        window_source=INTEGRATION_IM,
        dosing_roles=[["nurse", "prescriber"], ["therapist"]],
        roles_source=f"{MEDICAL_STAFF}; {THERAPIST_THROUGHOUT}",
        fasting=(360, 120),
        fasting_source=FASTING_KAP,
    ),
    Fact("session_types[intake].required_roles", [["prescriber"], ["therapist"]], INTAKE),
]

SUBLINGUAL_KAP_FACTS = [
    *_kap_facts(
        window_end=168,
        window_source=INTEGRATION_ORAL,
        dosing_roles=[["therapist"]],
        roles_source=ORAL_THERAPIST_ONLY,
        fasting=(180, 60),
        fasting_source=FASTING_ODT,
    ),
    Fact("session_types[intake].room_kind", "telehealth", INTAKE_TELEHEALTH),
    Fact("session_types[intake].required_roles", Includes(["prescriber"]), INTAKE_TELEHEALTH),
]

FACTS: dict[str, list[Fact]] = {
    ESKETAMINE: ESKETAMINE_FACTS,
    IV: IV_FACTS,
    IM_KAP: IM_KAP_FACTS,
    SUBLINGUAL_KAP: SUBLINGUAL_KAP_FACTS,
}
KINDS = {
    ESKETAMINE: (Medication.ESKETAMINE, Route.INTRANASAL, ROUTE_ESKETAMINE),
    IV: (Medication.RACEMIC_KETAMINE, Route.INTRAVENOUS, ROUTE_RACEMIC),
    IM_KAP: (Medication.RACEMIC_KETAMINE, Route.INTRAMUSCULAR, ROUTE_RACEMIC),
    SUBLINGUAL_KAP: (Medication.RACEMIC_KETAMINE, Route.SUBLINGUAL, ROUTE_RACEMIC),
}


# --- reading a path --------------------------------------------------------------------------


class NoSuchField(LookupError):
    pass


def _key_of(item: Any) -> str:
    if isinstance(item, SessionType):
        return item.kind.value
    if isinstance(item, ReminderRule):
        return item.session_kind.value
    if isinstance(item, Timepoint):
        return item.key
    if isinstance(item, Threshold):
        return f"{item.action.value}:{item.measurement.value}"
    raise NoSuchField(f"no key for {type(item).__name__}")


def _pick(collection: Any, key: str) -> Any:
    items = list(collection)
    if key.isdigit():
        if int(key) >= len(items):
            raise NoSuchField(f"[{key}] but there are only {len(items)}")
        return items[int(key)]
    found = [item for item in items if _key_of(item) == key]
    if len(found) != 1:
        raise NoSuchField(f"{len(found)} items keyed {key!r} among {[_key_of(i) for i in items]}")
    return found[0]


def value_at(definition: ProtocolDefinition, path: str) -> Any:
    """The plain value at `path`; `name[]` maps the rest of the path over a collection."""
    head, _, rest = path.partition(".")
    name, bracket, key = head.partition("[")
    if not hasattr(definition, name):
        raise NoSuchField(f"no field {name!r} on {type(definition).__name__}")
    here = getattr(definition, name)
    if bracket and key == "]":
        return [value_at(item, rest) if rest else _plain(item) for item in here]
    if bracket:
        here = _pick(here, key.rstrip("]"))
    return value_at(here, rest) if rest else _plain(here)


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, RoleRequirement):
        return _plain(value.any_of)
    if isinstance(value, frozenset | set):
        return sorted(_plain(v) for v in value)
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


# --- the tests -------------------------------------------------------------------------------


ROWS = [(key, fact) for key, facts in FACTS.items() for fact in facts]


def test_every_built_in_template_is_checked():
    assert set(FACTS) == set(TEMPLATES)


@pytest.mark.parametrize(("key", "fact"), ROWS, ids=[f"{key}:{fact.path}" for key, fact in ROWS])
def test_the_template_holds_domain_md_s_value(key: str, fact: Fact):
    definition = TEMPLATES[key].definition
    try:
        found = value_at(definition, fact.path)
    except NoSuchField as missing:
        pytest.fail(
            f"{key}: {fact.path} is missing ({missing}); DOMAIN.md says {fact.expected!r}. "
            f"Source: {fact.source}"
        )
    if isinstance(fact.expected, Includes):
        lacking = fact.expected.missing_from(found)
        assert not lacking, (
            f"{key}: {fact.path} is {found!r}, without {lacking!r} that DOMAIN.md asks for. "
            f"Source: {fact.source}"
        )
    else:
        assert found == fact.expected, (
            f"{key}: {fact.path} is {found!r}; DOMAIN.md says {fact.expected!r}. "
            f"Source: {fact.source}"
        )


@pytest.mark.parametrize("key", sorted(KINDS))
def test_the_template_names_its_medicine_and_route(key: str):
    medication, route, source = KINDS[key]
    template = TEMPLATES[key]
    assert (template.medication, template.route) == (medication, route), source


def test_the_open_ended_maintenance_phase_plans_no_fixed_doses():
    # DOMAIN.md §1.5 [LABEL]: week 9+ continues as long as it maintains response, so the
    # course's fixed dose count is the 8 induction + 4 weekly doses (spec12).
    sequencing = TEMPLATES[ESKETAMINE].definition.sequencing
    fixed = [p for p in sequencing.phases if p.last_week is not None]
    assert sum(p.dose_count for p in fixed) == sequencing.dose_count == 12, LABEL_SCHEDULE
    assert sequencing.phases[-1].last_week is None, LABEL_SCHEDULE


# The values a clinic's esketamine copy may tighten but never loosen, and the REMS
# record's numbers: these live beside the template (label_rules, monitoring) but are
# the same DOMAIN.md facts.
LABEL_VALUES = [
    (
        "label_rules.ESKETAMINE_MIN_MONITORING_MINUTES",
        label_rules.ESKETAMINE_MIN_MONITORING_MINUTES,
        120,
        f"{REMS_PAGE}; {LABEL_MONITORING}",
    ),
    (
        "label_rules.ESKETAMINE_BP_CHECK_MINUTES",
        label_rules.ESKETAMINE_BP_CHECK_MINUTES,
        40,
        LABEL_BP,
    ),
    (
        "label_rules.ESKETAMINE_PRE_DOSE_SYSTOLIC",
        label_rules.ESKETAMINE_PRE_DOSE_SYSTOLIC,
        140,
        LABEL_BP,
    ),
    (
        "label_rules.ESKETAMINE_PRE_DOSE_DIASTOLIC",
        label_rules.ESKETAMINE_PRE_DOSE_DIASTOLIC,
        90,
        LABEL_BP,
    ),
    (
        "label_rules.ESKETAMINE_MAX_DOSES_PER_7_DAYS",
        label_rules.ESKETAMINE_MAX_DOSES_PER_7_DAYS,
        2,
        LABEL_SCHEDULE,
    ),
    (
        "rems.SUBMIT_WITHIN",
        rems.SUBMIT_WITHIN,
        timedelta(days=7),
        f"{REMS_FORM}: Patient Monitoring Form submitted within 7 days",
    ),
    ("rems.BP_PEAK_MINUTES", rems.BP_PEAK_MINUTES, 40, f"{REMS_FORM}: BP 40 min post-dose"),
    (
        "rems.ADVERSE_EVENTS",
        rems.ADVERSE_EVENTS,
        ("sedation", "dissociation", "respiratory_depression", "bp_increase"),
        f"{REMS_FORM}: sedation, dissociation, respiratory depression, BP increase",
    ),
    ("rems_rules.MG_PER_DEVICE", rems_rules.MG_PER_DEVICE, 28, LABEL_DEVICES),
    ("monitoring.schemas.DOSES_MG", monitoring_schemas.DOSES_MG, [28, 56, 84], LABEL_DEVICES),
    (
        "rems_rules.FORM_MEDICATIONS",
        rems_rules.FORM_MEDICATIONS,
        ("benzodiazepines", "non_benzodiazepine_sedative_hypnotics", "psychostimulants", "maois"),
        f"{REMS_FORM}: concomitant medicines the 2024 form asks about",
    ),
]


@pytest.mark.parametrize(
    ("name", "found", "expected", "source"), LABEL_VALUES, ids=[row[0] for row in LABEL_VALUES]
)
def test_the_label_and_rems_numbers_beside_the_template(name, found, expected, source):
    assert found == expected, f"{name} is {found!r}; DOMAIN.md says {expected!r}. {source}"


# Where the templates depart from DOMAIN.md (not asserted above; for the protocol owner):
# - The in-session alert set is the Mayo trial's exclusion limits (§2.4, §0.5), not the
#   §2.4 design-suggestion set: SpO2 alerts below 95% rather than < 92% sustained, and
#   there is no in-session DBP > 110 alert.
# - Sublingual KAP's intake is the prescriber alone by telehealth; §3.2 / §0.6 describe
#   intake by prescriber and therapist (the therapist's psychosocial assessment).
# - The 5-minute rest between esketamine devices (§1 [LABEL]) is not checked against the
#   device times recorded (monitoring/rems_rules.device_time_problems checks order only).
