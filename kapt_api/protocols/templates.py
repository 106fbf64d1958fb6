"""The built-in protocol templates an administrator copies and adapts.

Every number comes from DOMAIN.md, which cites its source; each template lists those
sources and says that a medical director approves the values before clinical use.
Esketamine values are the label's and the REMS's (DOMAIN.md §1); racemic ketamine has
no regulatory protocol, so its values are published practice or, where DOMAIN.md says
so, our own suggestion (DOMAIN.md §2).
"""

from __future__ import annotations

from dataclasses import dataclass

from kapt_api.auth.models import Role
from kapt_api.clinics.models import RoomKind
from kapt_api.protocols.definition import (
    ALERT_AND_ORIENTED,
    ESCORT_PRESENT,
    NO_DRIVING_ACKNOWLEDGED,
    READINGS_WITHIN_RANGE,
    AlertAction,
    ChecklistMeasurement,
    ChecklistTemplate,
    DischargeCriterion,
    HourWindow,
    Medication,
    Phase,
    PreparationInstructions,
    ProtocolDefinition,
    RoleRequirement,
    Route,
    Sequencing,
    SessionKind,
    SessionType,
    Severity,
    Threshold,
    ThresholdPhase,
    Timepoint,
    TimepointKind,
)
from kapt_api.protocols.label_rules import (
    ESKETAMINE_MAX_DOSES_PER_7_DAYS,
    ESKETAMINE_MIN_MONITORING_MINUTES,
    ESKETAMINE_PRE_DOSE_DIASTOLIC,
    ESKETAMINE_PRE_DOSE_SYSTOLIC,
)
from kapt_api.protocols.measurements import Measurement as M
from kapt_api.protocols.reminder_text import default_policy

APPROVAL_NOTE = (
    "Defaults taken from the sources listed; a medical director must approve them "
    "before clinical use."
)
SOURCE_MAYO = (
    "Alert thresholds: Mayo Clinic ketamine trial NCT05803551 vital-sign limits "
    "(SpO2 < 95%, SBP < 90 or > 180, HR < 50 or > 120, RR < 10 or > 30), "
    "https://trials.co/clinical-trials-details/-/NCT05803551; hypertension notifies the "
    "prescriber rather than stopping (Yip et al. 2022, https://pmc.ncbi.nlm.nih.gov/articles/PMC9556663)."
)
SOURCE_SEDATION = (
    "MOAA/S <= 2 escalates: design suggestion in DOMAIN.md §2.4, not a guideline value."
)
SOURCE_REMINDERS = (
    "Reminders 72 h and 24 h before dosing (Steiner et al., Am J Manag Care 2018, "
    "https://pubmed.ncbi.nlm.nih.gov/30130032/; KAP 48-h cancellation windows); "
    "PHI-safe wording per HHS reminder guidance and TCPA limits (DOMAIN.md §5)."
)
SOURCE_SPACING = (
    "Minimum 48 h between doses: design suggestion (DOMAIN.md §2.2); no authoritative "
    "figure exists."
)
SOURCE_HOLD = "Pre-dose hold at SBP >= 160 or DBP >= 100: design suggestion (DOMAIN.md §2.4)"
# Alert above 159/99 mmHg, that is at 160/100 and over.
HOLD_SUGGESTED = (159, 99)
SOURCE_KAP = (
    "KAP structure (intake, 1-3 preparation sessions, therapist present through 2-3 h "
    "dosing sessions, integration after each dose, about 6 doses over 3-8 weeks): "
    "Dore et al., J Psychoactive Drugs 2019;51(2):189-198, "
    "https://www.researchgate.net/publication/332040175; Balance Health & Healing, "
    "https://balancehealthandhealing.com/faq-what-should-i-expect-with-ketamine-therapy/; "
    "Hanya House, http://hanya.house/package/ketamine-assisted-therapy-program/; "
    "48-h cancellation notice, http://philwolfsonmd.com/ketamine-assisted-psychotherapy/."
)


@dataclass(frozen=True)
class ProtocolTemplate:
    key: str
    name: str
    description: str
    medication: Medication
    route: Route
    definition: ProtocolDefinition


def _session(
    kind: SessionKind,
    minutes: int,
    room: RoomKind,
    *roles: set[Role],
    buffer: int = 10,
    notice: int = 24,
    cancellation: int = 24,
) -> SessionType:
    return SessionType(
        kind=kind,
        duration_minutes=minutes,
        room_kind=room,
        required_roles=tuple(RoleRequirement(frozenset(any_of)) for any_of in roles),
        buffer_after_minutes=buffer,
        min_notice_hours=notice,
        cancellation_notice_hours=cancellation,
    )


