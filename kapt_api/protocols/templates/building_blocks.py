"""What the built-in templates are built from: the approval note, the sources every
template shares, the session, checklist and sequencing shapes, and the KAP pattern the
two KAP templates follow.

Shared sources: alert thresholds from the Mayo trial (DOMAIN.md §0.5, §2.4), MOAA/S <= 2
escalating and the pre-dose hold at 160/100 (design suggestions, §2.4), 48 h between
doses (design suggestion, §2.2), reminders 72 h and 24 h before dosing (§0.10, §5).
"""

from __future__ import annotations

from dataclasses import dataclass

from kapt_api.auth.models import Role
from kapt_api.clinics.models import RoomKind
from kapt_api.protocols.checklist import (
    ALERT_AND_ORIENTED,
    ESCORT_PRESENT,
    NO_DRIVING_ACKNOWLEDGED,
    READINGS_WITHIN_RANGE,
    AlertAction,
    ChecklistMeasurement,
    ChecklistTemplate,
    DischargeCriterion,
    Severity,
    Threshold,
    ThresholdPhase,
    Timepoint,
    TimepointKind,
)
from kapt_api.protocols.definition import (
    Medication,
    PreparationInstructions,
    ProtocolDefinition,
    Route,
)
from kapt_api.protocols.measurements import Measurement as M
from kapt_api.protocols.reminder_text import default_policy
from kapt_api.protocols.sequencing import HourWindow, Phase, Sequencing
from kapt_api.protocols.session_types import RoleRequirement, SessionKind, SessionType

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
SOURCE_KAP_MONITORING = (
    "BP peak 30-40 minutes after the dose: Gen Hosp Psychiatry 2024 (Yale, 2,342 "
    "infusions), https://litmetric.com/detail/38991311/Blood-pressure-changes-during-"
    "ketamine-infusion-for-the-treatment-of-depression; 2 h minimum monitoring for a "
    "2-3 h session: design suggestion (DOMAIN.md §3.2)"
)


@dataclass(frozen=True)
class ProtocolTemplate:
    key: str
    name: str
    description: str
    medication: Medication
    route: Route
    definition: ProtocolDefinition


def session(
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


def timepoint(key: str, label: str, kind: TimepointKind, *ms: M, **timing: int) -> Timepoint:
    return Timepoint(key=key, label=label, kind=kind, measurements=ms, **timing)


def bp_peak(label: str, *extra: M) -> Timepoint:
    # Blood pressure peaks 30-40 minutes after the dose (DOMAIN.md §0.4, §1.3, §2.3): the
    # label's check is "about 40 minutes", so a reading 30-50 minutes after the dose is it
    # (±10); one taken earlier misses the peak and is filed unscheduled.
    return timepoint(
        "bp_40_min",
        label,
        TimepointKind.AT,
        *VITALS,
        M.MOAA_S,
        *extra,
        offset_minutes=40,
        tolerance_minutes=10,
    )


def every_15(label: str) -> Timepoint:
    return timepoint(
        "every_15_min",
        label,
        TimepointKind.EVERY,
        M.HEART_RATE,
        M.SPO2,
        M.MOAA_S,
        offset_minutes=15,
        every_minutes=15,
    )


def monitoring_checklist(
    minimum: int, *during: Timepoint, hold: tuple[float, float]
) -> ChecklistTemplate:
    """Baseline vitals before the dose, the given timepoints, everything before discharge."""
    baseline = timepoint("baseline", "Before the dose", TimepointKind.PRE_DOSE, *VITALS)
    discharge = timepoint(
        "discharge", "Before discharge", TimepointKind.BEFORE_DISCHARGE, *ALL_MEASURED
    )
    return ChecklistTemplate(
        min_monitoring_minutes=minimum,
        measurements=_measured(*ALL_MEASURED),
        timepoints=(baseline, *during, discharge),
        thresholds=_alerts(hold_systolic=hold[0], hold_diastolic=hold[1]),
        discharge_criteria=DISCHARGE,
    )


def dose_sequencing(
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


def template_definition(
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


def kap_definition(
    *,
    dosing_roles: tuple[set[Role], ...],
    intake_room: RoomKind,
    intake_roles: tuple[set[Role], ...],
    window_end: int,
    preparation: PreparationInstructions,
    sources: tuple[str, ...],
) -> ProtocolDefinition:
    """KAP (DOMAIN.md §0.6, §3.2): intake, two preparation sessions, six weekly doses with
    a therapist present, each followed by integration from 24 h to window_end hours."""
    return template_definition(
        _kap_sessions(dosing_roles, intake_room, intake_roles),
        dose_sequencing(
            6,
            Phase("Weekly dosing, integration between doses", 1, 6, 1),
            max_per_7_days=2,
            preparation=2,
            integration_window=HourWindow(24, window_end),
        ),
        monitoring_checklist(
            120,
            bp_peak("About 40 minutes after the dose (blood pressure peak)"),
            every_15("Sedation and oxygen every 15 minutes"),
            hold=HOLD_SUGGESTED,
        ),
        preparation,
        (*sources, SOURCE_KAP, SOURCE_KAP_MONITORING, SOURCE_HOLD),
    )


def _kap_sessions(
    dosing_roles: tuple[set[Role], ...],
    intake_room: RoomKind,
    intake_roles: tuple[set[Role], ...],
) -> tuple[SessionType, ...]:
    therapist = {Role.THERAPIST}
    return (
        session(SessionKind.INTAKE, 90, intake_room, *intake_roles),
        session(SessionKind.PREPARATION, 60, RoomKind.THERAPY, therapist),
        session(
            SessionKind.DOSING, 150, RoomKind.DOSING, *dosing_roles, buffer=30, cancellation=48
        ),
        session(SessionKind.INTEGRATION, 60, RoomKind.THERAPY, therapist),
    )
