"""A demo dose's monitoring checklist as its clinician works through it: the baseline
before the dose, each timepoint's readings when it falls due, the esketamine REMS
record (devices, dose, lot) and form, any reading a story adds by hand, discharge once
the minimum monitoring time has passed, and the prescriber acknowledging an alert."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import select

from kapt_api.db import db
from kapt_api.demo import vitals
from kapt_api.demo.plans import MINUTE, Story, Visit
from kapt_api.demo.replay import Timeline
from kapt_api.monitoring import alerts, rems
from kapt_api.monitoring import discharge as discharging
from kapt_api.monitoring import service as monitoring
from kapt_api.monitoring.models import Alert, AlertStatus, MonitoringSession
from kapt_api.monitoring.rems_rules import FORM_MEDICATIONS, MG_PER_DEVICE, OTHER_MEDICATIONS
from kapt_api.patients.policy import Caller
from kapt_api.protocols.definition import READINGS_WITHIN_RANGE, TimepointKind
from kapt_api.scheduling.booking.models import Appointment

DEVICES = 2  # 56 mg of esketamine: two devices, five minutes apart
LOT = "CG-DEMO-0417"
BASELINE_BEFORE = 5  # minutes before the dose
DISCHARGE_AFTER = 5  # minutes past the minimum monitoring time
ACKNOWLEDGED_AFTER = 20  # minutes after the reading that raised it
Who = Callable[[str], Caller]


def plan(
    timeline: Timeline, who: Who, lead: str, story: Story, visit: Visit, appointment: Appointment
) -> None:
    """Put the dose's checklist on the timeline, from the appointment's start; `lead` is
    the clinician who takes the readings, `who` gives each staff member's caller."""
    assert story.course is not None
    at, ident, start = timeline.at, appointment.id, appointment.starts_at
    template = story.course.definition.checklist
    minimum = template.min_monitoring_minutes
    if story.esketamine:
        at(start + 6 * MINUTE, partial(_administer, who, ident, lead, start))
    for point in template.timepoints:
        for offset, minute in _moments(point.kind, point.due_offsets(minimum), minimum):
            values = vitals.reading_values(visit.vitals, point, minute)
            at(start + offset, partial(_read, who, ident, lead, point.key, values))
    for extra in visit.ad_hoc:
        values = vitals.ad_hoc_values(extra.values)
        when = start + extra.minute * MINUTE
        at(when, partial(_read, who, ident, lead, None, values, note=extra.note))
    if visit.acknowledge:
        for minute in sorted({m for _key, m in visit.vitals.set_by_hand if m is not None}):
            when = start + (minute + ACKNOWLEDGED_AFTER) * MINUTE
            at(when, partial(_acknowledge, who, ident, visit.acknowledge))
    done = start + (minimum + DISCHARGE_AFTER) * MINUTE
    at(done, partial(_discharge, who, ident, lead, story.esketamine))
    if story.esketamine:
        at(done + 10 * MINUTE, partial(_submit_rems, who, ident))


def _moments(
    kind: TimepointKind, offsets: tuple[int, ...], minimum: int
) -> list[tuple[timedelta, int | None]]:
    """When a timepoint's readings are taken, from the dose start, with the minute."""
    if kind is TimepointKind.PRE_DOSE:
        return [(-BASELINE_BEFORE * MINUTE, None)]
    if kind is TimepointKind.BEFORE_DISCHARGE:
        return [((minimum + 2) * MINUTE, None)]
    return [(m * MINUTE, m) for m in offsets]


def _session(who: Who, ident: uuid.UUID, key: str) -> MonitoringSession:
    return monitoring.find_session(appointment_id=ident, by=who(key), action="update")


def _read(
    who: Who,
    ident: uuid.UUID,
    key: str,
    timepoint: str | None,
    values: list[dict[str, Any]],
    now: datetime,
    note: str | None = None,
) -> None:
    monitoring.record_reading(
        session=_session(who, ident, key),
        measured_at=now,
        values=values,
        by=who(key),
        now=now,
        timepoint=timepoint,
        note=note,
    )


def _administer(who: Who, ident: uuid.UUID, key: str, first: datetime, now: datetime) -> None:
    rems.record_administration(
        session=_session(who, ident, key),
        first_device_at=first,
        devices=DEVICES,
        device_times=[first + 5 * n * MINUTE for n in range(DEVICES)],
        dose_mg=DEVICES * MG_PER_DEVICE,
        lot_number=LOT,
        concomitant_medications=dict.fromkeys((*FORM_MEDICATIONS, *OTHER_MEDICATIONS), False),
        by=who(key),
        now=now,
    )


def _acknowledge(who: Who, ident: uuid.UUID, note: str, now: datetime) -> None:
    session = _session(who, ident, "reyes")
    raised = select(Alert.id).where(
        Alert.session_id == session.id, Alert.status == AlertStatus.OPEN.value
    )
    for alert_id in list(db.session.scalars(raised)):
        alerts.acknowledge(alert_id=alert_id, note=note, by=who("reyes"), now=now)


def _discharge(who: Who, ident: uuid.UUID, key: str, esketamine: bool, now: datetime) -> None:
    session = _session(who, ident, key)
    criteria = monitoring.template_of(session).discharge_criteria
    extra: dict[str, Any] = {}
    if esketamine:  # the REMS form's questions, asked at discharge
        extra["adverse_events"] = {
            "sedation": False,
            "dissociation": True,
            "respiratory_depression": False,
            "bp_increase": False,
        }
        extra["ready_to_leave_minutes"] = 100
    discharging.sign_discharge(
        session=session,
        confirmed=[c.key for c in criteria if c.key != READINGS_WITHIN_RANGE],
        by=who(key),
        now=now,
        **extra,
    )


def _submit_rems(who: Who, ident: uuid.UUID, now: datetime) -> None:
    rems.submit(session=_session(who, ident, "reyes"), by=who("reyes"), now=now)