def _measured(*measurements: M) -> tuple[ChecklistMeasurement, ...]:
    items = []
    for measurement in measurements:
        plausible = measurement.info.plausible
        low, high = (float(plausible[0]), float(plausible[1])) if plausible else (None, None)
        items.append(ChecklistMeasurement(measurement, low, high))
    return tuple(items)


def _alert(
    measurement: M,
    low: float | None,
    high: float | None,
    severity: Severity,
    phase: ThresholdPhase = ThresholdPhase.ANY,
    action: AlertAction = AlertAction.NOTIFY_PRESCRIBER,
) -> Threshold:
    def number(value: float | None) -> float | None:
        return None if value is None else float(value)

    return Threshold(measurement, number(low), number(high), severity, action, phase)


def _alerts(*, hold_systolic: float, hold_diastolic: float) -> tuple[Threshold, ...]:
    """A pre-dose hold for the prescriber's decision (never an automatic cancellation),
    the Mayo in-session set, and MOAA/S <= 2."""
    pre, hold = ThresholdPhase.PRE_DOSE, AlertAction.PRE_DOSE_HOLD
    return (
        _alert(M.SYSTOLIC_BP, None, hold_systolic, Severity.WARNING, pre, hold),
        _alert(M.DIASTOLIC_BP, None, hold_diastolic, Severity.WARNING, pre, hold),
        _alert(M.SYSTOLIC_BP, 90, 180, Severity.CRITICAL),
        _alert(M.HEART_RATE, 50, 120, Severity.WARNING),
        _alert(M.SPO2, 95, None, Severity.WARNING),
        _alert(M.RESPIRATORY_RATE, 10, 30, Severity.CRITICAL),
        _alert(M.MOAA_S, 3, None, Severity.CRITICAL, ThresholdPhase.AFTER_DOSE),
    )


DISCHARGE = (
    DischargeCriterion(READINGS_WITHIN_RANGE, "Readings back within the acceptable range"),
    DischargeCriterion(ALERT_AND_ORIENTED, "Alert and oriented; sedation and dissociation gone"),
    DischargeCriterion(ESCORT_PRESENT, "Leaving with a responsible adult who drives"),
    DischargeCriterion(
        NO_DRIVING_ACKNOWLEDGED,
        "Acknowledges no driving or machinery until the next day after a restful sleep",
    ),
)
VITALS = (M.SYSTOLIC_BP, M.DIASTOLIC_BP, M.HEART_RATE, M.SPO2, M.RESPIRATORY_RATE)
ALL_MEASURED = (*VITALS, M.MOAA_S, M.DISSOCIATION, M.NOTE)


def _timepoint(key: str, label: str, kind: TimepointKind, *ms: M, **timing: int) -> Timepoint:
    return Timepoint(key=key, label=label, kind=kind, measurements=ms, **timing)


def _bp_peak(label: str, *extra: M) -> Timepoint:
    # Blood pressure peaks 30-40 minutes after the dose (DOMAIN.md §1.3, §2.3).
    return _timepoint(
        "bp_40_min", label, TimepointKind.AT, *VITALS, M.MOAA_S, *extra, offset_minutes=40
    )


def _every_15(label: str) -> Timepoint:
    return _timepoint(
        "every_15_min",
        label,
        TimepointKind.EVERY,
        M.HEART_RATE,
        M.SPO2,
        M.MOAA_S,
        offset_minutes=15,
        every_minutes=15,
    )


def _checklist(minimum: int, *during: Timepoint, hold: tuple[float, float]) -> ChecklistTemplate:
    """Baseline vitals before the dose, the given timepoints, everything before discharge."""
    baseline = _timepoint("baseline", "Before the dose", TimepointKind.PRE_DOSE, *VITALS)
    discharge = _timepoint(
        "discharge", "Before discharge", TimepointKind.BEFORE_DISCHARGE, *ALL_MEASURED
    )
    return ChecklistTemplate(
        min_monitoring_minutes=minimum,
        measurements=_measured(*ALL_MEASURED),
        timepoints=(baseline, *during, discharge),
        thresholds=_alerts(hold_systolic=hold[0], hold_diastolic=hold[1]),
        discharge_criteria=DISCHARGE,
    )


def _sequencing(
    doses: int,
    *phases: Phase,
    max_per_7_days: int,
    preparation: int = 0,
    integration_window: HourWindow | None = None,
) -> Sequencing:
    """Doses 48 h apart at least; with an integration window, integration after every
    dose and the next dose only after it."""
    integration = integration_window is not None
    return Sequencing(
        preparation_sessions_required=preparation,
        dose_count=doses,
        phases=phases,
        min_hours_between_doses=48,
        max_doses_per_7_days=max_per_7_days,
        integration_required=integration,
        integration_window_hours=integration_window,
        next_dose_requires_integration_done=integration,
    )


