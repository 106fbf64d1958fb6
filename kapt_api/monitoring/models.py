"""A dosing session's monitoring record, its readings and the alerts they raise.

Readings are append-only (DESIGN.md): a correction is a new row that supersedes the
earlier one, with who and why; an update of a stored reading is refused.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, event
from sqlalchemy.orm import Mapped, mapped_column

from kapt_api import clock
from kapt_api.db import Base, IdMixin


class AlertKind(StrEnum):
    THRESHOLD = "threshold"
    PRE_DOSE_HOLD = "pre_dose_hold"
    OVERDUE = "overdue"
    REMS_FORM_OVERDUE = "rems_form_overdue"
    SELF_HARM_ANSWER = "self_harm_answer"
    INTEGRATION_NOT_BOOKED = "integration_not_booked"
    # A booked dose flagged (preparation_incomplete, integration_missing) because a
    # session it depended on was cancelled or marked a no-show.
    DOSE_NOT_READY = "dose_not_ready"


class AlertStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"


class MonitoringSession(IdMixin, Base):
    """The checklist of one dosing appointment, taken from the course's protocol version
    at check-in, with the dose, the hold decision, the discharge and the REMS form."""

    __tablename__ = "monitoring_sessions"

    appointment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("appointments.id", ondelete="CASCADE"), unique=True
    )
    course_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("courses.id"), index=True)
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"), index=True)
    clinic_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clinics.id"), index=True)
    protocol_version_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("protocol_versions.id"))
    rems_required: Mapped[bool] = mapped_column(default=False)
    checked_in_at: Mapped[datetime]
    dose_started_at: Mapped[datetime | None]
    held: Mapped[bool] = mapped_column(default=False)
    hold_reason: Mapped[str | None] = mapped_column(Text)
    hold_override_reason: Mapped[str | None] = mapped_column(Text)
    hold_override_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    hold_override_at: Mapped[datetime | None]
    # Esketamine administration (DOMAIN.md §1.2).
    first_device_at: Mapped[datetime | None]
    devices: Mapped[int | None]
    # Each device's time, in order, as ISO 8601 UTC strings (the first is first_device_at).
    device_times: Mapped[list[str] | None] = mapped_column(JSON)
    # The form's yes/no for each medicine class that may sedate or move blood pressure.
    concomitant_medications: Mapped[dict[str, bool] | None] = mapped_column(JSON)
    dose_mg: Mapped[int | None]
    lot_number: Mapped[str | None] = mapped_column(String(60))
    sedation: Mapped[bool | None]
    dissociation: Mapped[bool | None]
    respiratory_depression: Mapped[bool | None]
    bp_increase: Mapped[bool | None]
    # The REMS evaluation question: without the 2-hour minimum, minutes from the first
    # device until the patient would have been ready to leave.
    ready_to_leave_minutes: Mapped[int | None]
    discharged_at: Mapped[datetime | None]
    discharged_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    discharge_confirmed: Mapped[list[str] | None] = mapped_column(JSON)
    discharge_override_reason: Mapped[str | None] = mapped_column(Text)
    rems_submitted_at: Mapped[datetime | None]
    rems_submitted_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))

    @property
    def hold_open(self) -> bool:
        return hold_stands(self.held, self.hold_override_at)


def hold_stands(held: bool, overridden_at: datetime | None) -> bool:
    """A session's hold is open until someone overrides it (also read from bare rows)."""
    return held and overridden_at is None


class Reading(IdMixin, Base):
    """Values measured at one moment, for a checklist timepoint or ad hoc."""

    __tablename__ = "monitoring_readings"

    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("monitoring_sessions.id", ondelete="CASCADE"), index=True
    )
    timepoint: Mapped[str | None] = mapped_column(String(60))
    # For a repeating timepoint, which occurrence (minutes after the dose start).
    slot_minutes: Mapped[int | None]
    measured_at: Mapped[datetime]
    values: Mapped[dict[str, Any]] = mapped_column(JSON)
    note: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=lambda: clock.now())
    supersedes_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("monitoring_readings.id"), unique=True
    )
    correction_reason: Mapped[str | None] = mapped_column(Text)


@event.listens_for(Reading, "before_update")
def _readings_are_append_only(_mapper: Any, _connection: Any, _target: Reading) -> None:
    raise RuntimeError("readings are append-only: record a correction instead")


class Alert(IdMixin, Base):
    """Something a clinician must look at: a threshold crossed, a hold, a timepoint left
    unrecorded, a REMS form late, a self-harm answer. `key` makes raising idempotent."""

    __tablename__ = "monitoring_alerts"

    key: Mapped[str] = mapped_column(String(200), unique=True)
    clinic_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clinics.id"), index=True)
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"), index=True)
    course_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("courses.id"))
    session_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("monitoring_sessions.id", ondelete="CASCADE"), index=True
    )
    reading_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("monitoring_readings.id"))
    kind: Mapped[str] = mapped_column(String(30))
    severity: Mapped[str] = mapped_column(String(20))
    measurement: Mapped[str | None] = mapped_column(String(30))
    message: Mapped[str] = mapped_column(Text)
    raised_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(20), default=AlertStatus.OPEN.value, index=True)
    acknowledged_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    acknowledged_at: Mapped[datetime | None]
    acknowledgement_note: Mapped[str | None] = mapped_column(Text)
