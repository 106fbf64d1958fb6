"""One questionnaire's answers (PHQ-9, GAD-7) for a course, with the derived total."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from kapt_api import clock
from kapt_api.db import Base, IdMixin


class OutcomeMeasure(IdMixin, Base):
    __tablename__ = "outcome_measures"
    __table_args__ = (
        CheckConstraint("instrument IN ('phq9', 'gad7')", name="instrument_known"),
        CheckConstraint("total >= 0 AND total <= 27", name="total_in_range"),
        Index("ix_outcome_measures_course_measured", "course_id", "measured_at"),
    )

    course_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("courses.id"))
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"), index=True)
    clinic_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clinics.id"))
    appointment_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("appointments.id"))
    instrument: Mapped[str] = mapped_column(String(10))
    items: Mapped[list[int]] = mapped_column(JSON)
    total: Mapped[int]
    measured_at: Mapped[datetime]
    recorded_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=lambda: clock.now())
