"""Patients: contact details, reminder channel and consent, and their care team.

Contact fields are what a front desk needs; the clinical fields are seen only by
the patient's care team (patients/policy.py).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import ForeignKey, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kapt_api.clinics.models import StaffMember
from kapt_api.db import Base, IdMixin, TimestampMixin


class ReminderChannel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    NONE = "none"


class Sex(StrEnum):
    """As the esketamine REMS Patient Monitoring Form asks it (DOMAIN.md §1.2)."""

    FEMALE = "female"
    MALE = "male"
    OTHER = "other"


class Patient(IdMixin, TimestampMixin, Base):
    __tablename__ = "patients"

    clinic_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clinics.id"), index=True)
    given_name: Mapped[str] = mapped_column(String(100))
    family_name: Mapped[str] = mapped_column(String(100))
    date_of_birth: Mapped[date]
    sex: Mapped[str | None] = mapped_column(String(10))
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(16))
    time_zone: Mapped[str] = mapped_column(String(64))
    preferred_reminder_channel: Mapped[str] = mapped_column(
        String(10), default=ReminderChannel.EMAIL.value
    )
    # TCPA: texts only to a number the patient gave, with consent recorded and revocable.
    sms_opt_in: Mapped[bool] = mapped_column(default=False)
    sms_opt_in_at: Mapped[datetime | None]
    sms_opt_out_at: Mapped[datetime | None]
    active: Mapped[bool] = mapped_column(default=True)

    # Clinical fields (care team only).
    rems_enrolled: Mapped[bool] = mapped_column(default=False)
    rems_enrolled_on: Mapped[date | None]
    weight_kg: Mapped[Decimal | None] = mapped_column(Numeric(5, 1))
    allergies: Mapped[str | None] = mapped_column(Text)
    concomitant_medications: Mapped[str | None] = mapped_column(Text)
    clinical_notes: Mapped[str | None] = mapped_column(Text)

    care_team: Mapped[list[CareTeamMember]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", back_populates="patient"
    )

    @property
    def care_team_ids(self) -> list[uuid.UUID]:
        """Staff ids in a stable order, so the same team always reads (and hashes) the same."""
        return sorted(member.staff_id for member in self.care_team)


class CareTeamMember(Base):
    __tablename__ = "care_team_members"

    patient_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), primary_key=True
    )
    staff_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("staff_members.id"), primary_key=True, index=True
    )
    patient: Mapped[Patient] = relationship(back_populates="care_team")
    staff: Mapped[StaffMember] = relationship(lazy="joined")