def _definition(
    sessions: tuple[SessionType, ...],
    sequencing: Sequencing,
    checklist: ChecklistTemplate,
    preparation: PreparationInstructions,
    sources: tuple[str, ...],
) -> ProtocolDefinition:
    return ProtocolDefinition(
        session_types=sessions,
        sequencing=sequencing,
        checklist=checklist,
        reminder_policy=default_policy(s.kind for s in sessions),
        preparation=preparation,
        sources=(*sources, SOURCE_MAYO, SOURCE_SEDATION, SOURCE_SPACING, SOURCE_REMINDERS),
        approval_note=APPROVAL_NOTE,
    )


def _esketamine() -> ProtocolTemplate:
    prescriber = {Role.PRESCRIBER}
    definition = _definition(
        (
            _session(SessionKind.INTAKE, 60, RoomKind.THERAPY, prescriber),
            # 2 h monitoring from the first device plus administration with 5-minute rests.
            _session(
                SessionKind.DOSING, 150, RoomKind.DOSING, prescriber, buffer=30, cancellation=48
            ),
            _session(SessionKind.FOLLOW_UP, 30, RoomKind.THERAPY, prescriber),
        ),
        _sequencing(
            12,
            Phase("Induction, twice weekly", 1, 4, 2),
            Phase("Maintenance, weekly", 5, 8, 1),
            Phase("Maintenance, weekly or every 2 weeks", 9, None, 1),
            max_per_7_days=ESKETAMINE_MAX_DOSES_PER_7_DAYS,
        ),
        _checklist(
            ESKETAMINE_MIN_MONITORING_MINUTES,
            _bp_peak(
                "About 40 minutes after the first device (blood pressure peak)", M.DISSOCIATION
            ),
            _every_15("Pulse oximetry and sedation every 15 minutes"),
            hold=(ESKETAMINE_PRE_DOSE_SYSTOLIC, ESKETAMINE_PRE_DOSE_DIASTOLIC),
        ),
        PreparationInstructions(
            fasting_solids_minutes=120,
            fasting_liquids_minutes=30,
            driver_required=True,
            other_instructions=(
                "If you use a nasal steroid or decongestant spray, use it at least "
                "1 hour before your appointment."
            ),
        ),
        (
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
            "Chair time about 2-2.5 h: "
            "https://www.beinghealth.co/blog/spravato-treatment-first-8-weeks",
        ),
    )
    return ProtocolTemplate(
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
        definition=definition,
    )


def _iv_series() -> ProtocolTemplate:
    prescriber, medical = {Role.PRESCRIBER}, {Role.NURSE, Role.PRESCRIBER}
    during = (M.SYSTOLIC_BP, M.DIASTOLIC_BP, M.HEART_RATE, M.SPO2)
    definition = _definition(
        (
            _session(SessionKind.INTAKE, 60, RoomKind.THERAPY, prescriber),
            _session(SessionKind.DOSING, 120, RoomKind.DOSING, medical, buffer=30, cancellation=48),
            _session(SessionKind.FOLLOW_UP, 30, RoomKind.THERAPY, prescriber),
        ),
        _sequencing(6, Phase("Induction series", 1, 3, 2), max_per_7_days=3),
        _checklist(
            90,
            _timepoint(
                "during_infusion",
                "Every 10 minutes during the 40-minute infusion",
                TimepointKind.EVERY,
                *during,
                offset_minutes=10,
                every_minutes=10,
                until_minutes=40,
            ),
            _timepoint(
                "after_infusion",
                "Every 15 minutes after the infusion",
                TimepointKind.EVERY,
                *VITALS,
                M.MOAA_S,
                offset_minutes=55,
                every_minutes=15,
            ),
            hold=HOLD_SUGGESTED,
        ),
        PreparationInstructions(
            fasting_solids_minutes=360, fasting_liquids_minutes=120, driver_required=True
        ),
        (
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
        ),
    )
    return ProtocolTemplate(
        key="iv-racemic-series",
        name="IV racemic ketamine series (6 infusions over 3 weeks)",
        description=(
            "Off-label racemic ketamine infusions: six 40-minute infusions over three weeks, "
            "given and monitored by a nurse or prescriber."
        ),
        medication=Medication.RACEMIC_KETAMINE,
        route=Route.INTRAVENOUS,
        definition=definition,
    )


