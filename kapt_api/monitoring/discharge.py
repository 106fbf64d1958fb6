"""Discharge: the patient leaves only when the minimum monitoring time has passed, every
required timepoint is recorded, the last readings are within range (or a prescriber
overrides, saying why) and the discharge checklist is confirmed (DOMAIN.md §1.4, §2.6)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from kapt_api.auth import audit
from kapt_api.db import db
from kapt_api.errors import Conflict, InvalidInput, RuleRefused, Violation
from kapt_api.monitoring import policy, rems_rules, rules
from kapt_api.monitoring.models import MonitoringSession
from kapt_api.monitoring.service import (
    RESOURCE,
    care_team,
    current_readings,
    facts_of,
    occurrences,
    template_of,
)
from kapt_api.patients.policy import Caller


def sign_discharge(
    *,
    session: MonitoringSession,
    confirmed: Sequence[str],
    by: Caller,
    now: datetime,
    override_reason: str | None = None,
    adverse_events: Mapping[str, bool] | None = None,
    ready_to_leave_minutes: int | None = None,
) -> MonitoringSession:
    """Let the patient leave, or refuse naming everything still missing."""
    if session.discharged_at is not None:
        raise Conflict("This patient has already been discharged.", code="already_discharged")
    if ready_to_leave_minutes is not None and (
        late := rems_rules.ready_to_leave_problems(
            ready_to_leave_minutes, first_device_at=session.first_device_at, now=now
        )
    ):
        raise InvalidInput({"ready_to_leave_minutes": late})
    if override_reason is not None:
        policy.ensure_prescriber(by, care_team(session), "discharge with readings out of range")
    violations = _checklist_violations(
        session, confirmed, overridden=override_reason is not None, now=now
    )
    if session.rems_required:
        violations += _rems_discharge_violations(session, adverse_events, ready_to_leave_minutes)
    if violations:
        raise RuleRefused(violations, "The patient cannot be discharged yet.")
    _record_discharge(
        session,
        confirmed=confirmed,
        by=by,
        now=now,
        override_reason=override_reason,
        adverse_events=adverse_events,
        ready_to_leave_minutes=ready_to_leave_minutes,
    )
    return session


def _checklist_violations(
    session: MonitoringSession, confirmed: Sequence[str], *, overridden: bool, now: datetime
) -> list[Violation]:
    template = template_of(session)
    readings = facts_of(current_readings(session))
    facts = rules.DischargeFacts(
        dose_started_at=session.dose_started_at,
        occurrences=occurrences(session, now=now),
        latest=rules.latest_values(readings),
        confirmed=frozenset(confirmed),
        overridden=overridden,
    )
    return rules.discharge_violations(template, facts, now=now)


def _record_discharge(
    session: MonitoringSession,
    *,
    confirmed: Sequence[str],
    by: Caller,
    now: datetime,
    override_reason: str | None,
    adverse_events: Mapping[str, bool] | None,
    ready_to_leave_minutes: int | None,
) -> None:
    for name, value in (adverse_events or {}).items():
        setattr(session, name, value)
    session.ready_to_leave_minutes = ready_to_leave_minutes
    session.discharged_at = now
    session.discharged_by = by.user_id
    session.discharge_confirmed = sorted(confirmed)
    session.discharge_override_reason = override_reason
    db.session.flush()
    audit.record(
        "discharge",
        RESOURCE,
        session.id,
        patient_id=session.patient_id,
        actor_id=by.user_id,
        reason=override_reason,
    )


def _rems_discharge_violations(
    session: MonitoringSession,
    adverse_events: Mapping[str, bool] | None,
    ready_to_leave_minutes: int | None,
) -> list[Violation]:
    # The REMS form asks these of every esketamine session (DOMAIN.md §1.2).
    found = []
    if session.first_device_at is None or session.dose_mg is None or not session.lot_number:
        found.append(
            Violation(
                "administration_missing",
                "Record the first device's time, the devices, the dose and the lot number.",
            )
        )
    if adverse_events is None:
        found.append(
            Violation(
                "adverse_events_missing",
                "Say whether sedation, dissociation, respiratory depression or a blood "
                "pressure increase occurred.",
            )
        )
    if ready_to_leave_minutes is None:
        found.append(
            Violation(
                "rems_evaluation_missing",
                "Say when, without the 2-hour minimum, the patient would have been ready to "
                "leave (ready_to_leave_minutes, from the first device).",
            )
        )
    return found
