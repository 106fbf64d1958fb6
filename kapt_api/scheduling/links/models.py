"""A patient link: the hash of its token (the token itself is never stored, so a copy
of the database opens no link), what it is for, and until when.

A link serves one purpose on one subject: an appointment (the reminder's), or a
waitlist offer (the offer message's); either's deletion takes the link with it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from kapt_api import clock
from kapt_api.db import Base, IdMixin
from kapt_api.scheduling.courses.models import one_of


class LinkPurpose(StrEnum):
    APPOINTMENT = "appointment"
    OFFER = "offer"


class PatientLink(IdMixin, Base):
    """One link sent to a patient; `used_at` is set when its last action spent it."""

    __tablename__ = "patient_links"
    __table_args__ = (
        CheckConstraint(one_of("purpose", LinkPurpose), name="purpose_known"),
        CheckConstraint(
            "(purpose = 'appointment' AND appointment_id IS NOT NULL AND offer_id IS NULL)"
            " OR (purpose = 'offer' AND offer_id IS NOT NULL)",
            name="one_subject",
        ),
    )

    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    purpose: Mapped[str] = mapped_column(String(20))
    appointment_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("appointments.id", ondelete="CASCADE"), index=True
    )
    offer_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("waitlist_offers.id", ondelete="CASCADE"), index=True
    )
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    clinic_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clinics.id"))
    created_at: Mapped[datetime] = mapped_column(default=lambda: clock.now())
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    used_for: Mapped[str | None] = mapped_column(String(20))
