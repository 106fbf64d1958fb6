"""A booking rule overridden, and every change to an appointment audited.

Only administrators and prescribers override, only rules that may be overridden
(rules.NOT_OVERRIDABLE), and always with a reason: the appointment keeps which rules,
why and who, and the audit log keeps the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kapt_api.auth import audit
from kapt_api.errors import InvalidInput
from kapt_api.patients.policy import Caller
from kapt_api.scheduling.booking import policy as booking_policy
from kapt_api.scheduling.booking import rules
from kapt_api.scheduling.booking.models import Appointment
from kapt_api.scheduling.booking.queries import RESOURCE
from kapt_api.scheduling.courses import policy as course_policy


def refuse_override_unless_allowed(by: Caller, override: Mapping[str, Any] | None) -> None:
    """Only admins and prescribers override, and only rules that may be overridden."""
    if override is None:
        return
    course_policy.ensure(
        booking_policy.can_override(by),
        "Only administrators and prescribers may override a booking rule.",
    )
    problems = rules.override_problems(override["rules"])
    if problems:
        raise InvalidInput({"override.rules": problems})


def audit_change(
    appointment: Appointment, by: Caller, action: str, reason: str | None = None
) -> None:
    audit.record(
        action,
        RESOURCE,
        appointment.id,
        patient_id=appointment.patient_id,
        actor_id=by.user_id,
        reason=reason[:500] if reason else None,
    )


def set_override(
    appointment: Appointment, decision: rules.Decision, override: Mapping[str, Any], by: Caller
) -> None:
    appointment.override_rules = decision.overridden_rules
    appointment.override_reason = override["reason"]
    appointment.override_by = by.user_id


def audit_override(
    appointment: Appointment, decision: rules.Decision, reason: str, by: Caller
) -> None:
    audit_change(appointment, by, "override", f"{', '.join(decision.overridden_rules)}: {reason}")


def keep_check_in_override(
    appointment: Appointment, decision: rules.Decision, reason: str, by: Caller
) -> None:
    """The rules overridden at check-in join the appointment's override; a booking's
    reason stays, the check-in's follows it."""
    overridden = decision.overridden_rules
    if appointment.override_rules is None or appointment.override_reason is None:
        appointment.override_rules, appointment.override_reason = overridden, reason
    else:
        appointment.override_rules = sorted({*appointment.override_rules, *overridden})
        appointment.override_reason = f"{appointment.override_reason}\nAt check-in: {reason}"
    appointment.override_by = by.user_id