def _kap(
    *,
    key: str,
    name: str,
    description: str,
    route: Route,
    dosing_roles: tuple[set[Role], ...],
    intake_room: RoomKind,
    intake_roles: tuple[set[Role], ...],
    window_end: int,
    preparation: PreparationInstructions,
    sources: tuple[str, ...],
) -> ProtocolTemplate:
    therapist = {Role.THERAPIST}
    definition = _definition(
        (
            _session(SessionKind.INTAKE, 90, intake_room, *intake_roles),
            _session(SessionKind.PREPARATION, 60, RoomKind.THERAPY, therapist),
            _session(
                SessionKind.DOSING, 150, RoomKind.DOSING, *dosing_roles, buffer=30, cancellation=48
            ),
            _session(SessionKind.INTEGRATION, 60, RoomKind.THERAPY, therapist),
        ),
        _sequencing(
            6,
            Phase("Weekly dosing, integration between doses", 1, 6, 1),
            max_per_7_days=2,
            preparation=2,
            integration_window=HourWindow(24, window_end),
        ),
        _checklist(
            120,
            _bp_peak("About 40 minutes after the dose (blood pressure peak)"),
            _every_15("Sedation and oxygen every 15 minutes"),
            hold=HOLD_SUGGESTED,
        ),
        preparation,
        (
            *sources,
            SOURCE_KAP,
            "BP peak 30-40 minutes after the dose: Gen Hosp Psychiatry 2024 (Yale, 2,342 "
            "infusions), https://litmetric.com/detail/38991311/Blood-pressure-changes-during-"
            "ketamine-infusion-for-the-treatment-of-depression; 2 h minimum monitoring for a "
            "2-3 h session: design suggestion (DOMAIN.md §3.2)",
            SOURCE_HOLD,
        ),
    )
    return ProtocolTemplate(
        key=key,
        name=name,
        description=description,
        medication=Medication.RACEMIC_KETAMINE,
        route=route,
        definition=definition,
    )


def _im_kap() -> ProtocolTemplate:
    return _kap(
        key="im-kap",
        name="IM KAP",
        description=(
            "Ketamine-assisted psychotherapy with intramuscular dosing: intake, two "
            "preparation sessions, six weekly dosing sessions with a therapist and a nurse or "
            "prescriber present, and integration 1-3 days after each dose."
        ),
        route=Route.INTRAMUSCULAR,
        dosing_roles=({Role.NURSE, Role.PRESCRIBER}, {Role.THERAPIST}),
        intake_room=RoomKind.THERAPY,
        intake_roles=({Role.PRESCRIBER}, {Role.THERAPIST}),
        window_end=72,
        preparation=PreparationInstructions(
            fasting_solids_minutes=360, fasting_liquids_minutes=120, driver_required=True
        ),
        sources=(
            "IM given and monitored by licensed medical staff (nurse or prescriber), therapist "
            "present throughout: DOMAIN.md §3.3; Calliope, https://calliope.health/preparing-"
            "for-your-ketamine-journey-and-group-experience/",
            "Integration within 1-3 days after IM/IV dosing: Balance Health & Healing, "
            "https://balancehealthandhealing.com/faq-what-should-i-expect-with-ketamine-therapy/",
            "Fasting 6 h solids, 2 h clear liquids: Balance Health & Healing, "
            "https://balancehealthandhealing.com/faq-how-do-i-prepare-for-ketamine-therapy/",
        ),
    )


def _sublingual_kap() -> ProtocolTemplate:
    return _kap(
        key="sublingual-kap",
        name="Sublingual KAP",
        description=(
            "Ketamine-assisted psychotherapy with sublingual lozenges: telehealth intake with "
            "the prescriber, two preparation sessions, six weekly dosing sessions with the "
            "therapist present, and integration 1-7 days after each dose."
        ),
        route=Route.SUBLINGUAL,
        dosing_roles=({Role.THERAPIST},),
        intake_room=RoomKind.TELEHEALTH,
        intake_roles=({Role.PRESCRIBER},),
        window_end=168,
        preparation=PreparationInstructions(
            fasting_solids_minutes=180, fasting_liquids_minutes=60, driver_required=True
        ),
        sources=(
            "Therapist present for the whole dosing session with a remote prescriber; vitals "
            "before dosing and at the end: Journey Clinical, https://journeyclinical.zendesk.com"
            "/hc/en-us/articles/34352436570644-Overview-Journey-Clinical-s-Offerings",
            "Sublingual onset 10-30 min, peak about 40 min, effects 45-80 min: Andrade, J Clin "
            "Psychiatry 2019, https://www.psychiatrist.com/jcp/depression/oral-ketamine-for-"
            "depression-practical-considerations/",
            "Integration within 1-7 days after oral dosing: Balance Health & Healing, "
            "https://balancehealthandhealing.com/faq-what-should-i-expect-with-ketamine-therapy/",
            "Fasting 3 h food, 1 h liquids: Flow Wellness, https://theflowwellness.com/"
            "ketamine-oral-dissolving-tablet-odt-treatment-information-and-instructions/",
        ),
    )


TEMPLATES: dict[str, ProtocolTemplate] = {
    t.key: t for t in (_esketamine(), _iv_series(), _im_kap(), _sublingual_kap())
}


def find_template(key: str) -> ProtocolTemplate | None:
    return TEMPLATES.get(key)
