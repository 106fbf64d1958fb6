"""The esketamine label and REMS values a protocol may tighten but never loosen
(DOMAIN.md §0.2, §1.3, §1.4, §1.5)."""

from __future__ import annotations

from kapt_api.auth.models import Role
from kapt_api.protocols.checklist import (
    NO_DRIVING_ACKNOWLEDGED,
    AlertAction,
    ChecklistTemplate,
    ThresholdPhase,
    TimepointKind,
)
from kapt_api.protocols.definition import Medication, ProtocolDefinition
from kapt_api.protocols.measurements import Measurement
from kapt_api.protocols.problems import Problem
from kapt_api.protocols.session_types import SessionKind

ESKETAMINE_MIN_MONITORING_MINUTES = 120
ESKETAMINE_BP_CHECK_MINUTES = 40
ESKETAMINE_BP_CHECK_SLACK = 5
ESKETAMINE_PRE_DOSE_SYSTOLIC = 140
ESKETAMINE_PRE_DOSE_DIASTOLIC = 90
ESKETAMINE_MAX_DOSES_PER_7_DAYS = 2


def esketamine_label_problems(
    definition: ProtocolDefinition, *, medication: Medication
) -> list[Problem]:
    """The label and REMS values an esketamine protocol may tighten but never loosen."""
    if medication is not Medication.ESKETAMINE:
        return []
    checklist = definition.checklist
    problems: list[Problem] = []
    if checklist.min_monitoring_minutes < ESKETAMINE_MIN_MONITORING_MINUTES:
        problems.append(
            Problem(
                "checklist.min_monitoring_minutes",
                "The esketamine REMS requires at least 120 minutes of monitoring.",
            )
        )
    problems += _prescriber_on_site_problems(definition)
    if definition.sequencing.max_doses_per_7_days > ESKETAMINE_MAX_DOSES_PER_7_DAYS:
        problems.append(
            Problem(
                "sequencing.max_doses_per_7_days",
                "The esketamine label schedules at most two doses a week.",
            )
        )
    if NO_DRIVING_ACKNOWLEDGED not in {c.key for c in checklist.discharge_criteria}:
        problems.append(
            Problem(
                "checklist.discharge_criteria",
                f"Esketamine patients must not drive until the next day: add the "
                f"{NO_DRIVING_ACKNOWLEDGED} criterion.",
            )
        )
    return problems + _esketamine_monitoring_problems(checklist)


def _prescriber_on_site_problems(definition: ProtocolDefinition) -> list[Problem]:
    index = definition.session_type_index(SessionKind.DOSING)
    if index is not None and not any(
        r.any_of == {Role.PRESCRIBER} for r in definition.session_types[index].required_roles
    ):
        return [
            Problem(
                f"session_types.{index}.required_roles",
                "The esketamine REMS requires a prescriber on site: require a prescriber.",
            )
        ]
    return []


def _esketamine_monitoring_problems(checklist: ChecklistTemplate) -> list[Problem]:
    problems = _blood_pressure_timepoint_problems(checklist)
    if not any(Measurement.SPO2 in t.measurements for t in checklist.timepoints):
        problems.append(
            Problem(
                "checklist.timepoints",
                "The esketamine REMS requires pulse oximetry at every session: measure spo2.",
            )
        )
    return problems + _pre_dose_flag_problems(checklist)


def _blood_pressure_timepoint_problems(checklist: ChecklistTemplate) -> list[Problem]:
    """Blood pressure before the dose, about 40 minutes after and before discharge."""
    bp = {Measurement.SYSTOLIC_BP, Measurement.DIASTOLIC_BP}
    pre = [t for t in checklist.timepoints if t.kind is TimepointKind.PRE_DOSE]
    discharge = [t for t in checklist.timepoints if t.kind is TimepointKind.BEFORE_DISCHARGE]
    near_40 = [
        t
        for t in checklist.timepoints
        if t.kind is TimepointKind.AT
        and t.offset_minutes is not None
        and abs(t.offset_minutes - ESKETAMINE_BP_CHECK_MINUTES) <= ESKETAMINE_BP_CHECK_SLACK
    ]
    problems: list[Problem] = []
    for found, when in (
        (pre, "before the dose"),
        (near_40, "about 40 minutes after the dose"),
        (discharge, "before discharge"),
    ):
        if not any(bp <= set(t.measurements) for t in found):
            problems.append(
                Problem(
                    "checklist.timepoints",
                    f"The esketamine label requires blood pressure {when}.",
                )
            )
    return problems


def _pre_dose_flag_problems(checklist: ChecklistTemplate) -> list[Problem]:
    """A pre-dose hold at no more than the label's 140/90."""
    problems: list[Problem] = []
    for measurement, limit in (
        (Measurement.SYSTOLIC_BP, ESKETAMINE_PRE_DOSE_SYSTOLIC),
        (Measurement.DIASTOLIC_BP, ESKETAMINE_PRE_DOSE_DIASTOLIC),
    ):
        if not any(
            t.measurement is measurement
            and t.action is AlertAction.PRE_DOSE_HOLD
            and t.phase is ThresholdPhase.PRE_DOSE
            and t.high is not None
            and t.high <= limit
            for t in checklist.thresholds
        ):
            problems.append(
                Problem(
                    "checklist.thresholds",
                    f"The esketamine label flags a pre-dose {measurement.info.display.lower()} "
                    f"above {limit} mmHg for the prescriber's decision: add a pre_dose_hold "
                    f"threshold with high at most {limit}.",
                )
            )
    return problems
